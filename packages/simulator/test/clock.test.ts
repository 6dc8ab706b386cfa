import { describe, expect, it } from 'vitest'
import { createSimulator } from '../src/index.js'
import { expectCode, startContainer, virtualSim } from './helpers.js'

describe('virtual clock', () => {
  it('starts at startTime and moves only when advanced', async () => {
    const sim = createSimulator({ clock: 'virtual', startTime: new Date('2030-01-01T00:00:00Z') })
    expect(sim.clock.kind).toBe('virtual')
    expect(sim.clock.now().toISOString()).toBe('2030-01-01T00:00:00.000Z')
    await new Promise((r) => setTimeout(r, 5))
    expect(sim.clock.now().toISOString()).toBe('2030-01-01T00:00:00.000Z')
    await sim.clock.advance(1500)
    expect(sim.clock.now().toISOString()).toBe('2030-01-01T00:00:01.500Z')
  })

  it('runs due timers in time order, each at its own time, and leaves later ones', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const seen: Array<[string, number]> = []
    sim.onEvent((e) => {
      if (e.type === 'exited') seen.push([e.processId as string, e.at.getTime()])
    })
    const t0 = sim.clock.now().getTime()
    const p3 = await sim.execProcess(id, '/', '/bin/sleep', '3')
    const p1 = await sim.execProcess(id, '/', '/bin/sleep', '1')
    const p2 = await sim.execProcess(id, '/', '/bin/sleep', '0.5 1.5')
    expect(sim.clock.pendingTimers()).toBe(3)
    await sim.clock.advance(2000)
    expect(seen).toEqual([
      [p1, t0 + 1000],
      [p2, t0 + 2000],
    ])
    expect(sim.clock.now().getTime()).toBe(t0 + 2000)
    expect(sim.clock.pendingTimers()).toBe(1)
    await sim.clock.advance(999)
    expect(seen).toHaveLength(2)
    await sim.clock.advance(1)
    expect(seen[2]).toEqual([p3, t0 + 3000])
  })

  it('lets promise chains started by a timer schedule further timers inside the same advance', async () => {
    const ticks: number[] = []
    const sim = virtualSim({
      programs: {
        '/bin/ticker': async (ctx) => {
          for (let i = 0; i < 5; i++) {
            await ctx.sleep(100)
            ticks.push(ctx.now().getTime())
          }
          return 0
        },
      },
    })
    const id = await startContainer(sim, '/bin/ticker')
    const t0 = sim.clock.now().getTime()
    await sim.clock.advance(450)
    expect(ticks).toEqual([t0 + 100, t0 + 200, t0 + 300, t0 + 400])
    await sim.clock.advance(50)
    expect(ticks).toHaveLength(5)
    expect((await sim.getContainerState(id)).status).toBe('stopped')
  })

  it('queues concurrent advance calls instead of interleaving them', async () => {
    const sim = virtualSim()
    const t0 = sim.clock.now().getTime()
    const seen: number[] = []
    const a = sim.clock.advance(100).then(() => seen.push(sim.clock.now().getTime() - t0))
    const b = sim.clock.advance(100).then(() => seen.push(sim.clock.now().getTime() - t0))
    await Promise.all([a, b])
    expect(seen).toEqual([100, 200])
  })

  it('rejects negative, non-finite and non-number advances', async () => {
    const sim = virtualSim()
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      await expectCode(() => sim.clock.advance(bad), 'INVALID_ARGUMENT')
    }
  })

  it('cancels the timer of a process that is killed before it wakes', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const p = await sim.execProcess(id, '/', '/bin/sleep', '60')
    expect(sim.clock.pendingTimers()).toBe(1)
    await sim.signal(p, 9)
    expect(sim.clock.pendingTimers()).toBe(0)
  })

  it('close() cancels every timer', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    await sim.execProcess(id, '/', '/bin/sleep', '60')
    sim.close()
    expect(sim.clock.pendingTimers()).toBe(0)
  })
})

describe('real clock', () => {
  it('is the default, follows the wall clock, and advance waits', async () => {
    const sim = createSimulator()
    expect(sim.clock.kind).toBe('real')
    expect(Math.abs(sim.clock.now().getTime() - Date.now())).toBeLessThan(50)
    const t0 = Date.now()
    await sim.clock.advance(30)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25)
  })

  it('keeps a sleep longer than setTimeout can wait (24.8 days) pending instead of firing at once', async () => {
    const sim = createSimulator({ stopGracePeriodMs: 2 ** 31 + 1000 })
    const id = await startContainer(sim, '/bin/sleep', '3000000')
    await new Promise((r) => setTimeout(r, 20))
    expect((await sim.getContainerState(id)).status).toBe('running')
    expect(sim.clock.pendingTimers()).toBe(1)
    await sim.signal(id, 9)
    expect(sim.clock.pendingTimers()).toBe(0)
    sim.close()
  })

  it('runs /bin/sleep on real time', async () => {
    const sim = createSimulator()
    const id = await startContainer(sim)
    const p = await sim.execProcess(id, '/', '/bin/sleep', '0.03')
    expect((await sim.getContainerState(id)).execdProcs[0]?.status).toBe('started')
    await new Promise((r) => setTimeout(r, 60))
    const s = (await sim.getContainerState(id)).execdProcs[0]
    expect(s?.processId).toBe(p)
    expect(s?.status).toBe('exited')
    sim.close()
  })
})
