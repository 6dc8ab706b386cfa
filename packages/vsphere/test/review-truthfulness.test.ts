import { type ID, PortLayerError } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { afterEach, describe, expect, it } from 'vitest'
import type { PortLayerVsphere, VsphereSettings } from '../src/index.js'
import { HookedGateway, signal } from './support/hooked-gateway.js'
import { vmOf } from './support/inspect.js'
import { useVcsim } from './support/vcsim.js'

// Adversarial review of the outcome promise: sequences of two clients, pinned with hooks on one
// client's gateway so the interleaving happens every time. Each test states what a truthful
// backend must show; an `it.fails` title names what is wrong today.

const vcsim = useVcsim()
const backends: PortLayerVsphere[] = []
const created: ID[] = []
const base: Partial<VsphereSettings> = { exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 }

async function client(
  overrides: Partial<VsphereSettings> = {},
): Promise<{ pl: PortLayerVsphere; hooks: HookedGateway }> {
  const hooks = new HookedGateway(vcsim.gateway)
  const pl = await vcsim.backend({ ...base, ...overrides }, hooks)
  backends.push(pl)
  return { pl, hooks }
}

afterEach(async () => {
  await vcsim.vc.admin.reset()
  const cleaner = await vcsim.backend(base)
  for (const id of created.splice(0)) {
    try {
      await cleaner.commit(await cleaner.setRunState(await cleaner.getHandle(id), 'stopped'))
      await cleaner.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  await cleaner.close()
  for (const pl of backends.splice(0)) await pl.close()
})

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (PortLayerError.isInstance(e) ? `${e.code}/${e.outcome}` : `non-PortLayerError: ${e}`),
  )

/** The guest's processes of container `id`, asked directly (not through the backend). */
async function guestProcesses(id: ID) {
  const gw = vcsim.gateway
  const props = await gw.call('RetrievePropertiesEx', {
    _this: gw.serviceContent.propertyCollector,
    specSet: [
      {
        propSet: [{ type: 'GuestOperationsManager', pathSet: ['processManager'] }],
        objectSet: [{ obj: gw.serviceContent.guestOperationsManager as MoRef, skip: false }],
      },
    ],
    options: {},
  })
  const processManager = props?.objects[0]?.propSet[0]?.val as MoRef
  const list = await gw.call('ListProcessesInGuest', {
    _this: processManager,
    vm: await vmOf(gw, id),
    auth: { _type: 'NamePasswordAuthentication', interactiveSession: false, ...vcsim.vc.guest },
  })
  return list ?? []
}

async function stoppedContainer(pl: PortLayerVsphere, name: string): Promise<ID> {
  const id = await pl.commit(
    await pl.setEntryPoint(await pl.createContainer(name), '/', '/bin/sleep', '3600'),
  )
  created.push(id)
  return id
}

describe('review: destroy against a start', () => {
  it('(found in review, fixed) no longer: a commit gives up waiting for a live destroy after reconcileTimeoutMs, starts the container, and both the start and the destroy resolve (a running container destroyed)', async () => {
    const { pl: a } = await client()
    const id = await stoppedContainer(a, 'review-destroy-start')
    // D destroys; its Destroy_Task is held until C's start has landed (a slow vSphere task).
    const d = await client()
    const c = await client({ reconcileTimeoutMs: 300 })
    const claimed = signal()
    const startLanded = signal()
    d.hooks.intercept('Destroy_Task', async (_args, forward) => {
      claimed.resolve()
      await startLanded.promise
      return forward()
    })
    let destroyDone: Promise<string> = Promise.resolve('not begun')
    c.hooks.intercept('ReconfigVM_Task', async (_args, forward) => {
      const r = await forward()
      // The start's guarded reconfiguration is the commit's only reconfigure before power-on.
      startLanded.resolve()
      return r
    })
    c.hooks.intercept('PowerOnVM_Task', async (_args, forward) => {
      await destroyDone
      return forward()
    })
    destroyDone = outcome(d.pl.destroyContainer(id))
    await claimed.promise
    const start = outcome(c.pl.commit(await c.pl.setRunState(await c.pl.getHandle(id), 'running')))
    const results = { destroy: await destroyDone, start: await start }
    // Linearizable outcomes: destroy first (start NOT_FOUND) or start first (destroy INVALID_STATE).
    expect(results).not.toEqual({ destroy: 'ok', start: 'ok' })
  }, 30_000)
})

describe('review: a not-applied create+start undone under another client’s commit', () => {
  it('(found in review, fixed) no longer: the undo of a failed create+start destroys the VM although another client committed on it meanwhile; that commit resolved, the container is gone', async () => {
    const a = await client()
    const { pl: b } = await client()
    let bResult = 'not run'
    let id: ID | undefined
    a.hooks.intercept('PowerOnVM_Task', async (_args, forward) => {
      // The container exists (its commit took effect when the VM was created): B commits on it.
      bResult = await outcome(
        (async () => b.commit(await b.setLimits(await b.getHandle(id as ID), 512, 1500)))(),
      )
      await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InvalidState')
      return forward()
    })
    let h = await a.pl.createContainer('review-create-undo')
    id = h.containerId
    created.push(id)
    h = await a.pl.setRunState(await a.pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running')
    const aResult = await outcome(a.pl.commit(h))
    expect(bResult).toBe('ok')
    // B's commit resolved, so the container must still exist whatever A says.
    expect(aResult).toBe('ok')
    expect(await outcome(b.getContainerConfig(id))).toBe('ok')
  }, 30_000)
})

describe('review: an undone start seen by another client', () => {
  it('(found in review, fixed) no longer: a reader takes a handle while a start is between its reconfiguration and a refused power-on; the start then says not-applied, the version the reader saw vanishes and its handle is CONFLICT', async () => {
    const a = await client()
    const { pl: b } = await client()
    const id = await stoppedContainer(a.pl, 'review-undo-visible')
    const before = await b.getHandle(id)
    let seen: { status: string; version: string | null } | undefined
    a.hooks.intercept('PowerOnVM_Task', async (_args, forward) => {
      const h = await b.getHandle(id)
      seen = { status: (await b.getContainerState(id)).status, version: h.baseVersion }
      await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InvalidState')
      return forward()
    })
    const e = await outcome(a.pl.commit(await a.pl.setRunState(await a.pl.getHandle(id), 'running')))
    expect(e).toBe('INVALID_STATE/not-applied')
    // Nothing changed, so a reader during the commit saw the container as it was before.
    expect(seen).toEqual({ status: 'created', version: before.baseVersion })
    // …and the handle taken then still commits, on the container as it was.
    expect(await outcome(b.commit(await b.setLimits(before, 300, 300)))).toBe('ok')
    expect((await b.getContainerState(id)).status).toBe('created')
  }, 30_000)
})

describe('review: a change still queued at vSphere when the client stopped waiting', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('(found in review, fixed) no longer: an aborted limits commit whose ReconfigVM_Task vSphere serves late is reported CANCELLED not-applied, then lands (the lost reconfigure is fenced, or found landed)', async () => {
    const { pl } = await client()
    const id = await stoppedContainer(pl, 'review-late-reconfig')
    const before = await pl.getContainerConfig(id)
    // vSphere holds the request 1.2 s before serving it; the caller gives up after 300 ms.
    await vcsim.vc.admin.delay('ReconfigVM_Task', 1_200)
    const h = await pl.setLimits(await pl.getHandle(id), 777, 1777)
    const result = await outcome(pl.commit(h, { signal: AbortSignal.timeout(300) }))
    await sleep(1_500)
    await vcsim.vc.admin.reset()
    const after = (await pl.getContainerConfig(id)).limits
    // not-applied must mean the limits never change because of this commit.
    if (result.endsWith('/not-applied')) expect(after, `commit: ${result}`).toEqual(before.limits)
    else if (result === 'ok') expect(after, 'it landed and said so').toEqual({ memoryMb: 777, cpuMhz: 1777 })
    else expect(result).toBe('CANCELLED/unknown')
  }, 30_000)

  it('(found in review, fixed) no longer: an aborted create whose CreateVM_Task vSphere serves late is reported CANCELLED not-applied, then the container exists (and a retry of the handle is CONFLICT)', async () => {
    const { pl } = await client()
    const h = await pl.setEntryPoint(
      await pl.createContainer('review-late-create'),
      '/',
      '/bin/sleep',
      '3600',
    )
    created.push(h.containerId)
    await vcsim.vc.admin.delay('CreateVM_Task', 1_200)
    const result = await outcome(pl.commit(h, { signal: AbortSignal.timeout(300) }))
    await sleep(1_500)
    await vcsim.vc.admin.reset()
    const exists = await outcome(pl.getContainerConfig(h.containerId))
    if (result.endsWith('/not-applied')) expect(exists, `commit: ${result}`).toBe('NOT_FOUND/not-applied')
    else expect(result).toBe('CANCELLED/unknown')
  }, 30_000)
  it('(found in review, fixed) no longer: an aborted destroy whose Destroy_Task vSphere serves late is reported CANCELLED not-applied, then the container is gone', async () => {
    const { pl } = await client()
    const id = await stoppedContainer(pl, 'review-late-destroy')
    await vcsim.vc.admin.delay('Destroy_Task', 1_200)
    const result = await outcome(pl.destroyContainer(id, { signal: AbortSignal.timeout(300) }))
    await sleep(1_500)
    await vcsim.vc.admin.reset()
    const exists = await outcome(pl.getContainerConfig(id))
    if (result.endsWith('/not-applied')) expect(exists, `destroy: ${result}`).toBe('ok')
    else expect(result).toBe('CANCELLED/unknown')
  }, 30_000)

  it('(found in review, fixed) no longer: an aborted exec whose StartProgramInGuest vSphere serves late is reported CANCELLED not-applied, then an unrecorded process runs in the guest', async () => {
    const { pl } = await client()
    const id = await stoppedContainer(pl, 'review-late-exec')
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    await vcsim.vc.admin.delay('StartProgramInGuest', 1_200)
    const result = await outcome(
      pl.execProcess(id, '/', '/bin/sleep', '4343', { signal: AbortSignal.timeout(300) }),
    )
    await sleep(1_500)
    await vcsim.vc.admin.reset()
    const strays = (await guestProcesses(id)).filter((p) => p.cmdLine.includes('sleep 4343') && !p.endTime)
    if (result.endsWith('/not-applied')) expect(strays.length, `exec: ${result}`).toBe(0)
    else expect(result).toBe('CANCELLED/unknown')
  }, 30_000)
})

describe('review: destroy against a start, no timeout involved', () => {
  it('(found in review, fixed) no longer: a commit waiting for destroy D1 goes on when D1 gives up and D2 claims; start and D2 both resolve', async () => {
    const { pl: a } = await client()
    const id = await stoppedContainer(a, 'review-two-destroys')
    const d1 = await client()
    const d2 = await client()
    const c = await client()
    const d1Claimed = signal()
    const releaseD1 = signal()
    d1.hooks.intercept('Destroy_Task', async (_args, forward) => {
      d1Claimed.resolve()
      await releaseD1.promise
      // vSphere refuses D1's destroy: D1 takes its claim back.
      await vcsim.vc.admin.failNext('Destroy_Task', 'InvalidState')
      return forward()
    })
    const d2Claimed = signal()
    d2.hooks.intercept('ReconfigVM_Task', async (args, forward) => {
      const r = await forward()
      const claim = (args.spec.extraConfig ?? []).find((o) => o.key === 'guestinfo.portlayer.destroying')
      if (claim && claim.value !== '') d2Claimed.resolve()
      return r
    })
    // D2 holds its destroy a while: a commit that went on meanwhile would start the container.
    let startReconfigured = false
    d2.hooks.intercept('Destroy_Task', async (_args, forward) => {
      await new Promise((r) => setTimeout(r, 1_500))
      return forward()
    })
    c.hooks.intercept('ReconfigVM_Task', async (_args, forward) => {
      startReconfigured = true
      return forward()
    })
    const d1Done = outcome(d1.pl.destroyContainer(id))
    await d1Claimed.promise
    const h = await c.pl.setRunState(await c.pl.getHandle(id), 'running')
    // C's commit reads the container (D1's claim), then its next read waits until D2 claimed.
    let reads = 0
    let d2Done: Promise<string> = Promise.resolve('not begun')
    c.hooks.intercept('RetrievePropertiesEx', async (_args, forward) => {
      reads++
      if (reads === 2) {
        d2Done = outcome(d2.pl.destroyContainer(id))
        releaseD1.resolve()
        await d2Claimed.promise
      }
      return forward()
    })
    const start = await outcome(c.pl.commit(h))
    const results = { d1: await d1Done, start, d2: await d2Done }
    expect(results.d1).toBe('INVALID_STATE/not-applied')
    // D2 went first: the container is gone, and the start (which never reconfigured) says so.
    expect(results).toEqual({ d1: 'INVALID_STATE/not-applied', start: 'NOT_FOUND/not-applied', d2: 'ok' })
    expect(startReconfigured).toBe(false)
  }, 30_000)
})

describe('review: a read that finishes an ended run', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('(found in review, fixed) no longer: a read that saw the main process exit powers the VM off unguarded after another client restarted the container; the restart resolved, and the container reads stopped', async () => {
    const reader = await client()
    const starter = await client()
    const id = await starter.pl.commit(
      await starter.pl.setRunState(
        await starter.pl.setEntryPoint(
          await starter.pl.createContainer('review-observer'),
          '/',
          '/bin/true',
          '',
        ),
        'running',
      ),
    )
    created.push(id)
    await sleep(300)
    let restart: Promise<string> = Promise.resolve('not run')
    reader.hooks.intercept('PowerOffVM_Task', async (_args, forward) => {
      // The reader recorded the exit and is about to power the VM off: another client restarts
      // it; the power-off goes out once the restart's commit has read the container again after its handle and its commit read it.
      reader.hooks.intercept('PowerOffVM_Task', (_a, f) => f())
      // (The read after those of its handle and its commit comes after its power-on, unless it waits for the reader.)
      const starterRead = signal()
      let reads = 0
      starter.hooks.intercept('RetrievePropertiesEx', (_a, f) => {
        if (++reads === 3) starterRead.resolve()
        return f()
      })
      const h = await starter.pl.setEntryPoint(await starter.pl.getHandle(id), '/', '/bin/sleep', '3600')
      restart = outcome(starter.pl.commit(await starter.pl.setRunState(h, 'running')))
      await starterRead.promise
      return forward()
    })
    await reader.pl.getContainerState(id)
    expect(await restart).toBe('ok')
    // Nobody stopped it since the restart resolved.
    const state = await starter.pl.getContainerState(id)
    expect({ status: state.status, main: state.mainProcess?.status }).toEqual({
      status: 'running',
      main: 'started',
    })
  }, 30_000)
})

