import type { ID } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { createSoapGateway } from '@portlayer/vmomi-soap'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PortLayerVsphere } from '../src/index.js'
import { CountingGateway } from './support/counting-gateway.js'
import { failure } from './support/failure.js'
import { HookedGateway } from './support/hooked-gateway.js'
import { useVcsim } from './support/vcsim.js'

// vCenter answers a *_Task call at once with a task still running and finishes it later; vcsim
// finishes every task inside the call. The harness's slowTask gives the first kind: here every
// task of a lifecycle runs a few hundred milliseconds after its call has been answered, and the
// backend must still read right at each step — and follow each task through the gateway's
// property-collector watch, not by polling it.

const vcsim = useVcsim()
const text = new TextEncoder()
const decoder = new TextDecoder()

/** The tasks a lifecycle runs, and how long each one runs on the server. */
const SLOWED = {
  CreateVM_Task: 400,
  ReconfigVM_Task: 300,
  PowerOnVM_Task: 400,
  PowerOffVM_Task: 300,
  Destroy_Task: 300,
} as const
/** More than a lifecycle calls any of them, so every call of theirs is slow. */
const PLENTY = 50

let pl: PortLayerVsphere
let counting: CountingGateway
const created: ID[] = []

beforeEach(async () => {
  await vcsim.vc.admin.reset()
  counting = new CountingGateway(vcsim.gateway)
})

afterEach(async () => {
  await vcsim.vc.admin.reset()
  for (const id of created.splice(0)) {
    try {
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
      await pl.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  await pl.close()
})

describe('a lifecycle whose tasks run after their calls were answered', () => {
  it('create, start, exec, stop and destroy read right at each step, each task followed by the watch', async () => {
    pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 2_000 }, counting)
    for (const [method, ms] of Object.entries(SLOWED)) await vcsim.vc.admin.slowTask(method, ms, PLENTY)

    let h = await pl.setEntryPoint(await pl.createContainer('slow-tasks'), '/', '/bin/sleep', '3600')
    h = await pl.setLimits(h, 256, 500)
    h = await pl.copyTo(h, '/etc/app', 'a.conf', 0o644, text.encode('a=1'))
    const id = await pl.commit(h)
    created.push(id)
    expect(await pl.getContainerConfig(id)).toMatchObject({
      name: 'slow-tasks',
      mainProcess: { workDir: '/', execPath: '/bin/sleep', execArgs: '3600' },
      limits: { memoryMb: 256, cpuMhz: 500 },
    })
    expect((await pl.getContainerState(id)).status).toBe('created')

    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    const running = await pl.getContainerState(id)
    expect(running.status).toBe('running')
    expect(running.mainProcess).toMatchObject({ status: 'started' })
    expect(decoder.decode(await pl.copyFrom(id, '/etc/app', 'a.conf'))).toBe('a=1')

    const exec = await pl.execProcess(id, '/', '/bin/sleep', '100')
    expect((await pl.getContainerState(id)).execdProcs).toEqual([
      expect.objectContaining({ processId: exec, status: 'started' }),
    ])

    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
    const stopped = await pl.getContainerState(id)
    expect(stopped.status).toBe('stopped')
    expect(stopped.mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })

    await pl.destroyContainer(id)
    created.splice(0)
    await expect(pl.getContainerConfig(id)).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const atGateway = counting.snapshot()
    const atServer = await vcsim.vc.admin.calls()
    let slowed = 0
    for (const method of Object.keys(SLOWED)) {
      expect(atServer[method], method).toBe(atGateway[method])
      expect(atServer[method], method).toBeLessThan(PLENTY)
      slowed += atServer[method] ?? 0
    }
    // create 1, reconfigure 6 (a start's 2, an exec's 1, a stop's 2, a destroy's 1), power-on,
    // power-off, destroy.
    expect(slowed).toBe(10)
    // The backend waits for each of them once (a power-on read with the tools check falls back
    // to the wait when it finds the task running) ...
    expect(atGateway.waitForTask).toBe(slowed)
    // ... and the gateway, finding each still running at its first look, follows it with a
    // filter of its own on one collector, removed once the task has ended.
    expect(atServer.CreateFilter).toBe(slowed)
    expect(atServer.CreatePropertyCollector ?? 0).toBeLessThanOrEqual(1)
    await vi.waitFor(async () => expect((await vcsim.vc.admin.calls()).DestroyPropertyFilter).toBe(slowed))
    // Two looks at each task (the first, and one once its filter is made) and the backend's own
    // reads; nothing else reads a task. Polled from 25 ms, doubling, each of these tasks would be
    // read about five times.
    expect(atServer.RetrievePropertiesEx).toBe((atGateway.RetrievePropertiesEx ?? 0) + 2 * slowed)
    // About one wait per task (vcsim answers a wait with what changed in 250 ms); a bound that
    // a wait loop spinning on empty answers would break.
    expect(atServer.WaitForUpdatesEx).toBeGreaterThan(0)
    expect(atServer.WaitForUpdatesEx).toBeLessThanOrEqual(3 * slowed)
  }, 30_000)

  it('a start whose power-on is cancelled before it lands (from another session) is not applied: the container stays as it was', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    pl = await vcsim.backend({ exitPollIntervalMs: 0 }, hooked)
    const admin = await createSoapGateway({
      url: vcsim.vc.url,
      username: vcsim.vc.username,
      password: vcsim.vc.password,
    })
    try {
      const id = await pl.commit(
        await pl.setEntryPoint(await pl.createContainer('slow-cancelled'), '/', '/bin/sleep', '3600'),
      )
      created.push(id)
      const before = await pl.getContainerState(id)
      expect(before.status).toBe('created')

      // Long enough that the cancel always comes first; the cancel is sent as soon as the
      // backend has the task, while it looks at it.
      await vcsim.vc.admin.slowTask('PowerOnVM_Task', 60_000)
      let powerOn: MoRef | undefined
      let cancelled: Promise<unknown> = Promise.resolve()
      const stopIntercepting = hooked.intercept('PowerOnVM_Task', async (_args, forward) => {
        powerOn = await forward()
        cancelled = admin.call('CancelTask', { _this: powerOn })
        return powerOn
      })
      const start = await pl.setRunState(await pl.getHandle(id), 'running')
      const error = await failure(pl.commit(start))
      stopIntercepting()
      await cancelled
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        outcome: 'not-applied',
        detail: { fault: 'RequestCanceled', method: 'PowerOnVM_Task' },
      })

      const task = await admin.waitForTask(powerOn as MoRef).catch((e: unknown) => e)
      expect(task).toMatchObject({ code: 'UNAVAILABLE' })
      const after = await pl.getContainerState(id)
      expect(after.status).toBe('created')
      expect(after.mainProcess).toMatchObject({ status: 'not-started', guestPid: 0 })

      // Nothing of the cancelled start is left in the way of the next one.
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
      expect((await pl.getContainerState(id)).mainProcess).toMatchObject({ status: 'started' })
    } finally {
      await admin.close()
    }
  })
})
