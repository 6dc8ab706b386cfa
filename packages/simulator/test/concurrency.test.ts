import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import type { Simulator } from '../src/index.js'
import { virtualSim } from './helpers.js'

/** Advances the virtual clock in small steps until `work` settles. */
async function drive<T>(sim: Simulator, work: Promise<T>): Promise<T> {
  let done = false
  const settled = work.finally(() => {
    done = true
  })
  settled.catch(() => {})
  while (!done) await sim.clock.advance(1)
  return settled
}

const codeOf = (r: PromiseSettledResult<unknown>) =>
  r.status === 'fulfilled' ? 'ok' : PortLayerError.isInstance(r.reason) ? r.reason.code : String(r.reason)

describe('linearizable commits', () => {
  it('of many commits based on one version exactly one lands, whole, under latency with jitter', async () => {
    const sim = virtualSim()
    sim.registerExtension({ namespace: 'owner', prepare: (ctx) => ({ applied: ctx.pending }) })
    const id = await sim.commit(await sim.createContainer('contended'))
    const base = await sim.getHandle(id)
    sim.faults.setLatency('*', 1, 20)
    const f = sim.handleFactory
    const attempts = Array.from({ length: 24 }, async (_, i) => {
      let h = await sim.setLimits(base, 100 + i, 100 + i)
      h = await sim.copyTo(h, `/srv/c${i}`, 'mark', 0o644, new Uint8Array([i]))
      h = f.withExtension(h, 'owner', i)
      return sim.commit(h)
    })
    const results = await drive(sim, Promise.allSettled(attempts))
    const codes = results.map(codeOf)
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1)
    expect(codes.filter((c) => c !== 'ok').every((c) => c === 'CONFLICT')).toBe(true)
    const winner = codes.indexOf('ok')
    sim.faults.clear()
    expect((await sim.getContainerConfig(id)).limits).toEqual({
      memoryMb: 100 + winner,
      cpuMhz: 100 + winner,
    })
    expect(await sim.getExtensionState(id, 'owner')).toBe(winner)
    expect(Number((await sim.getHandle(id)).baseVersion)).toBe(Number(base.baseVersion) + 1)
    // Only the winner's copy is pending; it lands at start.
    let h = await sim.setEntryPoint(await sim.getHandle(id), '/', '/bin/sleep', '100')
    await sim.commit(await sim.setRunState(h, 'running'))
    expect(sim.fs(id).readdir('/srv')).toEqual([`c${winner}`])
    h = await sim.setRunState(await sim.getHandle(id), 'stopped')
    await sim.commit(h)
  })

  it('a create-handle committed concurrently creates the container once', async () => {
    const sim = virtualSim()
    sim.faults.setLatency('commit', 0, 10)
    const h = await sim.createContainer('once')
    const results = await drive(sim, Promise.allSettled(Array.from({ length: 8 }, () => sim.commit(h))))
    expect(results.map(codeOf).sort()).toEqual([
      'CONFLICT',
      'CONFLICT',
      'CONFLICT',
      'CONFLICT',
      'CONFLICT',
      'CONFLICT',
      'CONFLICT',
      'ok',
    ])
    sim.faults.clear()
    expect(await sim.listContainers()).toEqual([h.containerId])
  })

  it('read-modify-commit clients with async prepares never lose an update', async () => {
    const sim = virtualSim()
    let prepares = 0
    sim.registerExtension<number, number>({
      namespace: 'counter',
      prepare: async (ctx) => {
        prepares++
        // Yield a random number of macrotasks so prepares of different commits interleave.
        for (let i = Math.floor(Math.random() * 4); i > 0; i--) await new Promise((r) => setImmediate(r))
        return { applied: ctx.pending }
      },
    })
    const id = await sim.commit(sim.handleFactory.withExtension(await sim.createContainer('c'), 'counter', 0))
    sim.faults.setLatency('*', 0, 5)
    const CLIENTS = 8
    const INCREMENTS = 6
    const failures: string[] = []
    let landed = 0
    const client = async () => {
      for (let n = 0; n < INCREMENTS; ) {
        const h = await sim.getHandle(id)
        const value = (await sim.getExtensionState<number>(id, 'counter')) ?? 0
        try {
          await sim.commit(sim.handleFactory.withExtension(h, 'counter', value + 1))
          landed++
          n++
        } catch (e) {
          if (!PortLayerError.isInstance(e, 'CONFLICT')) failures.push(String(e))
        }
      }
    }
    await drive(sim, Promise.all(Array.from({ length: CLIENTS }, client)))
    sim.faults.clear()
    expect(failures).toEqual([])
    expect(landed).toBe(CLIENTS * INCREMENTS)
    expect(await sim.getExtensionState(id, 'counter')).toBe(CLIENTS * INCREMENTS)
    expect(prepares).toBeGreaterThan(CLIENTS * INCREMENTS)
  })

  it('a destroy racing a commit leaves either the committed container or none, never half of it', async () => {
    const sim = virtualSim()
    const id = await sim.commit(await sim.createContainer('racy'))
    sim.faults.setLatency('*', 0, 10)
    const h = await drive(
      sim,
      sim.getHandle(id).then((x) => sim.setLimits(x, 64, 64)),
    )
    const [commit, destroy] = await drive(sim, Promise.allSettled([sim.commit(h), sim.destroyContainer(id)]))
    sim.faults.clear()
    expect(destroy?.status).toBe('fulfilled')
    expect(['ok', 'NOT_FOUND']).toContain(codeOf(commit as PromiseSettledResult<unknown>))
    expect(await sim.listContainers()).toEqual([])
  })
})
