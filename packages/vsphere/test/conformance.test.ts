import { describeConformance } from '@portlayer/conformance'
import { useVcsim } from './support/vcsim.js'

// The one behavioural suite, against PortLayerVsphere over the node-soap gateway on the vcsim
// harness. vSphere lacks nothing the suite asks for, so every capability is declared present.
// A small bound on kept exited exec'd processes keeps the suite's test of it short; it is not
// below 4, the most exec'd processes another test of the suite expects to find in one container.
const vcsim = useVcsim()
const MAX_EXITED_EXECS = 4
const OUTPUT_LIMIT_BYTES = 1024

describeConformance(
  'vsphere on vcsim',
  async () => {
    const reported: unknown[] = []
    const settings = {
      exitPollIntervalMs: 100,
      stopGracePeriodMs: 2_000,
      maxExitedExecs: MAX_EXITED_EXECS,
      outputLimitBytes: OUTPUT_LIMIT_BYTES,
      onBackgroundError: (e: unknown) => reported.push(e),
    }
    const pl = await vcsim.backend(settings)
    const others: Array<{ close(): Promise<void> }> = []
    return {
      portLayer: pl,
      backgroundErrors: () => reported,
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      // Another client of the same folder: a second backend instance on the harness.
      otherClient: async () => {
        const other = await vcsim.backend(settings)
        others.push(other)
        return other
      },
      close: async () => {
        for (const other of others) await other.close()
        await pl.close()
      },
    }
  },
  {},
  { timeoutMs: 60_000, pollMs: 50, maxExitedExecs: MAX_EXITED_EXECS, outputLimitBytes: OUTPUT_LIMIT_BYTES },
)
