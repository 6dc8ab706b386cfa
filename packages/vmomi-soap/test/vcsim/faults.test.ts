import { CancelledError } from '@portlayer/contracts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { failure } from '../support/failure.js'
import { createVm, find, property, run, SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

describe('faults against the harness', () => {
  const vcsim = useVcsim()
  let gw: SoapGateway
  beforeAll(async () => {
    gw = await connect(vcsim(), { retries: 0 })
  })
  afterAll(async () => {
    await gw.close()
  })
  afterEach(async () => {
    await vcsim().admin.reset()
  })

  it.each([
    ['ManagedObjectNotFound', 'NOT_FOUND'],
    ['ConcurrentAccess', 'CONFLICT'],
    ['InvalidPowerState', 'INVALID_STATE'],
    ['InvalidState', 'INVALID_STATE'],
    ['InvalidArgument', 'INVALID_ARGUMENT'],
    ['MethodNotFound', 'UNSUPPORTED'],
    ['SystemError', 'UNAVAILABLE'],
  ])('an injected %s fault becomes %s with the fault name kept', async (fault, code) => {
    await vcsim().admin.failNext('FindByInventoryPath', fault)
    const error = await failure(
      gw.call('FindByInventoryPath', { _this: gw.serviceContent.searchIndex, inventoryPath: 'DC0/vm' }),
    )
    expect(error.code).toBe(code)
    expect(error.backend).toBe('vsphere')
    expect(error.detail).toMatchObject({
      fault,
      method: 'FindByInventoryPath',
      object: gw.serviceContent.searchIndex,
    })
    expect(error.message).toContain(fault)
  })

  it('a lost session that cannot be restored is UNAVAILABLE', async () => {
    await vcsim().admin.failNext('FindByInventoryPath', 'NotAuthenticated', 2)
    const error = await failure(
      gw.call('FindByInventoryPath', { _this: gw.serviceContent.searchIndex, inventoryPath: 'DC0/vm' }),
    )
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail?.fault).toBe('NotAuthenticated')
  })

  it('a bogus reference is NOT_FOUND (ManagedObjectNotFound)', async () => {
    const bogus = { type: 'VirtualMachine', value: 'vm-does-not-exist' }
    const error = await failure(gw.call('Destroy_Task', { _this: bogus }))
    expect(error.code).toBe('NOT_FOUND')
    expect(error.detail).toMatchObject({ fault: 'ManagedObjectNotFound', object: bogus })
  })

  it('destroying a powered-on VM is INVALID_STATE (InvalidPowerState task fault)', async () => {
    const vm = await createVm(gw, 'faults-powered-on')
    await run(gw, gw.call('PowerOnVM_Task', { _this: vm }))
    const task = await gw.call('Destroy_Task', { _this: vm })
    const error = await failure(gw.waitForTask(task))
    expect(error.code).toBe('INVALID_STATE')
    expect(error.detail).toMatchObject({
      fault: 'InvalidPowerState',
      method: 'Destroy_Task',
      task,
      object: vm,
    })
    expect(error.message).toContain(`task Destroy_Task (${task.value})`)
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a stale changeVersion is CONFLICT (ConcurrentAccess task fault)', async () => {
    const vm = await createVm(gw, 'faults-change-version')
    const version = (await property(gw, vm, 'config.changeVersion')) as string
    expect(version).not.toBe('')
    await run(gw, gw.call('ReconfigVM_Task', { _this: vm, spec: { changeVersion: version, memoryMB: 64 } }))
    const task = await gw.call('ReconfigVM_Task', {
      _this: vm,
      spec: { changeVersion: version, memoryMB: 128 },
    })
    const error = await failure(gw.waitForTask(task))
    expect(error.code).toBe('CONFLICT')
    expect(error.detail).toMatchObject({ fault: 'ConcurrentAccess', method: 'ReconfigVM_Task' })
    expect(await property(gw, vm, 'config.hardware.memoryMB')).toBe(64)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a call past its deadline is TIMEOUT', async () => {
    await vcsim().admin.delay('CurrentTime', 2_000)
    const started = Date.now()
    const error = await failure(gw.call('CurrentTime', { _this: SERVICE_INSTANCE }, { timeoutMs: 150 }))
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(error.code).toBe('TIMEOUT')
    expect(error.detail).toMatchObject({ method: 'CurrentTime', timeoutMs: 150 })
  })

  it("an aborted call is CANCELLED at once, the signal's reason as its cause", async () => {
    await vcsim().admin.delay('CurrentTime', 2_000)
    const controller = new AbortController()
    const reason = new Error('caller gave up')
    setTimeout(() => controller.abort(reason), 100)
    const started = Date.now()
    const error = await failure(
      gw.call('CurrentTime', { _this: SERVICE_INSTANCE }, { signal: controller.signal }),
    )
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.code).toBe('CANCELLED')
    expect(error.detail).toMatchObject({ aborted: true, method: 'CurrentTime' })
    expect(error.cause).toBe(reason)
    // A read changes nothing, whatever reached the server.
    expect(error.outcome).toBe('not-applied')

    const before = gw.stats().requests
    const aborted = AbortSignal.abort()
    const early = await failure(gw.call('CurrentTime', { _this: SERVICE_INSTANCE }, { signal: aborted }))
    expect(early).toMatchObject({ code: 'CANCELLED', outcome: 'not-applied', detail: { sent: false } })
    expect(early.cause).toBe(aborted.reason)
    expect(gw.stats().requests).toBe(before)
  })

  it('a deadline beyond the timer range is a long deadline, not an immediate TIMEOUT', async () => {
    for (const timeoutMs of [2 ** 31, 30 * 24 * 3_600_000, Number.POSITIVE_INFINITY]) {
      expect(await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }, { timeoutMs })).toBeInstanceOf(Date)
    }
    const vm = await createVm(gw, 'faults-long-deadline')
    const task = await gw.call('Destroy_Task', { _this: vm })
    expect(await gw.waitForTask(task, { timeoutMs: 2 ** 32 })).toMatchObject({ state: 'success' })
  })

  it('a deadline that is not a positive number is INVALID_ARGUMENT, and nothing is sent', async () => {
    const before = gw.stats().requests
    for (const timeoutMs of [0, -1, Number.NaN, '100' as unknown as number]) {
      await expect(gw.call('CurrentTime', { _this: SERVICE_INSTANCE }, { timeoutMs })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('timeoutMs'),
      })
      await expect(gw.waitForTask({ type: 'Task', value: 'task-1' }, { timeoutMs })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      })
      await expect(
        gw.transfer({ method: 'GET', url: '/folder/x?dsName=LocalDS_0' }, { timeoutMs }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
    expect(gw.stats().requests).toBe(before)
  })

  it('a bad argument fails before anything is sent', async () => {
    const before = gw.stats().requests
    const error = await failure(
      gw.call('FindByInventoryPath', { _this: gw.serviceContent.searchIndex, inventoryPath: 3 } as never),
    )
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(gw.stats().requests).toBe(before)
    await expect(gw.call('NoSuchMethod' as never, {} as never)).rejects.toMatchObject({ code: 'UNSUPPORTED' })
  })

  it('finds the harness inventory it relies on', async () => {
    expect((await find(gw, 'DC0/host/DC0_C0/Resources')).type).toBe('ResourcePool')
    expect(
      await gw.call('FindByInventoryPath', {
        _this: gw.serviceContent.searchIndex,
        inventoryPath: 'DC0/vm/nope',
      }),
    ).toBeUndefined()
  })
})
