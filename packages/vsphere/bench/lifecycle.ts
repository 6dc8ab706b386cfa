// Issue 11's measuring stick: a full container lifecycle through PortLayerVsphere beside the same
// vSphere work written by hand with govmomi (tools/govmomi-peer), against ONE vcsim harness,
// interleaved in rounds. A benchmark, never a test: nothing here is asserted.
//
//   pnpm bench:vsphere                                  5 rounds of 20 lifecycles each
//   pnpm bench:vsphere -- --rounds 3 --lifecycles 10    shorter
//   ... -- --json                                       also print every measurement as JSON
//   ... -- --warmup 5                                   fewer warm-up lifecycles per side (40)
// Typecheck: npx tsc -p packages/vsphere/bench (the package's own tsconfig leaves bench/ out).
//
// Per round, each side runs its lifecycles one after another (the order of the two sides
// alternates between rounds); wall time is measured around them, CPU time is each process's own
// (this Node process for portlayer, the peer's getrusage for the peer), the harness's CPU is read
// from /proc, and SOAP calls are what the harness's admin endpoint counted during that phase
// alone (the peer logs in and resolves its inventory before the counters are reset).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises'
import { cpus } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { DEFAULT_GOPATH, startVcsim, type Vcsim } from '@portlayer/vcsim'
import type { SoapGateway } from '@portlayer/vmomi-soap'
import { createVsphere, type PortLayerVsphere } from '../src/index.js'
import { harnessGateway, harnessSettings, lifecycle } from './harness-backend.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../../..')
const peerSource = join(repo, 'tools/govmomi-peer')
const cacheDir = join(repo, 'node_modules/.cache/govmomi-peer')

const args = process.argv.slice(2)
const numberArg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const n = Number(args[i + 1])
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`)
  return n
}
const ROUNDS = numberArg('rounds', 5)
const LIFECYCLES = numberArg('lifecycles', 20)
// Node compiles hot code only after many runs (the Go peer is compiled ahead of time): 40 warm-up
// lifecycles bring the client to its steady state (5 left it ~50% above it in CPU per lifecycle).
const WARMUP = numberArg('warmup', 40)
const CONCURRENT = 8
const CONCURRENCY_REPEATS = numberArg('concurrency-repeats', 3)
const JSON_OUT = args.includes('--json')

interface Phase {
  wallMs: number
  cpuMs: number
  harnessCpuMs: number
  calls: Record<string, number>
}

// ---------------------------------------------------------------------------------------------
// The peer's build: cached by a hash of its sources and the Go version, like the harness's.

function goEnv(): NodeJS.ProcessEnv {
  const gopath = process.env.PORTLAYER_VCSIM_GOPATH ?? DEFAULT_GOPATH
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: gopath,
    GOPROXY: 'off',
    GOFLAGS: '-buildvcs=false',
  }
}

function runToEnd(cmd: string, argv: string[], cwd?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, argv, { cwd, env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.once('error', fail)
    child.once('close', (code) => ok({ code, out }))
  })
}

async function buildPeer(): Promise<string> {
  const go = process.env.PORTLAYER_VCSIM_GO ?? 'go'
  const version = await runToEnd(go, ['version'])
  if (version.code !== 0) throw new Error(`\`${go} version\` failed: install golang-go (pnpm vcsim:setup)`)
  const hash = createHash('sha256').update(`${version.out.trim()}\n${process.platform}-${process.arch}\n`)
  hash.update(await readFile(join(peerSource, 'main.go')))
  const binary = join(cacheDir, `govmomi-peer-${hash.digest('hex').slice(0, 16)}`)
  if (existsSync(binary)) return binary
  await mkdir(cacheDir, { recursive: true })
  // Written beside and renamed into place, so a concurrent run never executes half a binary.
  const temp = `${binary}.${process.pid}.tmp`
  const built = await runToEnd(go, ['build', '-trimpath', '-o', temp, '.'], peerSource)
  if (built.code !== 0) {
    await rm(temp, { force: true })
    throw new Error(`building tools/govmomi-peer failed:\n${built.out.trim()}`)
  }
  await rename(temp, binary)
  // Binaries of older sources are never run again.
  for (const file of await readdir(cacheDir)) {
    const path = join(cacheDir, file)
    if (path !== binary && /^govmomi-peer-[0-9a-f]{16}$/.test(file)) await rm(path, { force: true })
  }
  return binary
}

