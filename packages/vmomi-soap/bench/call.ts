// Issue 11's per-call yardstick: one gateway call against a raw keep-alive HTTPS POST of the same
// SOAP envelope to the same vcsim harness, side by side in one process, interleaved in rounds.
// A benchmark, never a test: nothing here is asserted.
//
//   node --import tsx packages/vmomi-soap/bench/call.ts [--rounds 7] [--calls 300] [--json]
//
// The raw POSTs send the exact bytes node-soap builds for the call (built offline with the
// gateway's WSDL and serialiser) under a session of their own, and read the answer as one string
// without parsing it: what any SOAP client must at least pay. Two raw clients are measured, Node's
// `https` with a keep-alive agent and undici's `Pool`; the ratio is taken against the faster one.
import https from 'node:https'
import { cpus } from 'node:os'
import { startVcsim, type Vcsim } from '@portlayer/vcsim'
// The gateway as users get it (the built package); the table and serialiser only build the raw side's envelope.
import { createSoapGateway, type SoapGateway } from '@portlayer/vmomi-soap'
import { createClientAsync } from 'soap'
import { Pool } from 'undici'
import { OPS } from '../src/schema/registry.js'
import { toSoapArgs } from '../src/serialize.js'
import { vim25Wsdl } from '../src/wsdl.js'

