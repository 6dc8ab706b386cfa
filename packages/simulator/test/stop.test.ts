import { describe, expect, it } from 'vitest'
import { createSimulator } from '../src/index.js'
import { expectCode, startContainer, stop, virtualSim } from './helpers.js'

const stubborn = { run: (ctx: { forever(): Promise<never> }) => ctx.forever(), onSignal: () => {} }

describe('stop sequence', () => {
  it('SIGTERMs, waits the grace period on the simulator clock, then SIGKILLs; commit blocks until stopped', async () => {
    const sim = virtualSim({ stopGracePeriodMs: 3000, programs: { '/bin/stubborn': stubborn } })
    expect(sim.stopGracePeriodMs).toBe(3000)
    const id = await startContainer(sim, '/bin/stubborn')
    let done = false
    const committing = stop(sim, id).then(() => {
      done = true
    })
    await sim.clock.advance(2999)
    expect(done).toBe(false)
    expect((await sim.getContainerState(id)).status).toBe('running')
    await sim.clock.advance(1)
    await committing
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess?.exitCode).toBe(137)
  })

  it('finishes early when a process that ignored SIGTERM exits during the grace period', async () => {
    const sim = virtualSim({
      programs: {
        '/bin/slowstop': (ctx) => {
          ctx.onSignal(() => {
            ctx.sleep(500).then(() => ctx.exit(0))
          })
          return ctx.forever()
        },
      },
    })
    const id = await startContainer(sim, '/bin/slowstop')
    const committing = stop(sim, id)
    await sim.clock.advance(500)
    await committing
    const state = await sim.getContainerState(id)
    expect(state.mainProcess?.exitCode).toBe(0)
    expect(sim.clock.pendingTimers()).toBe(0)
  })

  it('ends exec’d processes too, waiting for those that ignore SIGTERM', async () => {
    const sim = virtualSim({ stopGracePeriodMs: 1000, programs: { '/bin/stubborn': stubborn } })
    const id = await startContainer(sim)
    const a = await sim.execProcess(id, '/', '/bin/sleep', '100')
    const b = await sim.execProcess(id, '/', '/bin/stubborn', '')
    const committing = stop(sim, id)
    await sim.clock.advance(1000)
    await committing
    const state = await sim.getContainerState(id)
    const byId = new Map(state.execdProcs.map((p) => [p.processId, p.exitCode]))
    expect(byId.get(a)).toBe(143)
    expect(byId.get(b)).toBe(137)
    expect(state.mainProcess?.exitCode).toBe(143)
  })

  it('makes other commits wait and refuses exec while stopping', async () => {
    const sim = virtualSim({ stopGracePeriodMs: 1000, programs: { '/bin/stubborn': stubborn } })
    const id = await startContainer(sim, '/bin/stubborn')
    const stopping = stop(sim, id)
    await sim.clock.advance(0)
    await expectCode(sim.execProcess(id, '/', '/bin/true', ''), 'INVALID_STATE')
    await expectCode(sim.destroyContainer(id), 'INVALID_STATE')
    // A handle made during the stop is current; its commit waits for the stop, then applies.
    const restart = sim
      .getHandle(id)
      .then((h) => sim.setRunState(h, 'running'))
      .then((h) => sim.commit(h))
    let restarted = false
    restart.then(() => {
      restarted = true
    })
    await sim.clock.advance(999)
    expect(restarted).toBe(false)
    await sim.clock.advance(1)
    await stopping
    await restart
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
  })

  it('kills exec’d processes at once when the main process exits by itself', async () => {
    const sim = virtualSim({ programs: { '/bin/stubborn': stubborn } })
    const id = await startContainer(sim, '/bin/sleep', '10')
    const p = await sim.execProcess(id, '/', '/bin/stubborn', '')
    await sim.clock.advance(10_000)
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess?.exitCode).toBe(0)
    expect(state.execdProcs.find((x) => x.processId === p)?.exitCode).toBe(137)
  })

  it('stops at once, without a timer, when every process ends on SIGTERM (real clock)', async () => {
    const sim = createSimulator()
    const id = await startContainer(sim)
    await sim.execProcess(id, '/', '/usr/local/bin/app', '')
    await stop(sim, id)
    expect((await sim.getContainerState(id)).status).toBe('stopped')
    expect(sim.clock.pendingTimers()).toBe(0)
  })

  describe('executable files with a "trap \'\' TERM" line', () => {
    const TRAPS = new TextEncoder().encode("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")

    /** A running container whose main process is /usr/local/bin/app holding `content`. */
    async function startFile(sim: ReturnType<typeof virtualSim>, content: Uint8Array): Promise<string> {
      let h = await sim.createContainer('traps')
      h = await sim.setEntryPoint(h, '/', '/usr/local/bin/app', '')
      h = await sim.copyTo(h, '/usr/local/bin', 'app', 0o755, content)
      return sim.commit(await sim.setRunState(h, 'running'))
    }

    it('ignore SIGTERM; a stop waits the grace period on the simulator clock, then kills (137)', async () => {
      const sim = virtualSim({ stopGracePeriodMs: 2000 })
      const id = await startFile(sim, TRAPS)
      await sim.signal(id, 15)
      await sim.clock.advance(5000)
      expect((await sim.getContainerState(id)).mainProcess).toMatchObject({ status: 'started', exitCode: 0 })
      let done = false
      const committing = stop(sim, id).then(() => {
        done = true
      })
      await sim.clock.advance(1999)
      expect(done).toBe(false)
      expect((await sim.getContainerState(id)).status).toBe('running')
      await sim.clock.advance(1)
      await committing
      const state = await sim.getContainerState(id)
      expect(state.status).toBe('stopped')
      expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 137 })
      expect(state.mainProcess?.exitMsg).toContain('killed by SIGKILL')
      expect(state.mainProcess?.finishedAt?.getTime()).toBe(1_000_000 + 5000 + 2000)
      expect(sim.clock.pendingTimers()).toBe(0)
    })

    it('end on any other signal with 128 + n, and on SIGKILL', async () => {
      const sim = virtualSim()
      const a = await startFile(sim, TRAPS)
      const b = await startFile(sim, TRAPS)
      await sim.signal(a, 2)
      await sim.signal(b, 9)
      expect((await sim.getContainerState(a)).mainProcess?.exitCode).toBe(130)
      expect((await sim.getContainerState(b)).mainProcess?.exitCode).toBe(137)
    })

    it('keep running after /bin/kill -15 through the guest; the kill exits 0', async () => {
      const sim = virtualSim()
      const id = await startContainer(sim, '/bin/sleep', '3600')
      sim.fs(id).writeFile('/usr/local/bin/app', TRAPS, 0o755)
      const app = await sim.execProcess(id, '/', '/usr/local/bin/app', '')
      const pid = (await sim.getContainerState(id)).execdProcs.find((p) => p.processId === app)?.guestPid
      const kill = await sim.execProcess(id, '/', '/bin/kill', `-15 ${pid}`)
      const state = await sim.getContainerState(id)
      const byId = new Map(state.execdProcs.map((p) => [p.processId, p]))
      expect(byId.get(kill)).toMatchObject({ status: 'exited', exitCode: 0 })
      expect(byId.get(app)?.status).toBe('started')
    })

    it("are killed at the end of a stop's grace period when exec'd; the main process ends on SIGTERM", async () => {
      const sim = virtualSim({ stopGracePeriodMs: 1000 })
      const id = await startContainer(sim)
      sim.fs(id).writeFile('/tmp/traps', TRAPS, 0o700)
      const execd = await sim.execProcess(id, '/tmp', '/tmp/traps', '')
      const committing = stop(sim, id)
      await sim.clock.advance(0)
      expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(143)
      await sim.clock.advance(1000)
      await committing
      const state = await sim.getContainerState(id)
      expect(state.status).toBe('stopped')
      expect(state.execdProcs.find((p) => p.processId === execd)?.exitCode).toBe(137)
    })

    it('are read when the process starts: changing the file later changes nothing until the next start', async () => {
      const sim = virtualSim({ stopGracePeriodMs: 1000 })
      const id = await startFile(sim, new Uint8Array([1]))
      sim.fs(id).writeFile('/usr/local/bin/app', TRAPS)
      // Still the program it started as: ends on SIGTERM, no grace timer armed.
      await stop(sim, id)
      expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(143)
      expect(sim.clock.pendingTimers()).toBe(0)
      await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
      await sim.signal(id, 15)
      expect((await sim.getContainerState(id)).mainProcess?.status).toBe('started')
    })

    it('keep ignoring SIGTERM across snapshot and restore', async () => {
      const sim = virtualSim()
      const id = await startFile(sim, TRAPS)
      const snap = sim.snapshot()
      sim.restore(snap)
      await sim.signal(id, 15)
      expect((await sim.getContainerState(id)).mainProcess?.status).toBe('started')
    })
  })

  it('validates the grace period option', () => {
    for (const bad of [-1, Number.NaN, '10' as unknown as number]) {
      expect(() => createSimulator({ stopGracePeriodMs: bad })).toThrow(/stopGracePeriodMs/)
    }
    expect(createSimulator().stopGracePeriodMs).toBe(10_000)
  })
})

