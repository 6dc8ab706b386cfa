import {
  type CheckedEventFilter,
  type EventStream,
  type PortLayerEvent,
  validateCallOptions,
  validateEventFilter,
} from '@portlayer/contracts'
import { BACKEND } from '../errors.js'
import type { EventSink } from './event-hub.js'

/** Where a stream gets its events: an {@link EventHub}, or a stand-in in unit tests. */
export interface EventSource {
  readonly maxQueued: number
  subscribe(sink: EventSink): () => void
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true })

/**
 * One iterator of `events()`. Its queue is its own: a consumer that falls more than `maxQueued`
 * events behind loses them for a single `resync`, and never holds up the others.
 */
class HubStream implements EventStream, EventSink {
  readonly ready: Promise<void>
  #readyNow: () => void = () => {}
  #queue: PortLayerEvent[] = []
  #head = 0
  readonly #waiters: ((result: IteratorResult<PortLayerEvent, undefined>) => void)[] = []
  #ended = false
  #unsubscribe: () => void = () => {}
  #unwatchSignal: () => void = () => {}

  constructor(
    source: EventSource,
    private readonly filter: CheckedEventFilter,
    private readonly maxQueued: number,
    signal: AbortSignal | undefined,
  ) {
    this.ready = new Promise((resolve) => {
      this.#readyNow = resolve
    })
    if (signal?.aborted) {
      this.#end(true)
      return
    }
    if (signal) {
      const onAbort = (): void => this.#end(true)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#unwatchSignal = () => signal.removeEventListener('abort', onAbort)
    }
    this.#unsubscribe = source.subscribe(this)
    if (this.#ended) this.#unsubscribe()
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<PortLayerEvent, undefined>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head] as PortLayerEvent
      this.#queue[this.#head++] = undefined as unknown as PortLayerEvent
      if (this.#head === this.#queue.length) {
        this.#queue = []
        this.#head = 0
      }
      return Promise.resolve({ value, done: false })
    }
    if (this.#ended) return Promise.resolve(DONE)
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Ends the iterator (what `break` calls); what was queued is dropped. */
  return(): Promise<IteratorResult<PortLayerEvent, undefined>> {
    this.#end(true)
    return Promise.resolve(DONE)
  }

  deliver(events: readonly PortLayerEvent[]): void {
    if (this.#ended) return
    for (const event of events) {
      if (!this.#wanted(event)) continue
      const waiter = this.#waiters.shift()
      if (waiter) {
        waiter({ value: event, done: false })
        continue
      }
      if (this.#queue.length - this.#head >= this.maxQueued) {
        // Too far behind: what is queued is of no use without what would be dropped next.
        this.#queue = [{ type: 'resync', at: new Date() }]
        this.#head = 0
        continue
      }
      this.#queue.push(event)
    }
  }

  watching(): void {
    this.#readyNow()
  }

  /** The backend closed: what was queued can still be read, then the iterator is done. */
  closed(): void {
    this.#end(false)
  }

  #wanted(event: PortLayerEvent): boolean {
    if (event.type === 'resync') return true
    const { types, containerId } = this.filter
    if (types !== null && !types.has(event.type)) return false
    return containerId === undefined || event.containerId === containerId
  }

  #end(dropQueued: boolean): void {
    if (dropQueued) {
      this.#queue = []
      this.#head = 0
    }
    if (this.#ended) return
    this.#ended = true
    this.#unwatchSignal()
    this.#unsubscribe()
    // Nothing is watched for this iterator any more: whoever awaits `ready` goes on.
    this.#readyNow()
    for (const waiter of this.#waiters.splice(0)) waiter(DONE)
  }
}

/**
 * The iterator `events(filter, options)` returns. A malformed filter or options throw
 * `INVALID_ARGUMENT` from the call. The iterator ends (finishes) on `break`/`return()`, on an abort
 * of `options.signal` (what was queued is dropped) and when the backend closes (what was queued
 * can still be read).
 */
export function openEventStream(source: EventSource, filter?: unknown, options?: unknown): EventStream {
  const checked = validateEventFilter(filter, BACKEND)
  const signal = validateCallOptions(options, BACKEND)?.signal
  return new HubStream(source, checked, source.maxQueued, signal)
}