describe('review: the undo of a power-on', () => {
  it('(found in review, fixed) no longer: a failed start powers the VM off unguarded after another client restarted the container (between its read of the run and its PowerOffVM_Task); the restart resolved, the failed start resolved too, and the container reads stopped', async () => {
    const a = await client()
    const b = await client()
    const id = await stoppedContainer(a.pl, 'review-poweron-undo')
    let restart: Promise<string> = Promise.resolve('not run')
    a.hooks.intercept('StartProgramInGuest', async (_args, forward) => {
      // A's main process fails to start: A undoes its power-on.
      await vcsim.vc.admin.failNext('StartProgramInGuest', 'GuestOperationsUnavailable')
      return forward()
    })
    a.hooks.intercept('PowerOffVM_Task', async (_args, forward) => {
      a.hooks.intercept('PowerOffVM_Task', (_a, f) => f())
      // A has decided to power off; B commits running meanwhile, and A's power-off goes out
      // once B's commit has read the container again after its handle and its commit read it (after its power-on, unless B waits for A).
      const bRead = signal()
      let reads = 0
      b.hooks.intercept('RetrievePropertiesEx', (_a, f) => {
        if (++reads === 3) bRead.resolve()
        return f()
      })
      restart = outcome(
        (async () => b.pl.commit(await b.pl.setRunState(await b.pl.getHandle(id), 'running')))(),
      )
      await bRead.promise
      return forward()
    })
    const first = await outcome(a.pl.commit(await a.pl.setRunState(await a.pl.getHandle(id), 'running')))
    expect(first).toMatch(/\/not-applied$/)
    expect(await restart).toBe('ok')
    const state = await b.pl.getContainerState(id)
    expect({ status: state.status, main: state.mainProcess?.status }).toEqual({
      status: 'running',
      main: 'started',
    })
  }, 30_000)
})

describe('review: cancelling a commit queued behind another commit of the same create-handle', () => {
  it('(found in review, fixed) no longer: an aborted second commit of a create-handle does not reject until the first commit ends (CreateGuard waits without the signal)', async () => {
    const a = await client()
    const release = signal()
    const poweringOn = signal()
    a.hooks.intercept('PowerOnVM_Task', async (_args, forward) => {
      poweringOn.resolve()
      await release.promise
      return forward()
    })
    let h = await a.pl.createContainer('review-guard-abort')
    created.push(h.containerId)
    h = await a.pl.setRunState(await a.pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running')
    const first = outcome(a.pl.commit(h))
    await poweringOn.promise
    const started = Date.now()
    const second = outcome(a.pl.commit(h, { signal: AbortSignal.timeout(200) }))
    const settledIn = await Promise.race([
      second.then(() => Date.now() - started),
      new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 2_000)),
    ])
    release.resolve()
    await first
    expect(await second).toBe('CANCELLED/not-applied')
    expect(settledIn).toBeLessThan(2_000)
  }, 30_000)
})
