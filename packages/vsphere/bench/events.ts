// Event latency and the idle cost of the vSphere event stream (issue 13), on one vcsim harness.
// Run with `pnpm bench:events` (or `node --import tsx packages/vsphere/bench/events.ts [--idle-seconds N]`).
// Prints; asserts nothing. A writer backend commits changes; a listener backend (another session)
// measures the time from each commit resolving to its event arriving.
import { startVcsim } from '@portlayer/vcsim'
import { createVsphere, type PortLayerVsphere } from '../src/index.js'
import { harnessGateway, harnessSettings } from './harness-backend.js'

const args = process.argv.slice(2)
const idleSeconds = Number(args[args.indexOf('--idle-seconds') + 1] ?? 65) || 65
const samples = Number(args[args.indexOf('--samples') + 1] ?? 20) || 20

const vc = await startVcsim({ tls: true })
async function backend(): Promise<PortLayerVsphere> {
  return createVsphere({ gateway: await harnessGateway(vc), ...harnessSettings(vc) })
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

try {
  const writer = await backend()
  const listener = await backend()
  const stream = listener.events({ types: ['created', 'destroyed'] })
  await stream.ready
  const iterator = stream[Symbol.asyncIterator]()
  const latencies: number[] = []
  for (let i = 0; i < samples; i++) {
    const h = await writer.createContainer(`latency-${i}`)
    const id = await writer.commit(h)
    const committedAt = performance.now()
    for (;;) {
      const next = await iterator.next()
      if (next.done) throw new Error('the stream ended')
      if (next.value.type === 'created' && next.value.containerId === id) break
    }
    latencies.push(performance.now() - committedAt)
    await writer.destroyContainer(id)
  }
  console.log(
    `event latency (commit resolved → event delivered), ${samples} creates: median ${percentile(latencies, 50).toFixed(1)} ms, p90 ${percentile(latencies, 90).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
  )

  // Idle: only the listener's stream is open; count what reaches the server.
  await new Promise((r) => setTimeout(r, 1_000))
  await vc.admin.reset()
  await new Promise((r) => setTimeout(r, idleSeconds * 1_000))
  const calls = await vc.admin.calls()
  const total = Object.values(calls).reduce((a, b) => a + b, 0)
  console.log(
    `idle stream over ${idleSeconds} s: ${JSON.stringify(calls)} — ${((total * 60) / idleSeconds).toFixed(1)} SOAP calls per minute`,
  )
  await iterator.return?.()
  await writer.close()
  await listener.close()
} finally {
  await vc.close()
}
