import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { failure } from '../support/failure.js'
import { createVm, property, run } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

// Tasks that are still running at their first look (vCenter's usual case; on the harness through
// its slow tasks) are followed through one long-lived property collector of the gateway, not
// polled: the calls a wait costs do not grow with how long the task takes, and waits at the same
// time share the collector's WaitForUpdatesEx.

const sum = (counts: Record<string, number>, ...names: string[]) =>
  names.reduce((n, name) => n + (counts[name] ?? 0), 0)

describe('task waits through a long-lived property collector', () => {
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

  it('a task that runs for a while: one look, one filter, one more look, the waits; no polls in between', async () => {
    const vm = await createVm(gw, 'watch-slow')
    await vcsim().admin.slowTask('PowerOnVM_Task', 1_500)
    const task = await gw.call('PowerOnVM_Task', { _this: vm })
    await vcsim().admin.reset() // counts from here
    const info = await gw.waitForTask(task)
    expect(info).toMatchObject({ state: 'success', task, entity: vm })
    expect(await property(gw, vm, 'runtime.powerState')).toBe('poweredOn')
    const calls = await vcsim().admin.calls()
    // The property read above, and the wait's two looks at the task.
    expect(calls.RetrievePropertiesEx).toBe(3)
    expect(calls.CreateFilter).toBe(1)
    // Polling from 25 ms doubling to 1 s would have read the task 6 times by 1.5 s.
    expect(calls.WaitForUpdatesEx).toBeGreaterThanOrEqual(1)
    expect(calls.WaitForUpdatesEx).toBeLessThanOrEqual(3)
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a slow task that fails: its fault, as from a poll (the task ran and failed: not-applied)', async () => {
    const vm = await createVm(gw, 'watch-fails')
    await run(gw, gw.call('PowerOnVM_Task', { _this: vm }))
    await vcsim().admin.slowTask('PowerOnVM_Task', 600)
    const task = await gw.call('PowerOnVM_Task', { _this: vm })
    const error = await failure(gw.waitForTask(task))
    expect(error.detail).toMatchObject({ fault: 'InvalidPowerState', method: 'PowerOnVM_Task', task })
    expect(error.outcome).toBe('not-applied')
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('eight slow tasks at once share the waits: far fewer calls than polling each', async () => {
    const vms = await Promise.all(Array.from({ length: 8 }, (_, i) => createVm(gw, `watch-many-${i}`)))
    await vcsim().admin.slowTask('PowerOnVM_Task', 1_200, 8)
    const tasks = await Promise.all(vms.map((vm) => gw.call('PowerOnVM_Task', { _this: vm })))
    await vcsim().admin.reset()
    const infos = await Promise.all(tasks.map((task) => gw.waitForTask(task)))
    expect(infos.map((i) => i.state)).toEqual(Array(8).fill('success'))
    const calls = await vcsim().admin.calls()
    // Two looks and a filter per task; the waits are the collector's, not the tasks'.
    expect(sum(calls, 'RetrievePropertiesEx')).toBe(16)
    expect(sum(calls, 'CreateFilter')).toBe(8)
    expect(sum(calls, 'WaitForUpdatesEx')).toBeLessThanOrEqual(5)
    for (const vm of vms) {
      await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    }
  })

  it('two callers waiting for the same slow task both learn its end', async () => {
    const vm = await createVm(gw, 'watch-twice')
    await vcsim().admin.slowTask('PowerOnVM_Task', 600)
    const task = await gw.call('PowerOnVM_Task', { _this: vm })
    const [a, b] = await Promise.all([gw.waitForTask(task), gw.waitForTask(task)])
    expect([a.state, b.state]).toEqual(['success', 'success'])
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('aborting a wait through the collector cancels the task, which then did nothing', async () => {
    const vm = await createVm(gw, 'watch-abort')
    await vcsim().admin.slowTask('PowerOnVM_Task', 3_000)
    const task = await gw.call('PowerOnVM_Task', { _this: vm })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const error = await failure(gw.waitForTask(task, { signal: controller.signal }))
    expect(error.code).toBe('CANCELLED')
    expect(error.detail).toMatchObject({ aborted: true, task, cancelRequested: true, taskState: 'error' })
    expect(error.outcome).toBe('not-applied')
    expect(await property(gw, vm, 'runtime.powerState')).toBe('poweredOff')
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a watch that fails (its collector refused) falls back to polling, and the wait still ends', async () => {
    const vm = await createVm(gw, 'watch-refused')
    await vcsim().admin.slowTask('PowerOnVM_Task', 500)
    await vcsim().admin.failNext('WaitForUpdatesEx', 'ManagedObjectNotFound', 5)
    const task = await gw.call('PowerOnVM_Task', { _this: vm })
    const info = await gw.waitForTask(task)
    expect(info.state).toBe('success')
    expect(await property(gw, vm, 'runtime.powerState')).toBe('poweredOn')
    await vcsim().admin.reset()
    // The next slow task gets a collector of its own again.
    await vcsim().admin.slowTask('PowerOffVM_Task', 500)
    const off = await gw.call('PowerOffVM_Task', { _this: vm })
    await vcsim().admin.reset()
    expect((await gw.waitForTask(off)).state).toBe('success')
    const calls = await vcsim().admin.calls()
    expect(calls.CreatePropertyCollector).toBe(1)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })
})
