import { createSimulator } from '@portlayer/simulator'
import { makeChanges } from './changes.js'
import { watchEvents } from './watch.js'

// One simulated world, two clients: the watcher prints the event stream while the other client
// (as another script connected to the same backend would) changes containers.
const watcher = createSimulator()
const changer = watcher.connect()
const controller = new AbortController()

console.log('portlayer events on the in-memory simulator: one client watches, another changes\n')
const watching = watchEvents(watcher, (line) => console.log(`[watch]   ${line}`), {
  signal: controller.signal,
})
await watching.ready
await makeChanges(changer, (line) => console.log(`[changer] ${line}`))
// Every change has been delivered by now on the simulator; other backends may need a moment.
await new Promise((resolve) => setTimeout(resolve, 100))
controller.abort()
console.log(`\n${await watching.done} events`)
watcher.close()