describe('options', () => {
  it('default limits apply to containers without limits and to -1', async () => {
    const sim = virtualSim({ defaultLimits: { memoryMb: 256 } })
    expect(sim.defaultLimits).toEqual({ memoryMb: 256, cpuMhz: 2000 })
    const a = await sim.commit(await sim.createContainer('a'))
    const b = await sim.commit(await sim.setLimits(await sim.createContainer('b'), -1, 1200))
    expect((await sim.getContainerConfig(a)).limits).toEqual({ memoryMb: 256, cpuMhz: 2000 })
    expect((await sim.getContainerConfig(b)).limits).toEqual({ memoryMb: 256, cpuMhz: 1200 })
  })

  it('rejects malformed options', () => {
    expect(() => createSimulator({ defaultLimits: { memoryMb: 0 } })).toThrow(/memoryMb/)
    expect(() => createSimulator({ defaultLimits: { cpuMhz: 1.5 } })).toThrow(/cpuMhz/)
    expect(() => createSimulator({ clock: 'fast' as never })).toThrow(/clock/)
    expect(() => createSimulator({ clock: 'virtual', startTime: Number.NaN })).toThrow(/startTime/)
  })

  it('still validates setter arguments when a BasicHandleFactory has a method replaced (e.g. a mock)', async () => {
    const { BasicHandleFactory } = await import('@portlayer/handles')
    const factory = new BasicHandleFactory()
    const original = factory.withChange.bind(factory)
    // A stand-in that skips validation, as a careless mock would.
    factory.withChange = (h, change) => Object.freeze({ ...h, pending: { ...h.pending, ...change } })
    const sim = virtualSim({ handleFactory: factory })
    const h = await sim.createContainer('x')
    await expectCode(sim.setLimits(h, Number.NaN, 1), 'INVALID_ARGUMENT')
    await expectCode(sim.setEntryPoint(h, 'relative', '/bin/true', ''), 'INVALID_ARGUMENT')
    factory.withChange = original
    expect((await sim.setLimits(h, 64, 64)).pending.limits).toEqual({ memoryMb: 64, cpuMhz: 64 })
  })

  it('uses the given handle factory for every handle and ID', async () => {
    const { BasicHandleFactory } = await import('@portlayer/handles')
    const inner = new BasicHandleFactory()
    let made = 0
    const factory = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver)
        if (typeof v !== 'function') return v
        return (...args: unknown[]) => {
          if (prop !== 'assertHandle') made++
          return v.apply(target, args)
        }
      },
    })
    const sim = virtualSim({ handleFactory: factory })
    expect(sim.handleFactory).toBe(factory)
    let h = await sim.createContainer('x')
    h = await sim.setEntryPoint(h, '/', '/bin/true', '')
    await sim.commit(h)
    // newId + create + withChange; then the main process ID when config is read
    expect(made).toBe(3)
    await sim.getContainerConfig(h.containerId)
    expect(made).toBe(4)
  })
})
