import { describeConformance } from '@portlayer/conformance'
import { useVcsim } from './support/vcsim.js'

// The one behavioural suite, against PortLayerVsphere over the node-soap gateway on the vcsim
// harness. vSphere lacks nothing the suite asks for, so every capability is declared present.
const vcsim = useVcsim()

describeConformance(
  'vsphere on vcsim',
  async () => {
    const pl = await vcsim.backend({ exitPollIntervalMs: 100, stopGracePeriodMs: 2_000 })
    return {
      portLayer: pl,
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      close: () => pl.close(),
    }
  },
  {},
  { timeoutMs: 60_000, pollMs: 50 },
)
