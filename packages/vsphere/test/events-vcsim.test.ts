import type { ContainerEvent, EventStream, ID, PortLayerEvent } from '@portlayer/contracts'
import type {
  MoRef,
  OptionValue,
  VimArgs,
  VimMethodName,
  VimResult,
  VmomiCallOptions,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { createSoapGateway } from '@portlayer/vmomi-soap'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { EventHub, type EventHubOptions, openEventStream } from '../src/events/index.js'
import { Key, portlayerEntries } from '../src/extra-config.js'
import type { PortLayerVsphere } from '../src/index.js'
import { retrieve } from '../src/vim-calls.js'
import { CountingGateway } from './support/counting-gateway.js'
import { useVcsim } from './support/vcsim.js'

// The event stream against the vcsim harness: one property-collector wait per hub, changes of
// this backend and of another client (another session), filters, how iterators end, a lost
// session. Each test watches its own containers (the harness is shared by the file).

const vcsim = useVcsim()

/** Counts vim25 calls and how many of each method are in flight at once. */
class TrackingGateway extends CountingGateway {
  readonly inFlight = new Map<string, number>()
  readonly maxInFlight = new Map<string, number>()
  constructor(inner: VmomiGateway) {
    super(inner)
  }
  override async call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    const now = (this.inFlight.get(method) ?? 0) + 1
    this.inFlight.set(method, now)
    this.maxInFlight.set(method, Math.max(now, this.maxInFlight.get(method) ?? 0))
    try {
      return await super.call(method, args, options)
    } finally {
      this.inFlight.set(method, (this.inFlight.get(method) ?? 1) - 1)
    }
  }
  count(method: string): number {
    return this.snapshot()[method] ?? 0
  }
}

let folder: MoRef
let pl: PortLayerVsphere
const hubs: EventHub[] = []
const errors: unknown[] = []

beforeAll(async () => {
  folder = (await vcsim.gateway.call('FindByInventoryPath', {
    _this: vcsim.gateway.serviceContent.searchIndex,
    inventoryPath: 'DC0/vm',
  })) as MoRef
  pl = await vcsim.backend({ exitPollIntervalMs: 100, stopGracePeriodMs: 2_000 })
})

afterAll(async () => {
  await pl?.close()
})

afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close()
  errors.length = 0
})

/** A hub as the backend would make it, on `gateway`. */
function hubOn(gateway: VmomiGateway, options: EventHubOptions = {}): EventHub {
  const hub = new EventHub(
    {
      gateway,
      viewManager: gateway.serviceContent.viewManager as MoRef,
      folder,
      onBackgroundError: (e) => errors.push(e),
    },
    options,
  )
  hubs.push(hub)
  return hub
}

