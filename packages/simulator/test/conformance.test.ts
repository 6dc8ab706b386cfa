import { describeConformance } from '@portlayer/conformance'
import { createSimulator } from '../src/index.js'

// The virtual clock makes every wait in the suite (sleeps, polling) instant. A small bound on
// kept exited exec'd processes keeps the suite's test of it short; it is not below 4, the most
// exec'd processes another test of the suite expects to find in one container. A small output
// bound keeps the test of dropped output short (the suite needs at least 1,024 bytes).
const MAX_EXITED_EXECS = 4
const OUTPUT_LIMIT_BYTES = 1024

describeConformance(
  'simulator',
  () => {
    const reported: unknown[] = []
    const sim = createSimulator({
      clock: 'virtual',
      maxExitedExecs: MAX_EXITED_EXECS,
      outputLimitBytes: OUTPUT_LIMIT_BYTES,
      onBackgroundError: (e) => reported.push(e),
    })
    return {
      portLayer: sim,
      advance: (ms) => sim.clock.advance(ms),
      backgroundErrors: () => reported,
      // Another client of the same world; the suite never closes it (that would close the world).
      otherClient: async () => sim.connect(),
    }
  },
  {},
  { maxExitedExecs: MAX_EXITED_EXECS, outputLimitBytes: OUTPUT_LIMIT_BYTES },
)
