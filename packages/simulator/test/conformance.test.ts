import { describeConformance } from '@portlayer/conformance'
import { createSimulator } from '../src/index.js'

// The virtual clock makes every wait in the suite (sleeps, polling) instant.
describeConformance('simulator', () => {
  const sim = createSimulator({ clock: 'virtual' })
  return { portLayer: sim, advance: (ms) => sim.clock.advance(ms) }
})
