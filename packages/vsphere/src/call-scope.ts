import { AsyncLocalStorage } from 'node:async_hooks'
import { CancelledError, PortLayerError, TimeoutError, validateCallOptions } from '@portlayer/contracts'
import type { VmomiCallOptions, VmomiGateway } from '@portlayer/contracts/vmomi'
import { BACKEND } from './errors.js'

// Every PortLayer call runs in a scope that carries its abort signal (the caller's, combined with
// the backend's per-call deadline). The scope travels with the async context, so every gateway
// call the operation makes — however deep in the commit plan — is aborted with it, without
// threading a parameter through each step. Reconciliation after an abort runs in a fresh scope
// (`reconciling`), because finding out what happened must not be cancelled by the same signal.

interface Scope {
  readonly signal: AbortSignal | undefined
}

const storage = new AsyncLocalStorage<Scope>()

/** The signal of the PortLayer call in progress, if any. */
export function scopeSignal(): AbortSignal | undefined {
  return storage.getStore()?.signal
}

/** The error an abort of `signal` gives a call that applied nothing. */
export function abortedError(signal: AbortSignal): PortLayerError {
  return cancelled(signal.reason, 'not-applied')
}

/** Throws `CANCELLED` (outcome not-applied) when the current call was aborted. */
export function throwIfAborted(): void {
  const signal = scopeSignal()
  if (signal?.aborted) throw cancelled(signal.reason, 'not-applied')
}

function cancelled(reason: unknown, outcome: 'not-applied' | 'unknown'): PortLayerError {
  if (isDeadline(reason)) {
    return new TimeoutError('the call passed its deadline', { backend: BACKEND, cause: reason, outcome })
  }
  return new CancelledError('the call was cancelled', { backend: BACKEND, cause: reason, outcome })
}

class Deadline extends Error {
  constructor(readonly ms: number) {
    super(`deadline of ${ms} ms passed`)
    this.name = 'Deadline'
  }
}

function isDeadline(reason: unknown): reason is Deadline {
  return reason instanceof Deadline
}

/** Checks the `options` argument of a PortLayer method; the signal to follow, if any. */
export function callSignal(options: unknown): AbortSignal | undefined {
  const signal = validateCallOptions(options, BACKEND)?.signal
  // Followed through a signal of our own, so nothing of the caller's is touched again.
  return signal === undefined ? undefined : AbortSignal.any([signal])
}

/**
 * Runs one PortLayer call in its scope: aborted by `signal` or when `deadlineMs` (0: none) passes.
 * An abort surfaces as `CANCELLED` (or `TIMEOUT` for the deadline), keeping the outcome the
 * operation established (not-applied unless it says otherwise).
 */
export async function inScope<T>(
  signal: AbortSignal | undefined,
  deadlineMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw cancelled(signal.reason, 'not-applied')
  if (signal === undefined && deadlineMs === 0) return storage.run({ signal: undefined }, fn)
  const controller = new AbortController()
  const onAbort = () => controller.abort(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  const timer =
    deadlineMs > 0 ? setTimeout(() => controller.abort(new Deadline(deadlineMs)), deadlineMs) : undefined
  timer?.unref?.()
  const combined = controller.signal
  try {
    return await storage.run({ signal: combined }, fn)
  } catch (e) {
    if (!combined.aborted) throw e
    // An abort reaches the operation as whatever the gateway made of it (CANCELLED, or a
    // transport error); the caller is told it was cancelled, with the outcome the operation found.
    if (PortLayerError.isInstance(e) && !isTransient(e)) throw e
    const outcome = PortLayerError.isInstance(e) ? e.outcome : 'unknown'
    throw cancelled(combined.reason, outcome)
  } finally {
    if (timer) clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

function isTransient(e: PortLayerError): boolean {
  return e.code === 'CANCELLED' || e.code === 'UNAVAILABLE' || e.code === 'TIMEOUT'
}

/**
 * Runs `fn` outside the caller's signal, bounded by `timeoutMs`: for finding out what a change
 * whose answer was lost (or aborted) did, and for undoing half of it.
 */
export function reconciling<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  return storage.run({ signal: AbortSignal.timeout(timeoutMs) }, fn)
}

/** Sleeps `ms`; rejects at once with `CANCELLED` (or `TIMEOUT`) when the call in progress is aborted. */
export function pause(ms: number): Promise<void> {
  throwIfAborted()
  const signal = scopeSignal()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(cancelled(signal?.reason, 'not-applied'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Runs `fn` with no signal at all (background work owned by the backend). */
export function unscoped<T>(fn: () => Promise<T>): Promise<T> {
  return storage.run({ signal: undefined }, fn)
}

function withScope(options: VmomiCallOptions | undefined): VmomiCallOptions | undefined {
  if (options?.signal) return options
  const signal = scopeSignal()
  if (!signal) return options
  return options ? { ...options, signal } : { signal }
}

/**
 * The gateway as the backend's operations see it: every call carries the signal of the
 * PortLayer call in progress.
 */
export function scopedGateway(gateway: VmomiGateway): VmomiGateway {
  return {
    get serviceContent() {
      return gateway.serviceContent
    },
    call(method, args, options) {
      return gateway.call(method, args, withScope(options))
    },
    waitForTask(task, options) {
      return gateway.waitForTask(task, withScope(options))
    },
    transfer(request, options) {
      return gateway.transfer(request, withScope(options))
    },
    close() {
      return gateway.close()
    },
  }
}
