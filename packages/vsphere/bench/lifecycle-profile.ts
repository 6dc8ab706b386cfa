// Where a portlayer lifecycle's time goes: the lifecycle of bench/lifecycle.ts, alone (no peer),
// timed per operation (wall and this process's CPU), and with --prof a CPU profile of the measured
// lifecycles, summed by package and by function. A benchmark, never a test: nothing is asserted.
//
//   node --import tsx packages/vsphere/bench/lifecycle-profile.ts [--lifecycles 150] [--prof] [--out file.cpuprofile]
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { startVcsim } from '@portlayer/vcsim'
import { createVsphere } from '../src/index.js'
import { harnessGateway, harnessSettings, lifecycle } from './harness-backend.js'

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i < 0 ? undefined : args[i + 1]
}
const LIFECYCLES = Number(option('lifecycles') ?? 150)
const WARMUP = 40
const PROFILE = args.includes('--prof')
const OUT = option('out')

interface Profile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }[]
  samples: number[]
}

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const perOp = new Map<string, { wall: number; cpu: number }>()
async function op<T>(name: string, work: () => Promise<T>): Promise<T> {
  const wall = performance.now()
  const cpu = cpuMs()
  const result = await work()
  const o = perOp.get(name) ?? { wall: 0, cpu: 0 }
  o.wall += performance.now() - wall
  o.cpu += cpuMs() - cpu
  perOp.set(name, o)
  return result
}

/** Self samples summed by package (or Node area) and by function, idle left out. */
function summarise(profile: Profile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (const s of profile.samples) self.set(s, (self.get(s) ?? 0) + 1)
  const area = (url: string, fn: string): string => {
    if (!url) return fn
    const pkg = /\/packages\/([^/]+)\//.exec(url)
    if (pkg) return `@portlayer/${pkg[1]}`
    const dep = /node_modules\/(?:\.pnpm\/)?(@?[^/@]+)/.exec(url)
    if (dep) return dep[1] as string
    return url.startsWith('node:') ? url.split('/').slice(0, 2).join('/') : url
  }
  const areas = new Map<string, number>()
  const fns = new Map<string, number>()
  let busy = 0
  for (const [id, count] of self) {
    const frame = byId.get(id)?.callFrame
    if (!frame || frame.functionName === '(idle)') continue
    busy += count
    const a = area(frame.url, frame.functionName)
    areas.set(a, (areas.get(a) ?? 0) + count)
    const f = `${frame.functionName || '(anonymous)'} ${a}`
    fns.set(f, (fns.get(f) ?? 0) + count)
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((x, y) => y[1] - x[1])
      .slice(0, n)
      .map(([k, c]) => `  ${((100 * c) / busy).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n')
  return `CPU samples while busy, by area:\n${top(areas, 14)}\nby function:\n${top(fns, 16)}`
}

const vc = await startVcsim({ tls: true })
const gateway = await harnessGateway(vc)
const pl = await createVsphere({ gateway, ...harnessSettings(vc) })
try {
  for (let i = 0; i < WARMUP; i++) await lifecycle(pl, op)
  perOp.clear()
  const session = new Session()
  session.connect()
  if (PROFILE) {
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 100 })
    await session.post('Profiler.start')
  }
  await vc.admin.reset()
  const wall0 = performance.now()
  const cpu0 = cpuMs()
  for (let i = 0; i < LIFECYCLES; i++) await lifecycle(pl, op)
  const wall = (performance.now() - wall0) / LIFECYCLES
  const cpu = (cpuMs() - cpu0) / LIFECYCLES
  const calls = await vc.admin.calls()
  const soap = Object.values(calls).reduce((a, b) => a + b, 0) / LIFECYCLES
  console.log(`${new Date().toISOString()}, ${LIFECYCLES} lifecycles after ${WARMUP} warm-up ones`)
  console.log(
    `per lifecycle: wall ${wall.toFixed(2)} ms, client CPU ${cpu.toFixed(2)} ms, ${soap} SOAP calls`,
  )
  for (const [name, o] of perOp) {
    console.log(
      `  ${name.padEnd(22)} wall ${(o.wall / LIFECYCLES).toFixed(2).padStart(5)} ms   CPU ${(o.cpu / LIFECYCLES).toFixed(2).padStart(5)} ms`,
    )
  }
  if (PROFILE) {
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile }
    if (OUT) writeFileSync(OUT, JSON.stringify(profile))
    console.log(summarise(profile))
  }
  session.disconnect()
} finally {
  await pl.close()
  await gateway.close()
  await vc.stop()
}
