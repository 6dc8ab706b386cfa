import { type ID, PortLayerError } from '@portlayer/contracts'
import { afterEach, describe, expect, it } from 'vitest'
import type { PortLayerVsphere } from '../src/index.js'
import { HookedGateway, signal } from './support/hooked-gateway.js'
import { vmOf, vmProperties } from './support/inspect.js'
import { useVcsim } from './support/vcsim.js'

// Two backends that share nothing but vSphere (as two processes would): vSphere's changeVersion
// decides which commit wins.

const vcsim = useVcsim()
const backends: PortLayerVsphere[] = []
let owner: PortLayerVsphere | undefined
const created: ID[] = []
const hooks: Array<() => void> = []

async function two(): Promise<[PortLayerVsphere, PortLayerVsphere]> {
  const a = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
  const b = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
  backends.push(a, b)
  owner = a
  return [a, b]
}

afterEach(async () => {
  await vcsim.vc.admin.reset()
  for (const remove of hooks.splice(0)) remove()
  for (const id of created.splice(0)) {
    try {
      await owner?.commit(await owner.setRunState(await owner.getHandle(id), 'stopped'))
      await owner?.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  for (const pl of backends.splice(0)) await pl.close()
})

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (PortLayerError.isInstance(e) ? e.code : String(e)),
  )

describe('two processes, one container', () => {
  it('concurrent starts from the same version: one wins, the other is CONFLICT, the main process runs once', async () => {
    const [a, b] = await two()
    const id = await a.commit(
      await a.setEntryPoint(await a.createContainer('race-start'), '/', '/bin/sleep', '3600'),
    )
    created.push(id)
    const ha = await a.setRunState(await a.getHandle(id), 'running')
    const hb = await b.setRunState(await b.getHandle(id), 'running')
    expect(ha.baseVersion).toBe(hb.baseVersion)
    const results = await Promise.all([outcome(a.commit(ha)), outcome(b.commit(hb))])
    expect(results.sort()).toEqual(['CONFLICT', 'ok'])
    const state = await b.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
  })

  it('concurrent limit changes: exactly one lands, and both processes read the same result', async () => {
    const [a, b] = await two()
    const id = await a.commit(await a.createContainer('race-limits'))
    created.push(id)
    const ha = await a.setLimits(await a.getHandle(id), 301, 1001)
    const hb = await b.setLimits(await b.getHandle(id), 302, 1002)
    const results = await Promise.all([outcome(a.commit(ha)), outcome(b.commit(hb))])
    expect([...results].sort()).toEqual(['CONFLICT', 'ok'])
    const winner = results[0] === 'ok' ? { memoryMb: 301, cpuMhz: 1001 } : { memoryMb: 302, cpuMhz: 1002 }
    expect((await a.getContainerConfig(id)).limits).toEqual(winner)
    expect((await b.getContainerConfig(id)).limits).toEqual(winner)
  })

  it('a container destroyed by one process is NOT_FOUND for the other, which had it cached', async () => {
    const [a, b] = await two()
    const id = await a.commit(await a.createContainer('race-destroy'))
    const h = await b.getHandle(id)
    await a.destroyContainer(id)
    expect(await outcome(b.getContainerConfig(id))).toBe('NOT_FOUND')
    expect(await outcome(b.commit(await b.setLimits(h, 300, 300)))).toBe('NOT_FOUND')
    expect(await b.listContainers()).not.toContain(id)
  })
})

async function runningContainer(pl: PortLayerVsphere, seconds = '3600'): Promise<ID> {
  const h = await pl.setEntryPoint(await pl.createContainer('race-run'), '/', '/bin/sleep', seconds)
  const id = await pl.commit(await pl.setRunState(h, 'running'))
  created.push(id)
  return id
}

describe('exit recording against concurrent work', () => {
  it('a second stop committed while the first is under way waits for it and keeps the exit it recorded', async () => {
    const hookedA = new HookedGateway(vcsim.gateway)
    const a = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 }, hookedA)
    const b = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
    backends.push(a, b)
    owner = a
    const id = await runningContainer(a)
    const stopA = await a.setRunState(await a.getHandle(id), 'stopped')
    let stopB: Promise<string> | undefined
    let bDoneEarly = false
    // B takes its handle and commits its stop after A's stop was configured, before A's SIGTERM.
    hooks.push(
      hookedA.intercept('StartProgramInGuest', async (_args, forward) => {
        if (!stopB) {
          const h = await b.setRunState(await b.getHandle(id), 'stopped')
          stopB = outcome(b.commit(h)).then((r) => {
            bDoneEarly = aDone === false
            return r
          })
          // B's commit is waiting for A's stop now; give it time to (wrongly) go ahead.
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        return forward()
      }),
    )
    let aDone = false
    expect(await outcome(a.commit(stopA))).toBe('ok')
    aDone = true
    expect(await stopB).toBe('ok')
    expect(bDoneEarly, 'B finished before A').toBe(false)
    const state = await a.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })
  })

  it('a read that finishes a stop still under way: the stop succeeds and the recorded exit is the guest’s', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const a = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 }, hooked)
    const b = await vcsim.backend({ exitPollIntervalMs: 0 })
    backends.push(a, b)
    owner = a
    const id = await runningContainer(a)
    const stopA = await a.setRunState(await a.getHandle(id), 'stopped')
    let read: Awaited<ReturnType<typeof b.getContainerState>> | undefined
    // After A's SIGTERM and before A looks at the guest, B reads the container: it sees the main
    // process gone, records the exit and powers the VM off.
    hooks.push(
      hooked.intercept('ListProcessesInGuest', async (_args, forward) => {
        read ??= await b.getContainerState(id)
        return forward()
      }),
    )
    expect(await outcome(a.commit(stopA))).toBe('ok')
    expect(read?.status).toBe('stopped')
    expect(read?.mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })
    expect((await a.getContainerState(id)).mainProcess).toEqual(read?.mainProcess)
  })

  it('the exit poll never powers off a run that started after the poll read the container', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const p = await vcsim.backend({ exitPollIntervalMs: 50, stopGracePeriodMs: 1_000 }, hooked)
    const q = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
    backends.push(p, q)
    owner = q
    const id = await runningContainer(p) // p's poll watches it
    const nextRound = signal()
    let armed = true
    hooks.push(
      hooked.intercept('RetrievePropertiesEx', async (args, forward) => {
        if (!args.specSet[0]?.reportMissingObjectsInResults) return forward()
        if (!armed) {
          nextRound.resolve() // the round that read the container is over
          return forward()
        }
        armed = false
        // Another client stops it, but the power-off fails: the end is recorded, the VM still on
        // (the stop has happened, so it succeeds).
        await vcsim.vc.admin.failNext('PowerOffVM_Task', 'TaskInProgress')
        expect(await outcome(q.commit(await q.setRunState(await q.getHandle(id), 'stopped')))).toBe('ok')
        const seen = await forward() // the poll's round reads it like that
        // The other client starts it again before the poll acts on what it read.
        const restart = await outcome(q.commit(await q.setRunState(await q.getHandle(id), 'running')))
        expect(restart).toBe('ok')
        return seen
      }),
    )
    // (A poll that wrongly powered it off stops watching it, so there may be no next round.)
    await Promise.race([nextRound.promise, new Promise((resolve) => setTimeout(resolve, 1_500))])
    const state = await q.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
  })

  it('a container whose guest cannot be asked does not keep the exit poll from the others', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const errors: unknown[] = []
    const p = await vcsim.backend(
      { exitPollIntervalMs: 50, stopGracePeriodMs: 1_000, onBackgroundError: (e) => errors.push(e) },
      hooked,
    )
    backends.push(p)
    owner = p
    const broken = await runningContainer(p) // first in the poll's order
    const exiting = await runningContainer(p, '0.3')
    const brokenVm = await vmOf(vcsim.gateway, broken)
    // The broken container's guest refuses every process list (as a guest whose login broke would).
    hooks.push(
      hooked.intercept('ListProcessesInGuest', async (args, forward) => {
        if (args.vm.value === brokenVm.value) {
          throw new PortLayerError('INVALID_ARGUMENT', 'guest login refused', {
            backend: 'vsphere',
            detail: { fault: 'InvalidGuestLogin' },
          })
        }
        return forward()
      }),
    )
    const vm = await vmOf(vcsim.gateway, exiting)
    let power = ''
    for (let i = 0; i < 60 && power !== 'poweredOff'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      power = String(
        (await vmProperties(vcsim.gateway, vm, ['runtime.powerState'])).get('runtime.powerState'),
      )
    }
    expect(power).toBe('poweredOff')
    expect(errors.some((e) => PortLayerError.isInstance(e) && e.target === broken)).toBe(true)
  })

  it('a stop and a destroy another client makes while a start is staged wait for it: the start succeeds, its extension committed; the stop is CONFLICT and the destroy refused', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const hookedB = new HookedGateway(vcsim.gateway)
    const a = await vcsim.backend({ exitPollIntervalMs: 0 }, hooked)
    const b = await vcsim.backend({ exitPollIntervalMs: 0 }, hookedB)
    backends.push(a, b)
    owner = a
    const calls = { committed: 0, rolledBack: 0 }
    a.registerExtension<string, string>({
      namespace: 'test.gone',
      prepare: ({ pending }) => ({
        applied: pending,
        commit: () => {
          calls.committed++
        },
        rollback: () => {
          calls.rolledBack++
        },
      }),
    })
    const id = await a.commit(
      await a.setEntryPoint(await a.createContainer('race-gone'), '/', '/bin/sleep', '3600'),
    )
    let h = await a.setRunState(await a.getHandle(id), 'running')
    h = { ...h, pending: { ...h.pending, extensions: { 'test.gone': 'attached' } } }
    // After A's commit is staged, and before its power-on, B stops and then destroys the
    // container; A's power-on goes out once B is waiting (it read the container twice).
    let bDone: Promise<string[]> = Promise.resolve([])
    hooks.push(
      hooked.intercept('PowerOnVM_Task', async (_args, forward) => {
        const stop = await b.setRunState(await b.getHandle(id), 'stopped')
        const bWaiting = signal()
        let reads = 0
        hooks.push(
          hookedB.intercept('RetrievePropertiesEx', (_a, f) => {
            if (++reads === 2) bWaiting.resolve()
            return f()
          }),
        )
        bDone = (async () => [await outcome(b.commit(stop)), await outcome(b.destroyContainer(id))])()
        await bWaiting.promise
        return forward()
      }),
    )
    expect(await outcome(a.commit(h))).toBe('ok')
    expect(calls).toEqual({ committed: 1, rolledBack: 0 })
    expect(await bDone).toEqual(['CONFLICT', 'INVALID_STATE'])
    expect((await a.getContainerState(id)).mainProcess?.status).toBe('started')
  })
})
