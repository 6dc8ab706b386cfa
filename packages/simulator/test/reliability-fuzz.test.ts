import { fuzzPortLayer, seedFromEnv } from '@portlayer/conformance/reliability'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, type Simulator } from '../src/index.js'
import { virtualSim } from './helpers.js'

// Model-based fuzzing of the simulator with the model and commands every backend shares
// (@portlayer/conformance/reliability). On a virtual clock: fast, and the same on every run of a
// seed. A failure prints the seed and fast-check's replay path; rerun with PORTLAYER_SEED and
// PORTLAYER_FUZZ_PATH.

const COMMANDS = Number(process.env.PORTLAYER_FUZZ_COMMANDS ?? 100_000)

/** Advances the virtual clock until `work` settles. */
async function drive<T>(sim: Simulator, work: Promise<T>): Promise<T> {
  let done = false
  const settled = work.finally(() => {
    done = true
  })
  settled.catch(() => {})
  await Promise.resolve()
  while (!done) {
    await sim.clock.advance(100)
    await new Promise((r) => setImmediate(r))
  }
  return settled
}

describe('model-based fuzzing (simulator)', () => {
  it(`at least ${COMMANDS} commands: no crash, only PortLayerErrors, results as the model says, failures change nothing`, async () => {
    const seed = seedFromEnv()
    const report = await fuzzPortLayer({
      commands: COMMANDS,
      commandsPerRun: 80,
      seed,
      path: process.env.PORTLAYER_FUZZ_PATH,
      target: async () => {
        const sim = virtualSim({ stopGracePeriodMs: 1_000 })
        return { pl: sim, defaultLimits: DEFAULT_LIMITS, settle: (work) => drive(sim, work) }
      },
      release: async (target) => (target.pl as Simulator).close(),
    })
    if (process.env.PORTLAYER_RELIABILITY_REPORT)
      console.info(
        `simulator fuzz: seed ${seed}, ${report.runs} runs, ${report.commands} commands`,
        report.counts,
      )
    expect(report.commands).toBeGreaterThanOrEqual(process.env.PORTLAYER_FUZZ_PATH ? 1 : COMMANDS)
    expect(report.counts['commit:ok'] ?? 0).toBeGreaterThan(0)
  }, 300_000)
})

describe('the fuzzer finds bugs', () => {
  it('a backend whose failed commit still changed the limits is caught, with the seed and replay path', async () => {
    const run = fuzzPortLayer({
      commands: 3_000,
      seed: 42,
      target: async () => {
        const sim = virtualSim({ stopGracePeriodMs: 1_000 })
        // Every commit that is refused as CONFLICT first writes its limits through a fresh handle.
        const buggy = new Proxy(sim, {
          get(target, key, receiver) {
            if (key !== 'commit') return Reflect.get(target, key, receiver)
            return async (h: Parameters<Simulator['commit']>[0]) => {
              try {
                return await target.commit(h)
              } catch (e) {
                if (h.baseVersion !== null && h.pending.limits) {
                  const fresh = await target.getHandle(h.containerId).catch(() => undefined)
                  if (fresh) await target.commit(await target.setLimits(fresh, 999, 999)).catch(() => {})
                }
                throw e
              }
            }
          },
        })
        return { pl: buggy, defaultLimits: DEFAULT_LIMITS, settle: (work) => drive(sim, work) }
      },
    })
    await expect(run).rejects.toThrow(/seed: 42[\s\S]*path:/)
  }, 120_000)
})
