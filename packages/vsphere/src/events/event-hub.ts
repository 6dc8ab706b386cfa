import { type PortLayerEvent, UnavailableError } from '@portlayer/contracts'
import type { MoRef, PropertyFilterSpec, UpdateSet, VmomiGateway } from '@portlayer/contracts/vmomi'
import { unscoped } from '../call-scope.js'
import { BACKEND, wrap } from '../errors.js'
import type { VmSnapshot } from '../vm-snapshot.js'
import { snapshotFromProps, WATCHED_PROPERTIES } from './update-diff.js'
import { VmUpdates } from './vm-updates.js'

/** Seconds one `WaitForUpdatesEx` waits for a change before answering with none. */
export const DEFAULT_MAX_WAIT_SECONDS = 30
/** Events queued for one iterator before they are dropped for a single `resync`. */
export const DEFAULT_MAX_QUEUED = 10_000

/** The wait's own deadline exceeds the time the server may take to answer by this much. */
const DEADLINE_MARGIN_MS = 30_000
/** How long the clean-up of a collector and view may take (it serves no caller). */
const TEARDOWN_TIMEOUT_MS = 5_000
/** Pauses before the n-th attempt in a row to watch again (the first is at once: a lost session is back after one login). */
const RETRY_DELAYS_MS = [0, 500, 1_000, 2_000, 5_000, 10_000, 30_000]

/** What a hub needs of its backend. */
export interface EventHubDeps {
  /** The backend's gateway; the hub passes its own signal, so no caller's scope reaches its calls. */
  readonly gateway: VmomiGateway
  readonly viewManager: MoRef
  /** The folder whose VMs are the containers. */
  readonly folder: MoRef
  /** Told about every failure of the wait (each one also gives the iterators a `resync`). */
  readonly onBackgroundError: (error: unknown) => void
  /**
   * Told every batch of events before the subscribers (e.g. so the backend watches containers
   * other clients started for their exits while someone listens). Must not throw.
   */
  readonly observed?: (events: readonly PortLayerEvent[]) => void
}

/** Tuning of a hub. */
export interface EventHubOptions {
  /** `maxWaitSeconds` of each wait (default 30): an idle stream costs one call per this time. */
  readonly maxWaitSeconds?: number
  /** Events queued per iterator before its queue is dropped for one `resync` (default 10 000). */
  readonly maxQueued?: number
}

/** One subscriber of a hub (an iterator, or an internal waiter). Its methods must not throw. */
export interface EventSink {
  /** Events in the order they happened per container, `resync` included. */
  deliver(events: readonly PortLayerEvent[]): void
  /** The hub watches: every change that completes from now on is delivered. */
  watching(): void
  /** The hub was closed: nothing more comes. */
  closed(): void
}

/** Someone waiting until the hub has seen a VM in a given state (see {@link EventHub.until}). */
interface Waiter {
  readonly vm: string
  readonly check: (entries: ReadonlyMap<string, string>) => boolean
  readonly done: (seen: boolean) => void
}

/** What the hub made on the server for one watch, destroyed when the watch ends. */
interface Watch {
  collector?: MoRef
  view?: MoRef
}

const VIEW_TRAVERSAL = {
  _type: 'TraversalSpec',
  name: 'eventsView',
  type: 'ContainerView',
  path: 'view',
  skip: false,
} as const

/**
 * The one property-collector wait of a backend, shared by every event iterator: a collector of
 * its own (created per watch, so a lost session shows as the collector being gone instead of a
 * silent wait on an empty one), a container view of the folder and one filter over the VMs'
 * `config.extraConfig` and `runtime.powerState`, then `WaitForUpdatesEx` in a loop. It runs
 * while someone subscribes. A wait that fails (lost session, reconnect, server error) gives every
 * subscriber a `resync`, and the hub watches again, reporting what changed while it did not.
 */
export class EventHub {
  readonly #deps: EventHubDeps
  readonly maxWaitSeconds: number
  readonly maxQueued: number
  readonly #sinks = new Set<EventSink>()
  readonly #vms = new VmUpdates()
  #watching = false
  /** A wait was lost: the next watch reports what changed meanwhile. */
  #lost = false
  #loop: Promise<void> | undefined
  #stop: AbortController | undefined
  #closed = false
  readonly #waiters = new Set<Waiter>()

