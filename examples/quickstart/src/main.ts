import { createSimulator } from '@portlayer/simulator'
import { runQuickstart } from './quickstart.js'

// The in-memory simulator on real time: no setup, nothing to clean up.
const portLayer = createSimulator()
console.log('portlayer quickstart on the in-memory simulator\n')
await runQuickstart(portLayer)
