import { ErrorCode, type Outcome, type PortLayerError } from '@portlayer/contracts'
import { gatewayError } from './errors.js'

export type StopReason = 'timeout' | 'aborted' | 'closed'

/**
 * The longest delay a Node timer honours (about 24.8 days). A longer one, or Infinity, would fire
 * after 1 ms instead, so longer deadlines and pauses are cut to this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** Something that can stop: what a request listens to, without an `AbortSignal` of its own. */
export interface Stoppable {
  /** Why it stopped; undefined while it runs. */
  readonly stopped: StopReason | undefined
  /** Calls `listener` once when it stops (at once if it already has); returns the unsubscribe. */
  onStop(listener: () => void): () => void
}

const noop = (): void => {}

/**
 * The life of one gateway operation: its deadline, the caller's `AbortSignal` and the gateway's
 * closing, folded into one signal handed to every request, retry pause and poll the operation
 * makes. Records why it stopped, so the error says deadline, abort or closed rather than whatever
 * the interrupted request happened to report.
 */
export class CallScope implements Stoppable {
  // Made only when someone needs a real AbortSignal (a pause, node-soap, a transfer): a request
  // sent by the gateway itself listens through onStop, which costs far less per call.
  #controller: AbortController | undefined
  #listeners: Set<() => void> | undefined
  readonly #timer: NodeJS.Timeout | undefined
  readonly #cleanups: (() => void)[] = []
  #reason: StopReason | undefined
  #abortReason: unknown

  readonly timeoutMs: number

  constructor(
    readonly what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    closing: AbortSignal | undefined,
  ) {
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw gatewayError(ErrorCode.InvalidArgument, `${what}: options.signal must be an AbortSignal`)
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      throw gatewayError(
        ErrorCode.InvalidArgument,
        `${what}: options.timeoutMs must be a positive number of milliseconds`,
      )
    }
    this.timeoutMs = Math.min(timeoutMs, MAX_TIMER_MS)
    this.#timer = setTimeout(() => this.#stop('timeout'), this.timeoutMs)
    this.#timer.unref()
    if (closing) this.#follow(closing, 'closed')
    if (signal) this.#follow(signal, 'aborted')
  }

  /**
   * A scope for one request of this operation, with a deadline of its own; it ends too (as
   * `aborted`) when this operation ends.
   */
  child(what: string, timeoutMs: number): CallScope {
    const child = new CallScope(what, timeoutMs, undefined, undefined)
    // Linked through onStop: a real AbortSignal for the parent costs more than the request.
    child.#cleanups.push(this.onStop(() => child.#stop('aborted', this.#abortReason)))
    return child
  }

  #follow(signal: AbortSignal, reason: StopReason): void {
    if (signal.aborted) {
      this.#stop(reason, signal.reason)
      return
    }
    const listener = (): void => this.#stop(reason, signal.reason)
    signal.addEventListener('abort', listener, { once: true })
    this.#cleanups.push(() => signal.removeEventListener('abort', listener))
  }

  #stop(reason: StopReason, abortReason?: unknown): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#abortReason = abortReason
    this.#controller?.abort()
    const listeners = this.#listeners
    this.#listeners = undefined
    if (listeners) for (const listener of listeners) listener()
  }

  /** Aborted when the operation stops (deadline, the caller's signal, the gateway closing). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort()
    }
    return this.#controller.signal
  }

  onStop(listener: () => void): () => void {
    if (this.#reason !== undefined) {
      listener()
      return noop
    }
    this.#listeners ??= new Set()
    this.#listeners.add(listener)
    return () => {
      this.#listeners?.delete(listener)
    }
  }

  get stopped(): StopReason | undefined {
    return this.#reason
  }

  /**
   * The error for a stopped operation: `TIMEOUT` past the deadline, `CANCELLED` (cause: the
   * signal's reason) when aborted, `UNAVAILABLE` when the gateway closed. `outcome` says whether a
   * change may have landed: `'unknown'` only when a request that changes something may have
   * reached the server; never for one stopped before it was sent.
   */
  error(detail: Record<string, unknown> = {}, outcome: Outcome = 'not-applied'): PortLayerError {
    const reason = this.#reason
    if (reason === 'closed') {
      return gatewayError(
        ErrorCode.Unavailable,
        `vSphere ${this.what}: the gateway was closed`,
        { ...detail, closed: true },
        undefined,
        outcome,
      )
    }
    if (reason === 'aborted') {
      return gatewayError(
        ErrorCode.Cancelled,
        `vSphere ${this.what} was cancelled`,
        { ...detail, aborted: true },
        this.#abortReason,
        outcome,
      )
    }
    return gatewayError(
      ErrorCode.Timeout,
      `vSphere ${this.what} timed out after ${this.timeoutMs} ms`,
      { ...detail, timeoutMs: this.timeoutMs },
      undefined,
      outcome,
    )
  }

  /** Rejects with the stop error if the operation has already stopped. */
  check(): void {
    if (this.#reason !== undefined) throw this.error()
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer)
    for (const cleanup of this.#cleanups) cleanup()
  }
}

/** `instanceof AbortSignal` that cannot throw (a proxy's getPrototypeOf trap, a revoked proxy). */
function isAbortSignal(value: unknown): value is AbortSignal {
  try {
    return value instanceof AbortSignal
  } catch {
    return false
  }
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      Math.min(ms, MAX_TIMER_MS),
    )
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
