import {
  type ContainerEvent,
  type EventStream,
  type PortLayerEvent,
  validateEventFilter,
} from '@portlayer/contracts'
import { whenAborted } from './call.js'
import { BACKEND, invalidArgument } from './errors.js'

/** Receives container events synchronously, as they happen (see `Simulator.onEvent`). */
export type SimEventListener = (event: ContainerEvent) => void

/** How many events a stream buffers for a reader that falls behind, by default. */
export const DEFAULT_EVENT_QUEUE_LIMIT = 10_000

const DONE: IteratorResult<PortLayerEvent> = Object.freeze({ value: undefined, done: true })
const READY = Promise.resolve()

/**
 * The world's events: synchronous listeners and the streams of `events()`, shared by every
 * client of one world. Emission is synchronous with the change, so the order is the order the
 * changes happened, for every container at once.
 */
export class EventHub {
  /** Kept as a field so the hot path checks "anyone listening?" without a call. */
  size = 0
  private readonly listeners = new Set<SimEventListener>()
  /** Streams that are open: told of a resync, ended by close. */
  private readonly streams = new Set<StreamState>()
  private closed = false

  constructor(
    private readonly nowMs: () => number,
    private readonly queueLimit: number,
  ) {}

  close(): void {
    this.closed = true
    for (const s of Array.from(this.streams)) s.end(false)
  }

  on(listener: SimEventListener): () => void {
    if (typeof listener !== 'function') throw invalidArgument('onEvent needs a listener function')
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

  /** Tells every open stream that it may have missed changes (the world was replaced). */
  resync(): void {
    const at = new Date(this.nowMs())
    for (const s of this.streams) s.push({ type: 'resync', at })
  }

  /**
   * A stream of the events from now on (see `Simulator.events`). Throws INVALID_ARGUMENT for a
   * malformed filter; the caller has checked the options and that the world is open.
   */
  stream(filter: unknown, signal: AbortSignal | undefined): EventStream {
    const { types, containerId: only } = validateEventFilter(filter, BACKEND)
    const state = new StreamState(this, this.queueLimit)
    if (this.closed) state.end(false)
    else {
      this.streams.add(state)
      state.off = this.on((e) => {
        if (types !== null && !types.has(e.type)) return
        if (only !== undefined && e.containerId !== only) return
        state.push(e)
      })
      if (signal !== undefined) state.unwatch = whenAborted(signal, () => state.end(true))
    }
    const stream: EventStream = {
      ready: READY,
      next: () => state.next(),
      return: () => {
        state.end(true)
        return Promise.resolve(DONE)
      },
      [Symbol.asyncIterator]: () => stream,
    }
    return stream
  }

  /** For a stream that ended: it no longer needs telling. */
  forget(state: StreamState): void {
    this.streams.delete(state)
  }

  now(): Date {
    return new Date(this.nowMs())
  }
}

/** One stream's queue and its reader. */
class StreamState {
  private readonly buffer: PortLayerEvent[] = []
  private waiting: ((r: IteratorResult<PortLayerEvent>) => void) | null = null
  private ended = false
  off: () => void = noop
  unwatch: () => void = noop

  constructor(
    private readonly hub: EventHub,
    private readonly limit: number,
  ) {}

  push(e: PortLayerEvent): void {
    if (this.ended) return
    const w = this.waiting
    if (w !== null) {
      this.waiting = null
      w({ value: e, done: false })
      return
    }
    if (this.buffer.length >= this.limit) {
      // The reader fell too far behind: rather than grow without bound or drop silently, forget
      // what it has not read and tell it to read the world again.
      this.buffer.length = 0
      this.buffer.push({ type: 'resync', at: this.hub.now() })
    }
    this.buffer.push(e)
  }

  next(): Promise<IteratorResult<PortLayerEvent>> {
    const e = this.buffer.shift()
    if (e !== undefined) return Promise.resolve({ value: e, done: false })
    if (this.ended) return Promise.resolve(DONE)
    // A second next() while one waits gets the event after it, as an async generator would.
    const before = this.waiting
    return new Promise((resolve) => {
      this.waiting =
        before === null
          ? resolve
          : (r) => {
              before(r)
              if (r.done) resolve(r)
              else this.waiting = resolve
            }
    })
  }

  /**
   * Ends the stream: no more events. `drop` (the reader left: `return`, `break`, the signal)
   * forgets what is buffered; an end by `close` leaves it to be read.
   */
  end(drop: boolean): void {
    if (drop) this.buffer.length = 0
    if (this.ended) return
    this.ended = true
    this.off()
    this.unwatch()
    this.hub.forget(this)
    const w = this.waiting
    this.waiting = null
    if (w !== null) w(DONE)
  }
}

function noop(): void {}