  constructor(deps: EventHubDeps, options: EventHubOptions = {}) {
    this.#deps = deps
    this.maxWaitSeconds = options.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED
  }

  /** True while changes are watched. */
  get watching(): boolean {
    return this.#watching
  }

  /** Adds `sink`; the returned function removes it (the wait stops with the last one). */
  subscribe(sink: EventSink): () => void {
    if (this.#closed) {
      sink.closed()
      return () => {}
    }
    this.#sinks.add(sink)
    if (this.#watching) sink.watching()
    this.#start()
    let removed = false
    return () => {
      if (removed) return
      removed = true
      this.#sinks.delete(sink)
      if (this.#sinks.size === 0 && this.#stop) {
        // Not watching from now on: a subscriber that comes before the loop has ended waits for
        // the next watch instead of trusting this one.
        this.#watching = false
        this.#releaseWaiters()
        this.#stop.abort()
      }
    }
  }

  /**
   * Resolves `true` once the hub has seen VM `ref` with portlayer extraConfig entries that pass
   * `check` (at once if it has already), and `false` without waiting when nothing is watched, or
   * when the hub stops watching, `timeoutMs` passes or `signal` aborts first. For a backend that is
   * about to destroy a VM: the property collector never reports a VM that came and went between two
   * of its answers (vcsim: within one 250 ms batch), nor, on vCenter, changes made just before it
   * left. Waiting until the hub has seen the destroy's claim makes every change before it reported.
   */
  until(
    ref: MoRef,
    check: (entries: ReadonlyMap<string, string>) => boolean,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<boolean> {
    if (!this.#watching || options.signal?.aborted) return Promise.resolve(false)
    const known = this.#vms.entriesOf(ref.value)
    if (known && check(known)) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), options.timeoutMs ?? 10_000)
      const onAbort = (): void => done(false)
      const waiter: Waiter = { vm: ref.value, check, done: (seen) => done(seen) }
      const done = (seen: boolean): void => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        this.#waiters.delete(waiter)
        resolve(seen)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(waiter)
    })
  }

  /**
   * VM `ref` as the hub last saw it while watching (see `snapshotFromProps`); `undefined` when the
   * hub does not watch or has not seen it. Up to one update batch old: act on it only guarded by
   * its version.
   */
  snapshot(ref: MoRef): VmSnapshot | undefined {
    if (!this.#watching) return undefined
    const props = this.#vms.propsOf(ref.value)
    return props ? snapshotFromProps(ref, props) : undefined
  }

  /** Ends every subscriber, stops the wait and destroys the collector and view. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#watching = false
      this.#releaseWaiters()
      this.#stop?.abort()
      const sinks = [...this.#sinks]
      this.#sinks.clear()
      for (const sink of sinks) sink.closed()
    }
    await this.#loop
  }

  #start(): void {
    if (this.#loop || this.#closed) return
    const stop = new AbortController()
    this.#stop = stop
    // Background work: no caller's signal or deadline may end it.
    this.#loop = unscoped(() => this.#run(stop.signal))
      .catch((e) => this.#deps.onBackgroundError(e))
      .finally(() => {
        this.#loop = undefined
        this.#stop = undefined
        if (this.#sinks.size > 0 && !this.#closed) this.#start()
      })
  }

  async #run(stop: AbortSignal): Promise<void> {
    let failures = 0
    while (!stop.aborted) {
      const watch: Watch = {}
      let failure: unknown
      try {
        const { fresh, version } = await this.#establish(watch, stop)
        const missed = this.#vms.replaceWith(fresh, new Date())
        if (stop.aborted) break
        failures = 0
        this.#watching = true
        for (const sink of [...this.#sinks]) sink.watching()
        if (this.#lost && missed.length > 0) this.#deliver(missed)
        this.#lost = false
        this.#checkWaiters()
        await this.#follow(watch, version, stop)
      } catch (e) {
        failure = e
      } finally {
        await this.#teardown(watch)
      }
      if (stop.aborted) break
      this.#watching = false
      this.#releaseWaiters()
      failures++
      this.#deps.onBackgroundError(
        wrap(failure, 'watching the containers for events', undefined, 'UNAVAILABLE'),
      )
      if (!this.#lost) {
        this.#lost = true
        this.#deliver([{ type: 'resync', at: new Date() }])
      }
      await sleep(RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length) - 1] ?? 0, stop)
    }
    this.#watching = false
    this.#releaseWaiters()
    this.#lost = false
    this.#vms.clear()
  }

  /** Creates the collector, view and filter, and reads the folder's VMs as they are now. */
  async #establish(watch: Watch, stop: AbortSignal): Promise<{ fresh: VmUpdates; version: string }> {
    const { gateway, viewManager, folder } = this.#deps
    const options = { signal: stop }
    watch.collector = await gateway.call(
      'CreatePropertyCollector',
      { _this: gateway.serviceContent.propertyCollector },
      options,
    )
    watch.view = await gateway.call(
      'CreateContainerView',
      { _this: viewManager, container: folder, type: ['VirtualMachine'], recursive: false },
      options,
    )
    const spec: PropertyFilterSpec = {
      propSet: [{ type: 'VirtualMachine', pathSet: [...WATCHED_PROPERTIES] }],
      objectSet: [{ obj: watch.view, skip: true, selectSet: [{ ...VIEW_TRAVERSAL }] }],
    }
    // Whole property values, not nested changes: an extraConfig change comes as the full list.
    await gateway.call('CreateFilter', { _this: watch.collector, spec, partialUpdates: false }, options)
    const fresh = new VmUpdates()
    let version = ''
    for (;;) {
      const set = await gateway.call(
        'WaitForUpdatesEx',
        { _this: watch.collector, version, options: { maxWaitSeconds: 0 } },
        options,
      )
      if (!set) break
      checkSession(set)
      fresh.apply(set, new Date())
      version = set.version
      if (!set.truncated) break
    }
    return { fresh, version }
  }

  /** Waits for changes until the wait fails (throws) or the hub stops (throws its abort). */
  async #follow(watch: Watch, from: string, stop: AbortSignal): Promise<never> {
    const { gateway } = this.#deps
    const collector = watch.collector as MoRef
    const timeoutMs = this.maxWaitSeconds * 1000 + DEADLINE_MARGIN_MS
    let version = from
    for (;;) {
      const set = await gateway.call(
        'WaitForUpdatesEx',
        { _this: collector, version, options: { maxWaitSeconds: this.maxWaitSeconds } },
        { signal: stop, timeoutMs },
      )
      if (!set) continue
      checkSession(set)
      version = set.version
      const events = this.#vms.apply(set, new Date())
      if (events.length > 0) this.#deliver(events)
      this.#checkWaiters()
    }
  }

  #checkWaiters(): void {
    for (const waiter of [...this.#waiters]) {
      const entries = this.#vms.entriesOf(waiter.vm)
      if (entries && waiter.check(entries)) waiter.done(true)
    }
  }

  #releaseWaiters(): void {
    for (const waiter of [...this.#waiters]) waiter.done(false)
  }

  /** Destroys what a watch made (the collector takes its filter with it); failures are left to the session's end. */
  async #teardown(watch: Watch): Promise<void> {
    const { gateway } = this.#deps
    const options = { signal: AbortSignal.timeout(TEARDOWN_TIMEOUT_MS) }
    if (watch.collector)
      await gateway.call('DestroyPropertyCollector', { _this: watch.collector }, options).catch(() => {})
    if (watch.view) await gateway.call('DestroyView', { _this: watch.view }, options).catch(() => {})
  }

  #deliver(events: readonly PortLayerEvent[]): void {
    try {
      this.#deps.observed?.(events)
    } catch (e) {
      this.#deps.onBackgroundError(e)
    }
    for (const sink of [...this.#sinks]) sink.deliver(events)
  }
}

/** A lost session may come back as an answer whose objects miss their properties with NotAuthenticated. */
function checkSession(set: UpdateSet): void {
  for (const filterUpdate of set.filterSet ?? []) {
    for (const update of filterUpdate.objectSet ?? []) {
      for (const missing of update.missingSet ?? []) {
        if (missing?.fault?.fault?._type === 'NotAuthenticated') {
          throw new UnavailableError('the session was lost while watching for events', {
            backend: BACKEND,
            detail: { fault: 'NotAuthenticated' },
          })
        }
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
