import { fuzzPortLayer, seedFromEnv } from '@portlayer/conformance/reliability'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, type PortLayerVsphere } from '../src/index.js'
import { useVcsim } from './support/vcsim.js'

// Model-based fuzzing on the harness with the model and commands the simulator is fuzzed with
// (@portlayer/conformance/reliability). Each fast-check run uses one backend and removes its
// containers afterwards. Shrinking is off (a replay costs seconds here): a failure prints the
// seed and replay path; rerun with PORTLAYER_SEED and PORTLAYER_FUZZ_PATH.

const vcsim = useVcsim()
const COMMANDS = Number(process.env.PORTLAYER_FUZZ_COMMANDS_VSPHERE ?? 2_000)

async function removeAll(pl: PortLayerVsphere, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    try {
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
      await pl.destroyContainer(id)
    } catch {
      // gone already
    }
  }
}

describe('model-based fuzzing (vSphere on the harness)', () => {
  it(`at least ${COMMANDS} commands: no crash, only PortLayerErrors, results as the model says, failures change nothing`, async () => {
    const seed = seedFromEnv()
    const report = await fuzzPortLayer({
      commands: COMMANDS,
      commandsPerRun: 60,
      seed,
      path: process.env.PORTLAYER_FUZZ_PATH,
      endOnFailure: true,
      target: async () => ({
        pl: await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 }),
        defaultLimits: DEFAULT_LIMITS,
      }),
      release: async (target, ids) => {
        const pl = target.pl as PortLayerVsphere
        await removeAll(pl, ids)
        await pl.close()
      },
    })
    if (process.env.PORTLAYER_RELIABILITY_REPORT)
      console.info(
        `vsphere fuzz: seed ${seed}, ${report.runs} runs, ${report.commands} commands`,
        report.counts,
      )
    expect(report.commands).toBeGreaterThanOrEqual(process.env.PORTLAYER_FUZZ_PATH ? 1 : COMMANDS)
  }, 240_000)
})
