import type { PortLayerError } from '@portlayer/contracts'
import type { InternalClock } from './clock.js'
import { cancelled, timedOut } from './errors.js'

// The platform's own accessors, taken once: a signal's own properties are never trusted (the
// options were checked to hold a real AbortSignal by contracts' validateCallOptions).
const ABORTED = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get as (
  this: AbortSignal,
) => boolean
const REASON = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason')?.get as (
  this: AbortSignal,
) => unknown
const addListener = EventTarget.prototype.addEventListener
const removeListener = EventTarget.prototype.removeEventListener

/**
 * The calls waiting on each signal. One listener per signal serves them all, so a signal shared
 * by many concurrent calls (one per request, say) carries one listener, not one per call (which
 * would also trip Node's MaxListenersExceededWarning), and none once no call waits.
 */
interface Waiters {
  readonly listener: () => void
  readonly interrupts: Set<() => void>
}
const WAITERS = new WeakMap<AbortSignal, Waiters>()

/**
 * Calls `fn` once when `signal` aborts (at once if it has). Returns the function that stops
 * watching; watchers of one signal share one listener.
 */
export function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  if (ABORTED.call(signal)) {
    fn()
    return noop
  }
  let watching = true
  const once = (): void => {
    watching = false
    fn()
  }
  subscribe(signal, once)
  return () => {
    if (!watching) return
    watching = false
    unsubscribe(signal, once)
  }
}

function subscribe(signal: AbortSignal, interrupt: () => void): void {
  let w = WAITERS.get(signal)
  if (w === undefined) {
    const interrupts = new Set<() => void>()
    const listener = (): void => {
      WAITERS.delete(signal)
      removeListener.call(signal, 'abort', listener)
      for (const fn of interrupts) fn()
    }
    w = { listener, interrupts }
    WAITERS.set(signal, w)
    addListener.call(signal, 'abort', listener)
  }
  w.interrupts.add(interrupt)
}

function unsubscribe(signal: AbortSignal, interrupt: () => void): void {
  const w = WAITERS.get(signal)
  if (w === undefined || !w.interrupts.delete(interrupt) || w.interrupts.size > 0) return
  WAITERS.delete(signal)
  removeListener.call(signal, 'abort', w.listener)
}

/**
 * The cancellation of one call: its signal and its deadline (simulator time). Made only for calls
 * that have either, so a call without them pays nothing. Every place a call waits asks `watch`
 * to be told when to stop waiting.
 */
export class Call {
  constructor(
    private readonly clock: InternalClock,
    readonly operation: string,
    readonly target: string | undefined,
    private readonly signal: AbortSignal | undefined,
    /** The deadline on the simulator clock, `Infinity` for none. */
    private readonly deadline: number,
    private readonly timeoutMs: number,
  ) {}

  /** The error for why the call must stop now, or `null` while it may go on. */
  interruption(): PortLayerError | null {
    const { signal } = this
    if (signal !== undefined && ABORTED.call(signal)) {
      return cancelled(this.operation, this.target, REASON.call(signal))
    }
    if (this.deadline !== Number.POSITIVE_INFINITY && this.clock.nowMs() >= this.deadline) {
      return timedOut(this.operation, this.target, this.timeoutMs)
    }
    return null
  }

  /** Throws CANCELLED or TIMEOUT (outcome `not-applied`) if the call must not go on. */
  check(): void {
    const e = this.interruption()
    if (e !== null) throw e
  }

  /**
   * Calls `interrupt` once, with CANCELLED or TIMEOUT, when the signal aborts or the deadline
   * passes (at once if either already happened). Returns the function that stops watching; the
   * caller runs it when its wait ends any other way, so no listener or timer outlives the wait.
   */
  watch(interrupt: (error: PortLayerError) => void): () => void {
    const now = this.interruption()
    if (now !== null) {
      interrupt(now)
      return noop
    }
    const { signal, clock } = this
    let timer: unknown = null
    let watching = true
    const unwatch = (): void => {
      if (!watching) return
      watching = false
      if (signal !== undefined) unsubscribe(signal, onAbort)
      if (timer !== null) clock.clearTimer(timer)
    }
    const onAbort = (): void => {
      unwatch()
      interrupt(cancelled(this.operation, this.target, REASON.call(signal as AbortSignal)))
    }
    if (signal !== undefined) subscribe(signal, onAbort)
    if (this.deadline !== Number.POSITIVE_INFINITY) {
      timer = clock.setTimer(this.deadline - clock.nowMs(), () => {
        timer = null
        unwatch()
        interrupt(timedOut(this.operation, this.target, this.timeoutMs))
      })
    }
    return unwatch
  }
}

function noop(): void {}
