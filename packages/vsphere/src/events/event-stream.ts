import {
  ContainerEventType,
  describeValue,
  type EventStream,
  type ID,
  InvalidArgumentError,
  type PortLayerEvent,
  validateCallOptions,
  validateId,
} from '@portlayer/contracts'
import { BACKEND } from '../errors.js'
import type { EventSink } from './event-hub.js'

/** Where a stream gets its events: an {@link EventHub}, or a stand-in in unit tests. */
export interface EventSource {
  readonly maxQueued: number
  subscribe(sink: EventSink): () => void
}

const EVENT_TYPES: ReadonlySet<string> = new Set([...Object.values(ContainerEventType), 'resync'])

interface CheckedFilter {
  readonly types: ReadonlySet<string> | null
  readonly containerId: ID | undefined
}

function invalid(message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(message, { backend: BACKEND, cause })
}

/** The filter of `events()`, read once (a getter cannot answer differently later). */
function checkFilter(filter: unknown): CheckedFilter {
  if (filter === undefined) return { types: null, containerId: undefined }
  if (typeof filter !== 'object' || filter === null)
    throw invalid(`an event filter must be an object, got ${describeValue(filter)}`)
  let types: unknown
  let containerId: unknown
  let list: unknown[] | undefined
  try {
    ;({ types, containerId } = filter as { types?: unknown; containerId?: unknown })
    if (Array.isArray(types)) list = Array.from(types as unknown[])
  } catch (e) {
    throw invalid('the event filter could not be read (a getter or proxy trap threw)', e)
  }
  if (types !== undefined) {
    if (list === undefined)
      throw invalid(`filter.types must be an array of event types, got ${describeValue(types)}`)
    for (const t of list) {
      if (typeof t !== 'string' || !EVENT_TYPES.has(t))
        throw invalid(
          `filter.types: unknown event type ${describeValue(t)}; one of ${[...EVENT_TYPES].join(', ')}`,
        )
    }
  }
  return {
    types: list === undefined ? null : new Set(list as string[]),
    containerId:
      containerId === undefined ? undefined : validateId(containerId, 'filter.containerId', BACKEND),
  }
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
    private readonly filter: CheckedFilter,
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
  const checked = checkFilter(filter)
  const signal = validateCallOptions(options, BACKEND)?.signal
  return new HubStream(source, checked, source.maxQueued, signal)
}
