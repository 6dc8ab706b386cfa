import {
  checkHistory,
  runWorkload,
  saveHistory,
  seededRandom,
  seedFromEnv,
} from '@portlayer/conformance/reliability'
import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { SIM_OPERATIONS, type Simulator } from '../src/index.js'
import { virtualSim } from './helpers.js'

// Recorded concurrent histories of 16 clients, checked against the sequential container model.
// The simulator cannot share one world between two instances (snapshot/restore copies it), so
// all 16 clients use one instance; latency with jitter on the virtual clock interleaves them.

const CLIENTS = 16
const ACTIONS = 60
const RUNS = 6

/** Advances the virtual clock in small steps until `work` settles. */
async function drive<T>(sim: Simulator, work: Promise<T>, onTick: (tick: number) => void): Promise<T> {
  let done = false
  const settled = work.finally(() => {
    done = true
  })
  settled.catch(() => {})
  for (let tick = 0; !done; tick++) {
    onTick(tick)
    await sim.clock.advance(1)
  }
  return settled
}

async function run(seed: number, faults: boolean) {
  const sim = virtualSim({ stopGracePeriodMs: 1_000 })
  sim.faults.setLatency('*', 1, 8)
  const random = seededRandom(seed ^ 0x5eed)
  // Every few ticks one more call fails; injected faults fail a call before it does anything
  // (outcome not-applied).
  const chaos = (tick: number) => {
    if (!faults || tick % 3 !== 0) return
    const op = SIM_OPERATIONS[Math.floor(random() * SIM_OPERATIONS.length)] ?? 'commit'
    sim.faults.failNext(op, 1, random() < 0.5 ? 'UNAVAILABLE' : 'TIMEOUT')
  }
  const result = await drive(
    sim,
    runWorkload({
      // Two clients of one simulated world (connect()), as two processes on one backend.
      instances: [sim, sim.connect()],
      clients: CLIENTS,
      containers: 3,
      actionsPerClient: ACTIONS,
      seed,
    }),
    chaos,
  )
  sim.faults.clear()
  sim.close()
  return result
}

describe('linearizable histories on the simulator', () => {
  for (const faults of [false, true]) {
    it(`${CLIENTS} clients × ${ACTIONS} actions, ${RUNS} runs, ${faults ? 'with injected faults' : 'without faults'}`, async () => {
      const base = seedFromEnv()
      let operations = 0
      for (let r = 0; r < RUNS; r++) {
        const seed = base + r
        const { history, counts } = await run(seed, faults)
        const check = checkHistory(history)
        operations += check.operations
        const saved = check.ok ? '' : `; history in ${await saveHistory(`simulator-seed-${seed}`, history)}`
        expect(
          check.failures,
          `seed ${seed} (rerun with PORTLAYER_SEED=${seed}); ${JSON.stringify(counts)}${saved}`,
        ).toEqual([])
        expect(counts['commit:ok'] ?? 0, 'commits landed').toBeGreaterThan(10)
        expect(counts['commit:CONFLICT'] ?? 0, 'commits conflicted').toBeGreaterThan(10)
        const failed = Object.entries(counts).filter(([k]) => /:(UNAVAILABLE|TIMEOUT)$/.test(k))
        if (faults)
          expect(
            failed.reduce((n, [, v]) => n + v, 0),
            'calls failed by injected faults',
          ).toBeGreaterThan(20)
        else expect(failed).toEqual([])
        expect(Object.keys(counts).filter((k) => k.endsWith('NOT_A_PORTLAYER_ERROR'))).toEqual([])
      }
      expect(operations).toBeGreaterThan(RUNS * CLIENTS * ACTIONS)
      if (process.env.PORTLAYER_RELIABILITY_REPORT)
        console.info(
          `simulator linearizability (faults: ${faults}): ${RUNS} runs, ${operations} calls checked`,
        )
    }, 60_000)
  }

  it('the same workload catches a backend that reports a landed commit as not applied', async () => {
    const sim = virtualSim()
    sim.faults.setLatency('*', 1, 8)
    let n = 0
    // Every 7th commit lands, then claims it did not (UNAVAILABLE, outcome not-applied).
    const liar = new Proxy(sim, {
      get(target, key, receiver) {
        if (key !== 'commit') return Reflect.get(target, key, receiver)
        return async (h: Parameters<Simulator['commit']>[0]) => {
          const id = await target.commit(h)
          if (++n % 7 === 0) throw new PortLayerError('UNAVAILABLE', 'lost', { backend: 'liar' })
          return id
        }
      },
    })
    const { history } = await drive(
      sim,
      runWorkload({
        instances: [liar],
        clients: CLIENTS,
        containers: 2,
        actionsPerClient: 30,
        seed: seedFromEnv(),
      }),
      () => {},
    )
    sim.close()
    const check = checkHistory(history)
    expect(check.ok).toBe(false)
    expect(check.failures.join('\n')).toContain('not linearizable')
  })
})
