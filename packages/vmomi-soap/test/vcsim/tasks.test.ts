import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { failure } from '../support/failure.js'
import { createVm, find, property, run } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

describe('tasks and lost responses', () => {
  const vcsim = useVcsim()
  let gw: SoapGateway
  beforeAll(async () => {
    gw = await connect(vcsim(), { retryDelayMs: 10 })
  })
  afterAll(async () => {
    await gw.close()
  })
  afterEach(async () => {
    await vcsim().admin.reset()
  })

  it('waits for tasks and returns their normalised info', async () => {
    const vm = await createVm(gw, 'tasks-lifecycle', 48)
    expect(vm.type).toBe('VirtualMachine')
    const power = await gw.call('PowerOnVM_Task', { _this: vm })
    const info = await gw.waitForTask(power)
    expect(info).toMatchObject({ state: 'success', task: power, entity: vm })
    expect(info.completeTime).toBeInstanceOf(Date)
    expect(info.cancelled).toBe(false)
    expect((info as { _type?: string })._type).toBeUndefined()
    expect(await property(gw, vm, 'runtime.powerState')).toBe('poweredOn')
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('aborting a task wait cancels the task', async () => {
    const vm = await createVm(gw, 'tasks-abort')
    const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'slow' } })
    // The harness runs tasks at once, so the wait is held up by slowing its polls.
    await vcsim().admin.delay('RetrievePropertiesEx', 3_000)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 150)
    const before = (await vcsim().admin.calls()).CancelTask ?? 0
    const error = await failure(gw.waitForTask(task, { signal: controller.signal }))
    expect(error.code).toBe('CANCELLED')
    expect(error.detail).toMatchObject({ aborted: true, task, method: 'ReconfigVM_Task' })
    expect(typeof error.detail?.cancelRequested).toBe('boolean')
    expect((await vcsim().admin.calls()).CancelTask).toBe(before + 1)
    await vcsim().admin.delay('RetrievePropertiesEx', 0)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a task wait past its deadline cancels the task too', async () => {
    const vm = await createVm(gw, 'tasks-deadline')
    const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'late' } })
    await vcsim().admin.delay('RetrievePropertiesEx', 3_000)
    const error = await failure(gw.waitForTask(task, { timeoutMs: 200 }))
    expect(error.code).toBe('TIMEOUT')
    expect(error.detail).toMatchObject({ timeoutMs: 200, task })
    expect((await vcsim().admin.calls()).CancelTask).toBe(1)
    await vcsim().admin.delay('RetrievePropertiesEx', 0)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('gives up a task poll that stalls past the call deadline and polls again', async () => {
    const quick = await connect(vcsim(), { timeoutMs: 300 })
    try {
      const vm = await createVm(quick, 'tasks-stalled-poll')
      const task = await quick.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'stalled' } })
      await vcsim().admin.delay('RetrievePropertiesEx', 5_000)
      const started = Date.now()
      const waiting = quick.waitForTask(task)
      // The first poll is held up; the next one is not.
      await new Promise((r) => setTimeout(r, 100))
      await vcsim().admin.delay('RetrievePropertiesEx', 0)
      expect(await waiting).toMatchObject({ state: 'success', task })
      expect(Date.now() - started).toBeLessThan(2_000)
      expect((await vcsim().admin.calls()).CancelTask ?? 0).toBe(0)
      await run(quick, quick.call('Destroy_Task', { _this: vm }))
    } finally {
      await quick.close()
    }
  })

  it('a non-idempotent call whose response is lost is UNAVAILABLE and not sent again', async () => {
    const [folder, pool] = await Promise.all([find(gw, 'DC0/vm'), find(gw, 'DC0/host/DC0_C0/Resources')])
    await vcsim().admin.dropResponse('CreateVM_Task')
    const retries = gw.stats().retries
    const error = await failure(
      gw.call('CreateVM_Task', {
        _this: folder,
        config: {
          name: 'tasks-dropped',
          guestId: 'otherGuest',
          memoryMB: 32,
          files: { vmPathName: '[LocalDS_0]' },
        },
        pool,
      }),
    )
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail).toMatchObject({ method: 'CreateVM_Task' })
    expect(error.detail?.network).toBeDefined()
    expect((await vcsim().admin.calls()).CreateVM_Task).toBe(1)
    expect(gw.stats().retries).toBe(retries)
    // The call was applied all the same: exactly one VM exists.
    const vm = await find(gw, 'DC0/vm/tasks-dropped')
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a read whose response is lost is sent again, a bounded number of times', async () => {
    const admin = vcsim().admin
    await admin.dropResponse('FindByInventoryPath')
    const retries = gw.stats().retries
    expect(await find(gw, 'DC0/vm')).toMatchObject({ type: 'Folder' })
    expect((await admin.calls()).FindByInventoryPath).toBe(2)
    expect(gw.stats().retries).toBe(retries + 1)

    await admin.reset()
    await admin.dropResponse('FindByInventoryPath', 10)
    const error = await failure(find(gw, 'DC0/vm'))
    expect(error.code).toBe('UNAVAILABLE')
    // One attempt plus the default two retries.
    expect((await admin.calls()).FindByInventoryPath).toBe(3)
  })
})