const args = process.argv.slice(2)
const numberArg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const n = Number(args[i + 1])
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`)
  return n
}
const ROUNDS = numberArg('rounds', 7)
const CALLS = numberArg('calls', 300)
const JSON_OUT = args.includes('--json')

// What the vSphere backend reads of one VM (VM_PROPERTIES in packages/vsphere/src/vm-snapshot.ts).
const VM_PROPERTIES = [
  'config.changeVersion',
  'config.extraConfig',
  'config.hardware.memoryMB',
  'config.cpuAllocation.limit',
  'runtime.powerState',
]

/** The envelope node-soap builds for `method` with `args` (serialised as the gateway does). */
async function envelopeOf(method: string, callArgs: unknown, apiVersion = '6.5'): Promise<string> {
  let captured = ''
  const client = (await createClientAsync(vim25Wsdl(), {
    endpoint: 'http://127.0.0.1:9/sdk',
    returnFault: false,
    preserveWhitespace: true,
    httpClient: {
      request(_url: string, data: string, callback: (e: unknown) => void) {
        captured = data
        callback(new Error('captured'))
        return Promise.resolve()
      },
    },
  } as never)) as unknown as Record<string, (a: unknown) => Promise<unknown>> & {
    setSOAPAction(action: string): void
  }
  client.setSOAPAction(`urn:vim25/${apiVersion}`)
  const op = OPS.get(method)
  if (!op) throw new Error(`no ${method}`)
  await client[`${method}Async`]?.(toSoapArgs(op, callArgs)).catch(() => undefined)
  return captured
}

interface RawClient {
  name: string
  post(body: string): Promise<string>
  close(): Promise<void>
}

function nodeHttpsClient(vc: Vcsim): RawClient {
  const url = new URL(vc.url)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
  let cookie = ''
  return {
    name: 'node:https',
    post(body) {
      return new Promise((resolve, reject) => {
        const req = https.request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            agent,
            headers: {
              'Content-Type': 'text/xml; charset=utf-8',
              SOAPAction: '"urn:vim25/6.5"',
              'Content-Length': Buffer.byteLength(body),
              ...(cookie ? { Cookie: cookie } : {}),
            },
          },
          (res) => {
            const set = res.headers['set-cookie']?.[0]
            if (set) cookie = set.split(';', 1)[0] as string
            res.setEncoding('utf8')
            let text = ''
            res.on('data', (d: string) => {
              text += d
            })
            res.on('end', () => resolve(text))
            res.on('error', reject)
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    },
    async close() {
      agent.destroy()
    },
  }
}

function undiciClient(vc: Vcsim): RawClient {
  const url = new URL(vc.url)
  const pool = new Pool(url.origin, { connections: 1, connect: { rejectUnauthorized: false } })
  let cookie = ''
  return {
    name: 'undici',
    async post(body) {
      const res = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: '"urn:vim25/6.5"',
          ...(cookie ? { cookie } : {}),
        },
        body,
      })
      const set = res.headers['set-cookie']
      const first = Array.isArray(set) ? set[0] : set
      if (first) cookie = first.split(';', 1)[0] as string
      return res.body.text()
    },
    close: () => pool.close(),
  }
}

interface Measure {
  wallMs: number
  cpuMs: number
}

async function measure(n: number, call: () => Promise<unknown>): Promise<Measure> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await call()
  const wallMs = (performance.now() - t0) / n
  const c = process.cpuUsage(c0)
  return { wallMs, cpuMs: (c.user + c.system) / 1000 / n }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
const f = (x: number, d = 3) => x.toFixed(d)
const range = (xs: number[], d = 3) =>
  `${f(median(xs), d)} (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})`

async function main(): Promise<void> {
  const vc = await startVcsim({ tls: true })
  let gw: SoapGateway | undefined
  const raws = [nodeHttpsClient(vc), undiciClient(vc)]
  try {
    gw = await createSoapGateway({
      url: vc.url,
      username: vc.username,
      password: vc.password,
      tls: { thumbprint: vc.thumbprint as string },
    })
    const gateway = gw
    const content = gateway.serviceContent
    const vm = await gateway.call('FindByInventoryPath', {
      _this: content.searchIndex,
      inventoryPath: 'DC0/vm/DC0_H0_VM0',
    })
    if (!vm) throw new Error('DC0_H0_VM0 not found')
    // A few extraConfig entries, as a container VM carries.
    const task = await gateway.call('ReconfigVM_Task', {
      _this: vm,
      spec: {
        extraConfig: Array.from({ length: 6 }, (_, i) => ({
          key: `portlayer.bench.${i}`,
          value: `value ${i} `.repeat(4),
        })),
      },
    })
    await gateway.waitForTask(task)

    const readArgs = {
      _this: content.propertyCollector,
      specSet: [{ propSet: [{ type: 'VirtualMachine', pathSet: VM_PROPERTIES }], objectSet: [{ obj: vm }] }],
      // The gateway fills in its page size; the raw envelope carries the same.
      options: { maxObjects: 500 },
    }
    const findArgs = { _this: content.searchIndex, inventoryPath: 'DC0/vm/DC0_H0_VM0' }
    const cases = [
      {
        name: 'RetrievePropertiesEx (a VM read)',
        gateway: () => gateway.call('RetrievePropertiesEx', readArgs),
        body: await envelopeOf('RetrievePropertiesEx', readArgs),
      },
      {
        name: 'FindByInventoryPath',
        gateway: () => gateway.call('FindByInventoryPath', findArgs),
        body: await envelopeOf('FindByInventoryPath', findArgs),
      },
    ]
    const login = await envelopeOf('Login', {
      _this: content.sessionManager,
      userName: vc.username,
      password: vc.password,
    })
    for (const raw of raws) {
      const answer = await raw.post(login)
      if (!answer.includes('LoginResponse')) throw new Error(`${raw.name}: raw Login failed`)
      // The raw answers must be the real ones, not faults.
      for (const c of cases) {
        const text = await raw.post(c.body)
        if (text.includes('Fault>')) throw new Error(`${raw.name}: ${c.name} answered a fault`)
      }
    }

    const lines = [
      `gateway call vs raw keep-alive POST — ${new Date().toISOString()}`,
      `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}; harness https (thumbprint pinned); ${ROUNDS} rounds × ${CALLS} calls each, interleaved`,
    ]
    const results: Record<string, Record<string, Measure[]>> = {}
    for (const c of cases) {
      const sides: Record<string, Measure[]> = { gateway: [] }
      for (const raw of raws) sides[raw.name] = []
      // Warm-up: JIT and sockets.
      await measure(CALLS, c.gateway)
      for (const raw of raws) await measure(CALLS, () => raw.post(c.body))
      for (let r = 0; r < ROUNDS; r++) {
        const order =
          r % 2 === 0 ? ['gateway', ...raws.map((x) => x.name)] : [...raws.map((x) => x.name), 'gateway']
        for (const side of order) {
          const raw = raws.find((x) => x.name === side)
          const m = await measure(CALLS, raw ? () => raw.post(c.body) : c.gateway)
          sides[side]?.push(m)
        }
      }
      results[c.name] = sides
      const gwWall = (sides.gateway ?? []).map((m) => m.wallMs)
      lines.push('', `${c.name}: request ${Buffer.byteLength(c.body)} B`)
      lines.push('  per call, median of rounds (min–max)   wall ms                 client CPU ms')
      for (const [side, ms] of Object.entries(sides)) {
        lines.push(
          `  ${side.padEnd(38)}${range(ms.map((m) => m.wallMs)).padEnd(24)}${range(ms.map((m) => m.cpuMs))}`,
        )
      }
      const best = raws
        .map((raw) => ({ raw, wall: median((sides[raw.name] ?? []).map((m) => m.wallMs)) }))
        .sort((a, b) => a.wall - b.wall)[0]
      if (best) {
        const ratios = gwWall.map((w, i) => w / ((sides[best.raw.name] ?? [])[i]?.wallMs ?? Number.NaN))
        lines.push(`  gateway ÷ ${best.raw.name} (the faster raw), wall: ${range(ratios, 2)}   (goal ≤ 1.30)`)
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`)
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  } finally {
    for (const raw of raws) await raw.close().catch(() => undefined)
    await gw?.close().catch(() => undefined)
    await vc.stop()
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
