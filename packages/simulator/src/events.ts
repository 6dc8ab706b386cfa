import {
  type CallOptions,
  type ContainerEvent,
  ContainerEventType,
  describeValue,
  validateCallOptions,
  validateId,
} from '@portlayer/contracts'
import { whenAborted } from './call.js'
import { BACKEND, invalidArgument } from './errors.js'

/** Receives container events synchronously, as they happen. */
export type SimEventListener = (event: ContainerEvent) => void

/** Narrows a stream to some event types and/or one container. */
export interface EventFilter {
  readonly types?: readonly ContainerEventType[]
  readonly containerId?: string
}

/**
 * The simulator's container events: `created`, `started`, `exited` (with `processId` and
 * `exitCode`, for the main and exec'd processes), `stopped` and `destroyed`.
 */
export interface SimEvents extends AsyncIterable<ContainerEvent> {
  /**
   * Calls `listener` for every event, synchronously while the state changes. A listener that
   * throws does not disturb the simulator; its error is rethrown from a microtask (so a test
   * runner reports it). Returns a function that removes the listener.
   */
  on(listener: SimEventListener): () => void
  /**
   * An async iterator over the events from now on (buffered until read); ending the loop (or
   * calling `return`) unsubscribes. An abort of `options.signal` ends it too: a waiting `next()`
   * and every later one give `done` (what was buffered is dropped, as with `return`).
   * @throws InvalidArgumentError for a malformed filter or options.
   */
  stream(filter?: EventFilter, options?: CallOptions): AsyncIterableIterator<ContainerEvent>
}

const EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(ContainerEventType))

function checkFilter(filter: unknown): { types: ReadonlySet<string> | null; only: string | undefined } {
  if (typeof filter !== 'object' || filter === null)
    throw invalidArgument(`an event filter must be an object, got ${describeValue(filter)}`)
  let types: unknown
  let containerId: unknown
  let list: unknown[] | undefined
  try {
    ;({ types, containerId } = filter as EventFilter)
    if (Array.isArray(types)) list = Array.from(types as unknown[])
  } catch (e) {
    throw invalidArgument('the event filter could not be read (a getter or proxy trap threw)', undefined, e)
  }
  if (types !== undefined) {
    if (list === undefined) throw invalidArgument('filter.types must be an array of event types')
    for (const t of list) {
      if (typeof t !== 'string' || !EVENT_TYPES.has(t)) {
        throw invalidArgument(
          `filter.types: unknown event type ${describeValue(t)}; one of ${[...EVENT_TYPES].join(', ')}`,
        )
      }
    }
  }
  return {
    types: list === undefined ? null : new Set(list as string[]),
    only: containerId === undefined ? undefined : validateId(containerId, 'filter.containerId', BACKEND),
  }
}

export class EventHub implements SimEvents {
  /** Kept as a field so the hot path checks "anyone listening?" without a call. */
  size = 0
  private readonly listeners = new Set<SimEventListener>()
  /** Ends every open stream; a reader waiting on one would otherwise wait forever after close. */
  private readonly enders = new Set<() => void>()
  private closed = false

  close(): void {
    this.closed = true
    for (const end of this.enders) end()
  }

  on(listener: SimEventListener): () => void {
    if (typeof listener !== 'function') throw invalidArgument('events.on needs a listener function')
    const wrapped: SimEventListener = (e) => listener(e)
    this.listeners.add(wrapped)
    this.size = this.listeners.size
    return () => {
      this.listeners.delete(wrapped)
      this.size = this.listeners.size
    }
  }

  emit(event: ContainerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (e) {
        queueMicrotask(() => {
          throw e
        })
      }
    }
  }

  stream(filter: EventFilter = {}, options?: CallOptions): AsyncIterableIterator<ContainerEvent> {
    const { types, only } = checkFilter(filter)
    const signal = validateCallOptions(options, BACKEND)?.signal
    const buffer: ContainerEvent[] = []
    let waiting: ((r: IteratorResult<ContainerEvent>) => void) | null = null
    let closed = false
    const off = this.on((e) => {
      if (types !== null && !types.has(e.type)) return
      if (only !== undefined && e.containerId !== only) return
      if (waiting !== null) {
        const w = waiting
        waiting = null
        w({ value: e, done: false })
      } else buffer.push(e)
    })
    // Ending keeps what is buffered for the reader; `return` (the reader leaving) drops it.
    let unwatch: () => void = () => {}
    const end = (): void => {
      if (closed) return
      closed = true
      off()
      unwatch()
      this.enders.delete(end)
      if (waiting !== null) waiting({ value: undefined, done: true })
      waiting = null
    }
    const close = (): IteratorResult<ContainerEvent> => {
      end()
      buffer.length = 0
      return { value: undefined, done: true }
    }
    if (this.closed) end()
    else this.enders.add(end)
    if (signal !== undefined && !closed) unwatch = whenAborted(signal, close)
    const iterator: AsyncIterableIterator<ContainerEvent> = {
      next: () => {
        const e = buffer.shift()
        if (e !== undefined) return Promise.resolve({ value: e, done: false })
        if (closed) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => {
          waiting = resolve
        })
      },
      return: () => Promise.resolve(close()),
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  [Symbol.asyncIterator](): AsyncIterator<ContainerEvent> {
    return this.stream()
  }
}