/** Reads `stream` until `done` says so; a stream that ends or stalls fails the test instead of hanging it. */
async function readUntil(
  stream: EventStream,
  done: (seen: readonly PortLayerEvent[]) => boolean,
  timeoutMs = 30_000,
): Promise<PortLayerEvent[]> {
  const seen: PortLayerEvent[] = []
  const deadline = Date.now() + timeoutMs
  while (!done(seen)) {
    const left = deadline - Date.now()
    let timer: ReturnType<typeof setTimeout> | undefined
    const stall = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no event for ${timeoutMs} ms; saw ${describe_(seen)}`)),
        left,
      )
    })
    try {
      const next = await Promise.race([stream.next(), stall])
      if (next.done) throw new Error(`the stream ended; saw ${describe_(seen)}`)
      seen.push(next.value)
    } finally {
      clearTimeout(timer)
    }
  }
  return seen
}

const describe_ = (events: readonly PortLayerEvent[]) => JSON.stringify(events.map((e) => e.type))
const of = (id: ID) => (events: readonly PortLayerEvent[]) =>
  events.filter((e): e is ContainerEvent => e.type !== 'resync' && e.containerId === id)
const has = (id: ID, type: string) => (events: readonly PortLayerEvent[]) =>
  of(id)(events).some((e) => e.type === type)
/** The events of `id` reduced to what the rules decide. */
const brief = (events: readonly ContainerEvent[], mainId?: ID) =>
  events.map((e) =>
    e.type === 'exited' ? `exited ${e.processId === mainId ? 'main' : e.processId} ${e.exitCode}` : e.type,
  )

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('vSphere event stream (vcsim)', { timeout: 90_000 }, () => {
  it('reports a lifecycle made by this backend, in order: created, started, exited with its code, stopped, destroyed', async () => {
    const stream = openEventStream(hubOn(vcsim.gateway))
    await stream.ready
    let h = await pl.createContainer('events-life')
    const id = h.containerId
    h = await pl.setEntryPoint(h, '/', '/bin/sh', '-c "exit 3"')
    await pl.commit(h)
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    const mainId = (await pl.getContainerConfig(id)).mainProcess?.processId
    const upToStop = await readUntil(stream, has(id, 'stopped'))
    expect((await pl.getContainerState(id)).status).toBe('stopped')
    await pl.destroyContainer(id)
    const rest = await readUntil(stream, has(id, 'destroyed'))
    expect(brief(of(id)([...upToStop, ...rest]), mainId)).toEqual([
      'created',
      'started',
      'exited main 3',
      'stopped',
      'destroyed',
    ])
    expect([...upToStop, ...rest].some((e) => e.type === 'resync')).toBe(false)
    expect(errors).toEqual([])
  })

  it('reports a back-to-back lifecycle (no waits) when destroy first waits until the hub has seen the VM', async () => {
    const hub = hubOn(vcsim.gateway)
    const stream = openEventStream(hub)
    await stream.ready
    const h = await pl.createContainer('events-quick')
    const id = await pl.commit(await pl.setEntryPoint(h, '/', '/bin/sleep', '3600'))
    const mainId = (await pl.getContainerConfig(id)).mainProcess?.processId
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
    // What destroy.ts is to do with its claim: wait until the hub has seen the VM as it is now.
    // (vcsim reports nothing of a VM that came and went within one 250 ms batch.)
    const ref = (await vcsim.gateway.call('FindByInventoryPath', {
      _this: vcsim.gateway.serviceContent.searchIndex,
      inventoryPath: `DC0/vm/portlayer-${id}`,
    })) as MoRef
    const [now] = await retrieve(vcsim.gateway, 'VirtualMachine', [ref], ['config.extraConfig'])
    const rev = portlayerEntries(now?.propSet[0]?.val as OptionValue[]).get(Key.rev)
    expect(rev).toBeDefined()
    expect(await hub.until(ref, (entries) => entries.get(Key.rev) === rev, { timeoutMs: 30_000 })).toBe(true)
    // Without a subscriber nothing is watched, and nobody waits.
    expect(await hubOn(vcsim.gateway).until(ref, () => true)).toBe(false)
    await pl.destroyContainer(id)
    const seen = await readUntil(stream, has(id, 'destroyed'))
    expect(brief(of(id)(seen), mainId)).toEqual([
      'created',
      'started',
      'exited main 143',
      'stopped',
      'destroyed',
    ])
  })

  it("reports another client's changes (another session): create+start, an exec's exit, a stop, destroy", async () => {
    const gateway2 = await createSoapGateway({
      url: vcsim.vc.url,
      username: vcsim.vc.username,
      password: vcsim.vc.password,
    })
    const other = await vcsim.backend({ exitPollIntervalMs: 100, stopGracePeriodMs: 2_000 }, gateway2)
    try {
      const stream = openEventStream(hubOn(vcsim.gateway))
      await stream.ready
      let h = await other.createContainer('events-other')
      const id = h.containerId
      h = await other.setRunState(await other.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running')
      await other.commit(h)
      const mainId = (await other.getContainerConfig(id)).mainProcess?.processId
      const execId = await other.execProcess(id, '/', '/bin/sh', '-c "exit 4"')
      const upToExec = await readUntil(stream, (seen) => of(id)(seen).some((e) => e.processId === execId))
      await other.commit(await other.setRunState(await other.getHandle(id), 'stopped'))
      await other.destroyContainer(id)
      const rest = await readUntil(stream, has(id, 'destroyed'))
      // The stop: SIGTERM ends the main process (143), then the container is stopped.
      expect(brief(of(id)([...upToExec, ...rest]), mainId)).toEqual([
        'created',
        'started',
        `exited ${execId} 4`,
        'exited main 143',
        'stopped',
        'destroyed',
      ])
    } finally {
      await other.close()
      await gateway2.close()
    }
  })

  it('filters by type and by a container that does not exist yet', async () => {
    const hub = hubOn(vcsim.gateway)
    const first = await pl.createContainer('events-filter-1')
    const second = await pl.createContainer('events-filter-2')
    const onlyDestroyed = openEventStream(hub, { types: ['destroyed'] })
    // Named before it exists: its `created` is what the filter is for.
    const onlySecond = openEventStream(hub, { containerId: second.containerId })
    const all = openEventStream(hub)
    await Promise.all([onlyDestroyed.ready, onlySecond.ready, all.ready])
    for (const h of [first, second]) {
      const id = await pl.commit(await pl.setEntryPoint(h, '/', '/bin/true', ''))
      // A VM created and destroyed between two answers of the property collector is never seen
      // (vcsim: within one 250 ms batch), so each is destroyed once it has been reported.
      await readUntil(all, has(id, 'created'))
      await pl.destroyContainer(id)
    }
    const destroyed = await readUntil(onlyDestroyed, has(second.containerId, 'destroyed'))
    expect(destroyed.every((e) => e.type === 'destroyed')).toBe(true)
    expect(destroyed.map((e) => (e as ContainerEvent).containerId)).toEqual([
      first.containerId,
      second.containerId,
    ])
    const seen = await readUntil(onlySecond, has(second.containerId, 'destroyed'))
    expect(seen.map((e) => [e.type, (e as ContainerEvent).containerId])).toEqual([
      ['created', second.containerId],
      ['destroyed', second.containerId],
    ])
  })

  it('is ready once the filter is established and its first answer read: a change right after is reported', async () => {
    const gateway = new TrackingGateway(vcsim.gateway)
    const stream = openEventStream(hubOn(gateway))
    await stream.ready
    expect(gateway.count('CreateFilter')).toBe(1)
    expect(gateway.count('WaitForUpdatesEx')).toBeGreaterThanOrEqual(1)
    // No pause: the commit completes right after `ready`.
    const id = await pl.commit(await pl.createContainer('events-ready'))
    const seen = await readUntil(stream, has(id, 'created'))
    expect(brief(of(id)(seen))).toEqual(['created'])
    await pl.destroyContainer(id)
  })

  it('serves every iterator of a backend from one collector, filter and wait', async () => {
    const gateway = new TrackingGateway(vcsim.gateway)
    const hub = hubOn(gateway)
    const streams = [openEventStream(hub), openEventStream(hub), openEventStream(hub, { types: ['created'] })]
    await Promise.all(streams.map((s) => s.ready))
    const id = await pl.commit(await pl.createContainer('events-shared'))
    for (const s of streams) await readUntil(s, has(id, 'created'))
    await pl.destroyContainer(id)
    await readUntil(streams[0] as EventStream, has(id, 'destroyed'))
    expect(gateway.count('CreatePropertyCollector')).toBe(1)
    expect(gateway.count('CreateContainerView')).toBe(1)
    expect(gateway.count('CreateFilter')).toBe(1)
    expect(gateway.maxInFlight.get('WaitForUpdatesEx')).toBe(1)
    // Nothing per VM: no property reads, no per-VM filters.
    expect(gateway.count('RetrievePropertiesEx')).toBe(0)
  })

  it('ends iterators on break, return(), their signal and close(); the wait stops with the last one', async () => {
    const gateway = new TrackingGateway(vcsim.gateway)
    const hub = hubOn(gateway)
    const controller = new AbortController()
    const broken = openEventStream(hub)
    const returned = openEventStream(hub)
    const signalled = openEventStream(hub, undefined, { signal: controller.signal })
    await Promise.all([broken.ready, returned.ready, signalled.ready])
    const id = await pl.commit(await pl.createContainer('events-end'))
    for await (const event of broken) {
      if (event.type === 'created' && event.containerId === id) break
    }
    expect(await broken.next()).toEqual({ value: undefined, done: true })
    expect(await returned.return?.()).toEqual({ value: undefined, done: true })
    expect(await returned.next()).toEqual({ value: undefined, done: true })
    await readUntil(signalled, has(id, 'created'))
    const waiting = signalled.next()
    controller.abort(new Error('enough'))
    expect(await waiting).toEqual({ value: undefined, done: true })
    // No iterator left: the collector (with its filter and wait) and the view are destroyed.
    await waitFor(() => gateway.count('DestroyView') === 1, 'the wait to stop')
    expect(gateway.count('DestroyPropertyCollector')).toBe(1)
    expect(hub.watching).toBe(false)
    // A later iterator watches again; close() finishes it, also while a next() waits.
    const late = openEventStream(hub)
    await late.ready
    expect(gateway.count('CreateFilter')).toBe(2)
    const pending = late.next()
    await hub.close()
    expect(await pending).toEqual({ value: undefined, done: true })
    expect(gateway.count('DestroyPropertyCollector')).toBe(2)
    const afterClose = openEventStream(hub)
    await afterClose.ready
    expect(await afterClose.next()).toEqual({ value: undefined, done: true })
    await pl.destroyContainer(id)
  })

  it('yields resync on a lost session and keeps reporting after watching again', async () => {
    const gateway = new TrackingGateway(vcsim.gateway)
    // Short waits, so the wait under way comes back soon after the sessions end.
    const stream = openEventStream(hubOn(gateway, { maxWaitSeconds: 1 }))
    await stream.ready
    await vcsim.vc.admin.expireSessions()
    const lost = await readUntil(stream, (seen) => seen.some((e) => e.type === 'resync'))
    expect(lost.at(-1)?.type).toBe('resync')
    await waitFor(() => gateway.count('CreateFilter') === 2, 'the filter to be made again')
    const id = await pl.commit(await pl.createContainer('events-resync'))
    const after = await readUntil(stream, has(id, 'created'))
    expect(brief(of(id)(after))).toEqual(['created'])
    expect(errors.length).toBeGreaterThanOrEqual(1)
    await pl.destroyContainer(id)
  })

  it('yields one resync for an outage of several failed waits, then reports what changed meanwhile', async () => {
    const gateway = new TrackingGateway(vcsim.gateway)
    const stream = openEventStream(hubOn(gateway, { maxWaitSeconds: 1 }))
    await stream.ready
    // The wait under way, then the first answers of the next two attempts to watch again, fail.
    await vcsim.vc.admin.failNext('WaitForUpdatesEx', 'SystemError', 3)
    await readUntil(stream, (seen) => seen.some((e) => e.type === 'resync'))
    const id = await pl.commit(await pl.createContainer('events-outage'))
    const after = await readUntil(stream, has(id, 'created'))
    expect(after.filter((e) => e.type === 'resync')).toEqual([])
    expect(errors.length).toBe(3)
    // Every failed attempt destroyed what it made: one collector and one view remain, the live ones.
    expect(gateway.count('CreatePropertyCollector') - gateway.count('DestroyPropertyCollector')).toBe(1)
    expect(gateway.count('CreateContainerView') - gateway.count('DestroyView')).toBe(1)
    await pl.destroyContainer(id)
  })

  it('costs at most one long poll in flight while idle, and no call per VM', async () => {
    const gateway = new TrackingGateway(vcsim.gateway)
    const hub = hubOn(gateway)
    const stream = openEventStream(hub)
    await stream.ready
    const before = gateway.count('WaitForUpdatesEx')
    await new Promise((r) => setTimeout(r, 2_000))
    const during = gateway.count('WaitForUpdatesEx') - before
    expect(during).toBeLessThanOrEqual(1)
    expect(gateway.maxInFlight.get('WaitForUpdatesEx')).toBe(1)
    expect(Object.keys(gateway.snapshot()).sort()).toEqual([
      'CreateContainerView',
      'CreateFilter',
      'CreatePropertyCollector',
      'WaitForUpdatesEx',
    ])
    const shortWaits = new TrackingGateway(vcsim.gateway)
    const short = openEventStream(hubOn(shortWaits, { maxWaitSeconds: 1 }))
    await short.ready
    const start = shortWaits.count('WaitForUpdatesEx')
    await new Promise((r) => setTimeout(r, 3_000))
    console.log(
      `[events bench] idle: ${hub.maxWaitSeconds} s waits → ${(60 / hub.maxWaitSeconds).toFixed(1)} WaitForUpdatesEx/min` +
        ` (measured ${during} in 2 s); 1 s waits: ${shortWaits.count('WaitForUpdatesEx') - start} in 3 s`,
    )
  })

  it('measures the latency from a commit resolving to its event (printed, not asserted)', async () => {
    const stream = openEventStream(hubOn(vcsim.gateway))
    await stream.ready
    const samples: number[] = []
    for (let i = 0; i < 8; i++) {
      const h = await pl.createContainer(`events-latency-${i}`)
      const id = await pl.commit(h)
      const t0 = performance.now()
      await readUntil(stream, has(id, 'created'))
      samples.push(performance.now() - t0)
      await pl.destroyContainer(id)
      await readUntil(stream, has(id, 'destroyed'))
    }
    samples.sort((a, b) => a - b)
    const median = samples[Math.floor(samples.length / 2)] as number
    console.log(
      `[events bench] commit → event on vcsim: median ${median.toFixed(0)} ms, min ${samples[0]?.toFixed(0)} ms, max ${samples.at(-1)?.toFixed(0)} ms (n=${samples.length}; vcsim batches updates every 250 ms)`,
    )
    expect(samples).toHaveLength(8)
  })
})
