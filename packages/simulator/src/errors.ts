import {
  CancelledError,
  ConcurrentModificationError,
  createError,
  type ErrorCode,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  type PortLayerError,
  TimeoutError,
  UnavailableError,
} from '@portlayer/contracts'

export const BACKEND = 'simulator'

export function notFound(message: string, target?: string, detail?: Record<string, unknown>): NotFoundError {
  return new NotFoundError(`simulator: ${message}`, { backend: BACKEND, target, detail })
}

export function conflict(message: string, target: string): ConcurrentModificationError {
  return new ConcurrentModificationError(`simulator: ${message}`, { backend: BACKEND, target })
}

export function invalidState(message: string, target?: string): InvalidStateError {
  return new InvalidStateError(`simulator: ${message}`, { backend: BACKEND, target })
}

export function invalidArgument(message: string, target?: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`simulator: ${message}`, { backend: BACKEND, target, cause })
}

export function containerNotFound(id: string): NotFoundError {
  return notFound(`container ${id} does not exist`, id)
}

export function injected(code: ErrorCode, operation: string, target: string | undefined): PortLayerError {
  return createError(
    code,
    `simulator: injected ${code} fault in ${operation}${target ? ` (${target})` : ''}`,
    {
      backend: BACKEND,
      target,
      detail: { injected: true, operation },
    },
  )
}

/**
 * What every call gets once `close()` has run, also one that was already waiting when it ran.
 * `applied` marks the one case where the call's change had landed before close cut it short (a
 * stop still in its grace period): its outcome is then `unknown`, never `not-applied`.
 */
export function closed(operation: string, target: string | undefined, applied = false): UnavailableError {
  return new UnavailableError(
    `simulator: closed; ${operation}${target ? ` (${target})` : ''} cannot complete`,
    {
      backend: BACKEND,
      target,
      detail: applied ? { closed: true, operation, applied: true } : { closed: true, operation },
      outcome: applied ? 'unknown' : 'not-applied',
    },
  )
}

/** An aborted call: `cause` is the signal's reason. Nothing of it was applied. */
export function cancelled(operation: string, target: string | undefined, reason: unknown): CancelledError {
  return new CancelledError(
    `simulator: ${operation}${target ? ` (${target})` : ''} was cancelled; nothing was changed`,
    { backend: BACKEND, target, cause: reason, detail: { operation } },
  )
}

/** A call that waited past the simulator's `callTimeoutMs`. Nothing of it was applied. */
export function timedOut(operation: string, target: string | undefined, timeoutMs: number): TimeoutError {
  return new TimeoutError(
    `simulator: ${operation}${target ? ` (${target})` : ''} did not finish within callTimeoutMs (${timeoutMs} ms); nothing was changed`,
    { backend: BACKEND, target, detail: { operation, timeoutMs } },
  )
}
