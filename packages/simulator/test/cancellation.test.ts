import { getEventListeners } from 'node:events'
import { type ExtensionPlan, type Handle, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import type { Simulator } from '../src/index.js'
import { expectCode, startContainer, stop, virtualSim } from './helpers.js'

const stubborn = { run: (ctx: { forever(): Promise<never> }) => ctx.forever(), onSignal: () => {} }

/** Lets promise callbacks and immediates run (no simulator time passes). */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Records whether a promise has settled, without letting a rejection go unhandled. */
function track<T>(work: Promise<T>): { readonly settled: boolean; readonly work: Promise<T> } {
  const state = { settled: false, work }
  work.then(
    () => {
      state.settled = true
    },
    () => {
      state.settled = true
    },
  )
  return state
}

function expectCancelled(e: PortLayerError, reason: unknown): void {
  expect(e.code).toBe('CANCELLED')
  expect(e.outcome).toBe('not-applied')
  expect(e.cause).toBe(reason)
  expect(e.backend).toBe('simulator')
  expect(PortLayerError.isInstance(e, 'CANCELLED')).toBe(true)
  expect(e.toJSON()).toMatchObject({ code: 'CANCELLED', outcome: 'not-applied' })
}

function aborted(reason: unknown = new Error('caller gave up')): AbortSignal {
  const controller = new AbortController()
  controller.abort(reason)
  return controller.signal
}

type Untyped = Record<string, (...args: unknown[]) => Promise<unknown>>

/** Every port-layer call, with arguments that would succeed (and change something where they can). */
async function everyCall(sim: Simulator): Promise<Array<[string, unknown[]]>> {
  const running = await startContainer(sim)
  await sim.copyTo(await sim.getHandle(running), '/tmp', 'x', 0o644, new Uint8Array([1]))
  const created = await sim.commit(
    await sim.setEntryPoint(await sim.createContainer('c'), '/', '/bin/sleep', '100'),
  )
  const h = await sim.getHandle(created)
  return [
    ['createContainer', ['n']],
    ['getHandle', [created]],
    ['copyTo', [h, '/tmp', 'f', 0o644, new Uint8Array([1])]],
    ['setEntryPoint', [h, '/', '/bin/true', '']],
    ['setLimits', [h, 64, 64]],
    ['setRunState', [h, 'running']],
    ['commit', [await sim.setRunState(h, 'running')]],
    ['destroyContainer', [created]],
    ['listContainers', []],
    ['getContainerConfig', [running]],
    ['getContainerState', [running]],
    ['copyFrom', [running, '/usr/local/bin', 'app']],
    ['execProcess', [running, '/', '/bin/sleep', '100']],
    ['signal', [running, 15]],
    ['getExtensionState', [running, 'net']],
  ]
}

/** Arity of each call without options, so the options land in the right place. */
const ARITY: Record<string, number> = {
  createContainer: 1,
  getHandle: 1,
  copyTo: 5,
  setEntryPoint: 4,
  setLimits: 3,
  setRunState: 2,
  commit: 1,
  destroyContainer: 1,
  listContainers: 1,
  getContainerConfig: 1,
  getContainerState: 1,
  copyFrom: 3,
  execProcess: 4,
  signal: 2,
  getExtensionState: 2,
}

function withOptions(op: string, args: unknown[], options: unknown): unknown[] {
  const full = [...args]
  while (full.length < (ARITY[op] as number)) full.push(undefined)
  full.push(options)
  return full
}

describe('options argument', () => {
  const BAD: Array<[string, () => unknown]> = [
    ['null', () => null],
    ['a number', () => 42],
    ['a string', () => 'signal'],
    ['a function', () => () => {}],
    ['a symbol', () => Symbol('options')],
    ['signal: a plain object', () => ({ signal: { aborted: true, addEventListener() {} } })],
    ['signal: a string', () => ({ signal: 'abort' })],
    ['signal: null', () => ({ signal: null })],
    ['signal: an AbortController', () => ({ signal: new AbortController() })],
    ['signal: a forged AbortSignal', () => ({ signal: Object.create(AbortSignal.prototype) })],
    [
      'a getter that throws',
      () =>
        Object.defineProperty({}, 'signal', {
          get() {
            throw new Error('hostile getter')
          },
        }),
    ],
    [
      'a proxy that throws',
      () =>
        new Proxy(
          {},
          {
            get() {
              throw new Error('hostile proxy')
            },
          },
        ),
    ],
    ['a null-prototype object with a bad signal', () => Object.assign(Object.create(null), { signal: 1n })],
  ]

  it.each(BAD)('%s → INVALID_ARGUMENT on every call, nothing changed', async (_label, make) => {
    const sim = virtualSim()
    const calls = await everyCall(sim)
    const before = sim.snapshot()
    const ids = await sim.listContainers()
    const states = await Promise.all(ids.map((id) => sim.getContainerState(id)))
    for (const [op, args] of calls) {
      const e = await expectCode(
        (sim as unknown as Untyped)[op]?.(...withOptions(op, args, make())) as Promise<unknown>,
        'INVALID_ARGUMENT',
      )
      expect(e.message, op).toMatch(/options/)
      expect(e.message.length).toBeLessThanOrEqual(1000)
    }
    expect(await sim.listContainers()).toEqual(ids)
    expect(await Promise.all(ids.map((id) => sim.getContainerState(id)))).toEqual(states)
    expect(before.containers).toBe(ids.length)
  })

  it('accepts undefined, {}, { signal: undefined } and an unaborted signal, also with other keys', async () => {
    const sim = virtualSim()
    const signal = new AbortController().signal
    for (const options of [undefined, {}, { signal: undefined }, { signal }, { signal, other: 1 }]) {
      const h = await sim.createContainer('ok', options)
      expect(await sim.commit(h, options)).toBe(h.containerId)
    }
    expect(await sim.listContainers()).toHaveLength(5)
  })
})

describe('an already-aborted signal', () => {
  it('fails every call with CANCELLED (cause = the reason, outcome not-applied) and changes nothing', async () => {
    const sim = virtualSim()
    const calls = await everyCall(sim)
    const ids = await sim.listContainers()
    const configs = await Promise.all(ids.map((id) => sim.getContainerConfig(id)))
    const states = await Promise.all(ids.map((id) => sim.getContainerState(id)))
    const reason = new Error('caller gave up')
    for (const [op, args] of calls) {
      const e = await expectCode(
        (sim as unknown as Untyped)[op]?.(
          ...withOptions(op, args, { signal: aborted(reason) }),
        ) as Promise<unknown>,
        'CANCELLED',
      )
      expectCancelled(e, reason)
      expect(e.detail).toMatchObject({ operation: op })
    }
    expect(await sim.listContainers()).toEqual(ids)
    expect(await Promise.all(ids.map((id) => sim.getContainerConfig(id)))).toEqual(configs)
    expect(await Promise.all(ids.map((id) => sim.getContainerState(id)))).toEqual(states)
    // The refused commit's handle is still current: nothing moved the version.
    const commit = calls.find(([op]) => op === 'commit') as [string, [Handle]]
    expect(await sim.commit(commit[1][0])).toBe(commit[1][0].containerId)
  })

  it('keeps the default reason (an AbortError) as the cause, and leaves injected failures armed', async () => {
    const sim = virtualSim()
    sim.faults.failNext('listContainers', 1, 'UNAVAILABLE')
    const signal = AbortSignal.abort()
    const e = await expectCode(sim.listContainers(undefined, { signal }), 'CANCELLED')
    expect(e.cause).toBe(signal.reason)
    expect((e.cause as Error).name).toBe('AbortError')
    await expectCode(sim.listContainers(), 'UNAVAILABLE')
  })

  it('takes any value as the reason, never putting it in the message', async () => {
    const sim = virtualSim()
    const reasons = [Symbol('why'), Object.create(null), 'x'.repeat(100_000), 7n, undefined]
    for (const reason of reasons) {
      const controller = new AbortController()
      controller.abort(reason)
      const e = await expectCode(sim.listContainers(undefined, { signal: controller.signal }), 'CANCELLED')
      expect(e.cause).toBe(controller.signal.reason)
      expect(e.message.length).toBeLessThan(200)
      expect(JSON.stringify(e)).toContain('CANCELLED')
    }
  })
})

describe('a signal aborted while the call waits', () => {
  it('ends injected latency at once: CANCELLED, nothing applied, no timer left', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    sim.faults.setLatency('commit', 10_000)
    const controller = new AbortController()
    const h = await sim.setRunState(await sim.getHandle(id), 'stopped')
    const committing = track(sim.commit(h, { signal: controller.signal }))
    await sim.clock.advance(100)
    expect(committing.settled).toBe(false)
    const reason = new Error('deadline of the caller')
    controller.abort(reason)
    await tick()
    expect(committing.settled).toBe(true)
    expectCancelled(await expectCode(committing.work, 'CANCELLED'), reason)
    expect(sim.clock.pendingTimers()).toBe(0)
    expect((await sim.getContainerState(id)).status).toBe('running')
    sim.faults.clear()
    await sim.commit(h)
    expect((await sim.getContainerState(id)).status).toBe('stopped')
  })

  it('a commit waiting behind another stop: CANCELLED, nothing applied, and it stops waiting', async () => {
    const sim = virtualSim({ stopGracePeriodMs: 5000, programs: { '/bin/stubborn': stubborn } })
    const id = await startContainer(sim, '/bin/stubborn')
    const stopping = stop(sim, id)
    await tick()
    const h = await sim.setLimits(await sim.getHandle(id), 64, 64)
    const controller = new AbortController()
    const behind = track(sim.commit(h, { signal: controller.signal }))
    await sim.clock.advance(1000)
    expect(behind.settled).toBe(false)
    controller.abort()
    await tick()
    expect(behind.settled).toBe(true)
    await expectCode(behind.work, 'CANCELLED')
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    await sim.clock.advance(4000)
    await stopping
    expect((await sim.getContainerConfig(id)).limits).toEqual({ memoryMb: 2048, cpuMhz: 2000 })
    // The handle is current (the stop was made before it): committing it again applies it.
    await sim.commit(h)
    expect((await sim.getContainerConfig(id)).limits).toEqual({ memoryMb: 64, cpuMhz: 64 })
  })

  it('a commit whose extension is still preparing: CANCELLED at once; the late plan is rolled back, never committed', async () => {
    const sim = virtualSim()
    const journal: string[] = []
    let finish: () => void = () => {}
    sim.registerExtension({
      namespace: 'slow',
      prepare: async (ctx): Promise<ExtensionPlan> => {
        await new Promise<void>((resolve) => {
          finish = resolve
        })
        return {
          applied: ctx.pending,
          commit: () => journal.push('commit'),
          rollback: () => journal.push('rollback'),
        }
      },
    })
    const id = await sim.commit(await sim.createContainer('x'))
    const before = await sim.getContainerConfig(id)
    const h = sim.handleFactory.withExtension(await sim.setLimits(await sim.getHandle(id), 8, 8), 'slow', 1)
    const controller = new AbortController()
    const committing = track(sim.commit(h, { signal: controller.signal }))
    await tick()
    controller.abort()
    await tick()
    expect(committing.settled).toBe(true)
    await expectCode(committing.work, 'CANCELLED')
    expect(journal).toEqual([])
    finish()
    await tick()
    expect(journal).toEqual(['rollback'])
    expect(await sim.getContainerConfig(id)).toEqual(before)
    expect(await sim.getExtensionState(id, 'slow')).toBeUndefined()
    expect((await sim.getHandle(id)).baseVersion).toBe(h.baseVersion)
  })

  it('an abort from inside a synchronous prepare: CANCELLED, prepared extensions rolled back', async () => {
    const sim = virtualSim()
    const journal: string[] = []
    const controller = new AbortController()
    sim.registerExtension({
      namespace: 'aborts',
      prepare: () => {
        controller.abort()
        return { applied: 1, commit: () => journal.push('commit'), rollback: () => journal.push('rollback') }
      },
    })
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'aborts', 1)
    await expectCode(sim.commit(h, { signal: controller.signal }), 'CANCELLED')
    expect(journal).toEqual(['rollback'])
    expect(await sim.listContainers()).toEqual([])
  })

  it('a stop commit in its grace period completes at once: the rest is killed and the commit resolves', async () => {
    const sim = virtualSim({ stopGracePeriodMs: 10_000, programs: { '/bin/stubborn': stubborn } })
    const id = await startContainer(sim, '/bin/stubborn')
    const execd = await sim.execProcess(id, '/', '/bin/sleep', '1000')
    const controller = new AbortController()
    const h = await sim.setRunState(await sim.getHandle(id), 'stopped')
    const committing = track(sim.commit(h, { signal: controller.signal }))
    await sim.clock.advance(2000)
    expect(committing.settled).toBe(false)
    controller.abort()
    await tick()
    expect(committing.settled).toBe(true)
    expect(await committing.work).toBe(id)
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 137 })
    expect(state.mainProcess?.exitMsg).toMatch(/cut short.*cancelled/)
    expect(state.mainProcess?.finishedAt?.getTime()).toBe(1_000_000 + 2000)
    // The exec'd sleep ended on SIGTERM when the stop began.
    expect(state.execdProcs.find((p) => p.processId === execd)?.exitCode).toBe(143)
    expect(sim.clock.pendingTimers()).toBe(0)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('destroy: the container is gone once the call began applying; an abort only stops the wait for release', async () => {
    const sim = virtualSim()
    let released: () => void = () => {}
    const journal: string[] = []
    sim.registerExtension({
      namespace: 'held',
      prepare: (ctx) => ({ applied: ctx.pending }),
      release: () =>
        new Promise<void>((resolve) => {
          released = () => {
            journal.push('released')
            resolve()
          }
        }),
    })
    const id = await sim.commit(sim.handleFactory.withExtension(await sim.createContainer('x'), 'held', 1))
    const controller = new AbortController()
    const destroying = track(sim.destroyContainer(id, { signal: controller.signal }))
    await tick()
    expect(destroying.settled).toBe(false)
    controller.abort()
    await tick()
    expect(destroying.settled).toBe(true)
    await destroying.work
    expect(await sim.listContainers()).toEqual([])
    released()
    await tick()
    expect(journal).toEqual(['released'])
  })

  it('removes its abort listener when the call ends, however it ends: no leak on a long-lived signal', async () => {
    const sim = virtualSim({ programs: { '/bin/stubborn': stubborn }, stopGracePeriodMs: 100 })
    const controller = new AbortController()
    const { signal } = controller
    const id = await startContainer(sim)
    for (let i = 0; i < 500; i++) {
      await sim.getContainerState(id, { signal })
      await sim.getContainerState('00000000-0000-4000-8000-000000000000', { signal }).catch(() => {})
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    // Calls waiting on one signal share one listener while they wait; it goes when the last ends.
    sim.faults.setLatency('listContainers', 50)
    const waiting = Array.from({ length: 100 }, () => sim.listContainers(undefined, { signal }))
    await tick()
    expect(getEventListeners(signal, 'abort')).toHaveLength(1)
    await sim.clock.advance(50)
    await Promise.all(waiting)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    for (let i = 0; i < 50; i++) {
      const stubbornId = await startContainer(sim, '/bin/stubborn')
      const stopping = sim.commit(await sim.setRunState(await sim.getHandle(stubbornId), 'stopped'), {
        signal,
      })
      await sim.clock.advance(100)
      await stopping
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    const rejected = Array.from({ length: 20 }, () => sim.listContainers(undefined, { signal }))
    await tick()
    controller.abort()
    for (const r of rejected) await expectCode(r, 'CANCELLED')
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    expect(sim.clock.pendingTimers()).toBe(0)
  })
})

describe('callTimeoutMs', () => {
  it('is off by default, and must be a finite number ≥ 0', async () => {
    expect(virtualSim().callTimeoutMs).toBe(0)
    expect(virtualSim({ callTimeoutMs: 250 }).callTimeoutMs).toBe(250)
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '100', null, Object.create(null)]) {
      await expectCode(() => virtualSim({ callTimeoutMs: bad as number }), 'INVALID_ARGUMENT')
    }
  })

  it('fails a call still waiting at its deadline with TIMEOUT, outcome not-applied, nothing applied', async () => {
    const sim = virtualSim({ callTimeoutMs: 1000 })
    const id = await startContainer(sim)
    sim.faults.setLatency('commit', 5000)
    const committing = track(sim.commit(await sim.setRunState(await sim.getHandle(id), 'stopped')))
    await sim.clock.advance(999)
    expect(committing.settled).toBe(false)
    await sim.clock.advance(1)
    expect(committing.settled).toBe(true)
    const e = await expectCode(committing.work, 'TIMEOUT')
    expect(e.outcome).toBe('not-applied')
    expect(e.detail).toMatchObject({ operation: 'commit', timeoutMs: 1000 })
    expect(e.message).toContain(id)
    expect(sim.clock.pendingTimers()).toBe(0)
    expect((await sim.getContainerState(id)).status).toBe('running')
  })

  it('lets calls that finish in time, or never wait, through; the earlier of deadline and signal wins', async () => {
    const sim = virtualSim({ callTimeoutMs: 1000 })
    sim.faults.setLatency('listContainers', 999)
    const listing = sim.listContainers()
    await sim.clock.advance(999)
    expect(await listing).toEqual([])
    expect(sim.clock.pendingTimers()).toBe(0)
    sim.faults.clear()
    await sim.clock.advance(5000)
    expect(await sim.listContainers()).toEqual([])
    sim.faults.setLatency('listContainers', 5000)
    const controller = new AbortController()
    const cancelled = track(sim.listContainers(undefined, { signal: controller.signal }))
    await sim.clock.advance(500)
    controller.abort()
    await tick()
    await expectCode(cancelled.work, 'CANCELLED')
    const timed = sim.listContainers(undefined, { signal: controller.signal })
    await expectCode(timed, 'CANCELLED')
    const other = track(sim.listContainers(undefined, { signal: new AbortController().signal }))
    await sim.clock.advance(1000)
    await expectCode(other.work, 'TIMEOUT')
  })

  it('cuts a stop’s grace period short at the deadline: the stop completes and the commit resolves', async () => {
    const sim = virtualSim({
      callTimeoutMs: 3000,
      stopGracePeriodMs: 10_000,
      programs: { '/bin/stubborn': stubborn },
    })
    const id = await startContainer(sim, '/bin/stubborn')
    const committing = track(stop(sim, id))
    await sim.clock.advance(2999)
    expect(committing.settled).toBe(false)
    await sim.clock.advance(1)
    await committing.work
    const main = (await sim.getContainerState(id)).mainProcess
    expect(main).toMatchObject({ exitCode: 137 })
    expect(main?.exitMsg).toMatch(/cut short.*timed out/)
  })
})

describe('close during a call', () => {
  it('a stop commit closed in its grace period says its outcome is unknown (the stop had begun)', async () => {
    const sim = virtualSim({ programs: { '/bin/stubborn': stubborn } })
    const id = await startContainer(sim, '/bin/stubborn')
    const stopping = stop(sim, id)
    const h = await sim.setLimits(await sim.getHandle(id), 64, 64)
    await tick()
    sim.close()
    const e = await expectCode(stopping, 'UNAVAILABLE')
    expect(e.outcome).toBe('unknown')
    expect(e.detail).toMatchObject({ closed: true, applied: true })
    // A call refused by close before applying anything says so.
    const other = await expectCode(sim.commit(h), 'UNAVAILABLE')
    expect(other.outcome).toBe('not-applied')
  })
})
