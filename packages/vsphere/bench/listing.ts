// Issue 11's listing yardstick: `listContainers` over 1,000 / 5,000 / 20,000 containers on one
// vcsim harness — SOAP calls per listing, wall time, and heap kept per container once the answer
// is decoded. A benchmark, never a test: nothing here is asserted.
//
//   node --expose-gc --import tsx packages/vsphere/bench/listing.ts [--sizes 1000,5000,20000] [--page 5000]
//
// One real container is committed through PortLayerVsphere; its VM's extraConfig is the template
// of the others, which are created straight through the gateway (CreateVM_Task, 8 in flight) with
// their own ID and name, so the listing decodes real container records. Each figure is taken on a
// fresh PortLayerVsphere (nothing cached): its first listing (which also creates the container
// view) and a second one. Heap: `heapUsed` + `external` after two forced GCs, before the first listing and
// after it with the returned IDs still held, divided by the containers listed.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { MoRef, OptionValue } from '@portlayer/contracts/vmomi'
import { startVcsim, type Vcsim } from '@portlayer/vcsim'
import type { SoapGateway } from '@portlayer/vmomi-soap'
import { createVsphere, type PortLayerVsphere } from '../src/index.js'
import { harnessGateway, harnessSettings } from './harness-backend.js'

const args = process.argv.slice(2)
const listArg = (name: string, fallback: number[]): number[] => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  return String(args[i + 1])
    .split(',')
    .map((s) => {
      const n = Number(s)
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes positive integers`)
      return n
    })
}
const SIZES = listArg('sizes', [1_000, 5_000, 20_000])
const PAGES = listArg('page', [500, 5_000])
const FOLDER = 'DC0/vm'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')
const collect = (): void => {
  ;(gc as () => void)()
  ;(gc as () => void)()
}

// External memory counts too: Node keeps a decoded answer over ~1 MB outside the JS heap.
const heapNow = (): number => {
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** CPU time of a process so far, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}
const ownCpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const vmName = (id: string): string => `pl-${id}`

function backend(gateway: SoapGateway, vc: Vcsim, listPageSize: number): Promise<PortLayerVsphere> {
  return createVsphere({ gateway, ...harnessSettings(vc), vmFolder: FOLDER, vmName, listPageSize })
}

async function find(gw: SoapGateway, path: string): Promise<MoRef> {
  const ref = await gw.call('FindByInventoryPath', {
    _this: gw.serviceContent.searchIndex,
    inventoryPath: path,
  })
  if (!ref) throw new Error(`${path} not found`)
  return ref
}

/** The extraConfig the backend wrote for a committed container: the template of the others. */
async function templateOf(gw: SoapGateway, id: string): Promise<OptionValue[]> {
  const vm = await find(gw, `${FOLDER}/${vmName(id)}`)
  const result = await gw.call('RetrievePropertiesEx', {
    _this: gw.serviceContent.propertyCollector,
    specSet: [
      { propSet: [{ type: 'VirtualMachine', pathSet: ['config.extraConfig'] }], objectSet: [{ obj: vm }] },
    ],
    options: {},
  })
  const value = result?.objects[0]?.propSet.find((p) => p.name === 'config.extraConfig')?.val
  if (!Array.isArray(value)) throw new Error('no extraConfig on the template container')
  return value as OptionValue[]
}

async function createMany(
  gw: SoapGateway,
  template: OptionValue[],
  templateId: string,
  n: number,
): Promise<void> {
  const [folder, pool] = await Promise.all([find(gw, FOLDER), find(gw, 'DC0/host/DC0_C0/Resources')])
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++
      const id = randomUUID()
      const extraConfig = template.map((o) => ({
        key: o.key,
        value: typeof o.value === 'string' ? o.value.split(templateId).join(id) : o.value,
      }))
      const task = await gw.call('CreateVM_Task', {
        _this: folder,
        config: {
          name: vmName(id),
          guestId: 'otherGuest',
          numCPUs: 1,
          memoryMB: 256,
          files: { vmPathName: '[LocalDS_0]' },
          extraConfig,
        },
        pool,
      })
      const info = await gw.waitForTask(task)
      if (info.state !== 'success') throw new Error(`CreateVM_Task ended ${info.state}`)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

const callsSince = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  )
const total = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0)

async function main(): Promise<void> {
  const vc = await startVcsim({ tls: true })
  const gateways: SoapGateway[] = []
  try {
    const connect = async (pageSize: number) => {
      const gw = await harnessGateway(vc, { pageSize })
      gateways.push(gw)
      return gw
    }
    const setup = await connect(500)
    const seedBackend = await backend(setup, vc, 500)
    let h = await seedBackend.createContainer('listing')
    h = await seedBackend.setEntryPoint(h, '/', '/bin/sleep', '3600')
    h = await seedBackend.setLimits(h, 256, 500)
    const seedId = await seedBackend.commit(h)
    await seedBackend.close()
    const template = await templateOf(setup, seedId)

    const lines = [
      `listContainers at scale — ${new Date().toISOString()}`,
      `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}; harness https; template extraConfig ${template.length} entries`,
      '',
      'containers  page   first listing (view + reads)   second listing              client / harness CPU of the second   heap kept per container',
    ]
    let created = 1
    for (const size of SIZES) {
      const t0 = performance.now()
      await createMany(setup, template, seedId, size - created)
      created = size
      process.stderr.write(`created ${size} containers (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`)
      for (const page of PAGES) {
        const gw = await connect(page)
        const pl = await backend(gw, vc, page)
        collect()
        const heap0 = heapNow()
        const s0 = gw.stats().requestsByMethod
        const a0 = performance.now()
        const ids = await pl.listContainers()
        const firstMs = performance.now() - a0
        const s1 = gw.stats().requestsByMethod
        collect()
        const heap1 = heapNow()
        const c0 = ownCpuMs()
        const h0 = processCpuMs(vc.pid)
        const b0 = performance.now()
        const again = await pl.listContainers()
        const secondMs = performance.now() - b0
        const clientMs = ownCpuMs() - c0
        const harnessMs = processCpuMs(vc.pid) - h0
        const s2 = gw.stats().requestsByMethod
        if (ids.length !== size || again.length !== size) throw new Error(`listed ${ids.length} of ${size}`)
        const first = callsSince(s0, s1)
        const second = callsSince(s1, s2)
        lines.push(
          `${String(size).padStart(10)}  ${String(page).padStart(5)}  ` +
            `${`${total(first)} calls, ${firstMs.toFixed(0)} ms`.padEnd(31)}` +
            `${`${total(second)} calls, ${secondMs.toFixed(0)} ms (${((secondMs / size) * 1000).toFixed(0)} µs each)`.padEnd(28)}` +
            `${`${((clientMs / size) * 1000).toFixed(0)} / ${((harnessMs / size) * 1000).toFixed(0)} µs each`.padEnd(37)}` +
            `${((heap1 - heap0) / size).toFixed(0)} B`,
        )
        process.stderr.write(`${lines.at(-1)}  ${JSON.stringify({ first, second })}\n`)
        await pl.close()
        await gw.close()
        gateways.pop()
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`)
  } finally {
    for (const gw of gateways) await gw.close().catch(() => undefined)
    await vc.stop()
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`listing bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
