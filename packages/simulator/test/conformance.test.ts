import { describeConformance } from '@portlayer/conformance'
import { createSimulator } from '../src/index.js'

// The virtual clock makes every wait in the suite (sleeps, polling) instant. A small bound on
// kept exited exec'd processes keeps the suite's test of it short; it is not below 4, the most
// exec'd processes another test of the suite expects to find in one container.
const MAX_EXITED_EXECS = 4

describeConformance(
  'simulator',
  () => {
    const reported: unknown[] = []
    const sim = createSimulator({
      clock: 'virtual',
      maxExitedExecs: MAX_EXITED_EXECS,
      onBackgroundError: (e) => reported.push(e),
    })
    return { portLayer: sim, advance: (ms) => sim.clock.advance(ms), backgroundErrors: () => reported }
  },
  {},
  { maxExitedExecs: MAX_EXITED_EXECS },
)