// ---------------------------------------------------------------------------------------------

/** CPU time of a process so far, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of stat; fields[0] here is field 3.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

function ownCpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function portlayerPhase(vc: Vcsim, pl: PortLayerVsphere, n: number): Promise<Phase> {
  await vc.admin.reset()
  const cpu0 = ownCpuMs()
  const h0 = processCpuMs(vc.pid)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await lifecycle(pl)
  const wallMs = performance.now() - t0
  const cpuMs = ownCpuMs() - cpu0
  const harnessCpuMs = processCpuMs(vc.pid) - h0
  return { wallMs, cpuMs, harnessCpuMs, calls: await vc.admin.calls() }
}

interface PeerResult {
  lifecycles: number
  inFlight: number
  wallMs: number
  cpuMs: number
  soapCalls: number
  calls: Record<string, number>
  transfers: number
}

async function peerPhase(
  vc: Vcsim,
  binary: string,
  n: number,
  inFlight = 1,
): Promise<Phase & { own: PeerResult }> {
  const child = spawn(binary, ['-handshake', '-n', String(n), '-inflight', String(inFlight)], {
    env: {
      ...process.env,
      VC_URL: vc.url,
      VC_USERNAME: vc.username,
      VC_PASSWORD: vc.password,
      VC_THUMBPRINT: vc.thumbprint ?? '',
      GUEST_USERNAME: vc.guest.username,
      GUEST_PASSWORD: vc.guest.password,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<number | null>((ok) => child.once('close', ok))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const nextLine = async (): Promise<string> => {
    const next = await lines.next()
    if (next.done)
      throw new Error(`govmomi-peer ended early (${(await exited) ?? 'signal'}): ${stderr.trim()}`)
    return next.value
  }
  try {
    if (!JSON.parse(await nextLine()).ready) throw new Error('govmomi-peer: no ready line')
    await vc.admin.reset()
    const h0 = processCpuMs(vc.pid)
    child.stdin.write('go\n')
    const own = JSON.parse(await nextLine()) as PeerResult
    const harnessCpuMs = processCpuMs(vc.pid) - h0
    const calls = await vc.admin.calls()
    return { wallMs: own.wallMs, cpuMs: own.cpuMs, harnessCpuMs, calls, own }
  } finally {
    child.stdin.end()
    const code = await exited
    if (code !== 0 && code !== null) process.stderr.write(`govmomi-peer exited ${code}: ${stderr.trim()}\n`)
  }
}

const total = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
const f1 = (x: number) => x.toFixed(1)
const f2 = (x: number) => x.toFixed(2)
const range = (xs: number[], f = f1) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`
const perLifecycle = (calls: Record<string, number>, n: number) =>
  Object.fromEntries(
    Object.entries(calls)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, v / n]),
  )

async function main(): Promise<void> {
  const started = new Date()
  const binary = await buildPeer()
  const vc = await startVcsim({ tls: true })
  let gateway: SoapGateway | undefined
  let pl: PortLayerVsphere | undefined
  try {
    gateway = await harnessGateway(vc)
    pl = await createVsphere({ gateway, ...harnessSettings(vc) })
    const backend = pl

    // Warm-up: JIT, sockets, the first container view and the harness's own caches.
    await portlayerPhase(vc, backend, WARMUP)
    await peerPhase(vc, binary, WARMUP)

    const rounds: { portlayer: Phase; peer: Phase & { own: PeerResult } }[] = []
    for (let r = 0; r < ROUNDS; r++) {
      let portlayer: Phase
      let peer: Phase & { own: PeerResult }
      if (r % 2 === 0) {
        portlayer = await portlayerPhase(vc, backend, LIFECYCLES)
        peer = await peerPhase(vc, binary, LIFECYCLES)
      } else {
        peer = await peerPhase(vc, binary, LIFECYCLES)
        portlayer = await portlayerPhase(vc, backend, LIFECYCLES)
      }
      rounds.push({ portlayer, peer })
      process.stderr.write(
        `round ${r + 1}/${ROUNDS}: portlayer ${f1(portlayer.wallMs / LIFECYCLES)} ms, peer ${f1(peer.wallMs / LIFECYCLES)} ms per lifecycle\n`,
      )
    }

    // 8 in flight against 8 one after another, interleaved; the peer's figure is for context.
    const concurrency: {
      sequentialMs: number
      inFlightMs: number
      peerSequentialMs: number
      peerInFlightMs: number
    }[] = []
    for (let r = 0; r < CONCURRENCY_REPEATS; r++) {
      let t0 = performance.now()
      for (let i = 0; i < CONCURRENT; i++) await lifecycle(backend)
      const sequentialMs = performance.now() - t0
      t0 = performance.now()
      await Promise.all(Array.from({ length: CONCURRENT }, () => lifecycle(backend)))
      const inFlightMs = performance.now() - t0
      const peerSequentialMs = (await peerPhase(vc, binary, CONCURRENT, 1)).wallMs
      const peerInFlightMs = (await peerPhase(vc, binary, CONCURRENT, CONCURRENT)).wallMs
      concurrency.push({ sequentialMs, inFlightMs, peerSequentialMs, peerInFlightMs })
    }

    const n = LIFECYCLES
    const plWall = rounds.map((r) => r.portlayer.wallMs / n)
    const peerWall = rounds.map((r) => r.peer.wallMs / n)
    const plCpu = rounds.map((r) => r.portlayer.cpuMs / n)
    const peerCpu = rounds.map((r) => r.peer.cpuMs / n)
    const plHarness = rounds.map((r) => r.portlayer.harnessCpuMs / n)
    const peerHarness = rounds.map((r) => r.peer.harnessCpuMs / n)
    const wallRatio = rounds.map((r) => r.portlayer.wallMs / r.peer.wallMs)
    const cpuRatio = rounds.map((r) => r.portlayer.cpuMs / r.peer.cpuMs)
    const plCalls = rounds.map((r) => total(r.portlayer.calls) / n)
    const peerCalls = rounds.map((r) => total(r.peer.calls) / n)
    const peerOwnCalls = rounds.map((r) => r.peer.own.soapCalls / n)
    const speedup = concurrency.map((c) => c.sequentialMs / c.inFlightMs)
    const peerSpeedup = concurrency.map((c) => c.peerSequentialMs / c.peerInFlightMs)

    let commit = 'unknown'
    try {
      commit = (await runToEnd('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'])).out.trim()
    } catch {
      // not a checkout
    }
    const lines = [
      `vSphere lifecycle bench — ${started.toISOString()}, commit ${commit}`,
      `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}; harness ${vc.url.startsWith('https') ? 'https' : 'http'}, ${ROUNDS} rounds × ${n} lifecycles, interleaved`,
      '',
      'per lifecycle, median of rounds (min–max)  portlayer             govmomi peer',
      `  wall ms                                  ${range(plWall).padEnd(22)}${range(peerWall)}`,
      `  client CPU ms                            ${range(plCpu).padEnd(22)}${range(peerCpu)}`,
      `  harness CPU ms                           ${range(plHarness).padEnd(22)}${range(peerHarness)}`,
      `  SOAP calls (server-counted)              ${range(plCalls).padEnd(22)}${range(peerCalls)}`,
      `  SOAP calls (peer's own count)                                  ${range(peerOwnCalls)}`,
      '',
      `portlayer ÷ peer, wall:  ${range(wallRatio, f2)}   (goal ≤ 0.80)`,
      `portlayer ÷ peer, CPU:   ${range(cpuRatio, f2)}`,
      `8 in flight vs 8 one by one, portlayer: ${range(speedup, f2)}× faster (goal ≥ 4); ` +
        `sequential ${f1(median(concurrency.map((c) => c.sequentialMs)))} ms, in flight ${f1(median(concurrency.map((c) => c.inFlightMs)))} ms`,
      `8 in flight vs 8 one by one, peer:      ${range(peerSpeedup, f2)}× faster; ` +
        `sequential ${f1(median(concurrency.map((c) => c.peerSequentialMs)))} ms, in flight ${f1(median(concurrency.map((c) => c.peerInFlightMs)))} ms`,
      '',
      `portlayer calls per lifecycle (last round): ${JSON.stringify(perLifecycle(rounds.at(-1)?.portlayer.calls ?? {}, n))}`,
      `peer calls per lifecycle (last round):      ${JSON.stringify(perLifecycle(rounds.at(-1)?.peer.calls ?? {}, n))}`,
    ]
    process.stdout.write(`${lines.join('\n')}\n`)
    if (JSON_OUT) process.stdout.write(`${JSON.stringify({ rounds, concurrency }, null, 2)}\n`)
  } finally {
    await pl?.close().catch(() => {})
    await gateway?.close().catch(() => {})
    await vc.stop()
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:vsphere failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
