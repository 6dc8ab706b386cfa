import {
  CancelledError,
  ConcurrentModificationError,
  createError,
  describeValue,
  type ErrorCode,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  PortLayerError,
  TimeoutError,
  UnavailableError,
} from '@portlayer/contracts'

export const BACKEND = 'simulator'

const ERROR_MESSAGE_LIMIT = 500

/**
 * The message of anything thrown by code the simulator calls (a program, an extension): an
 * Error's message, else a short description. Never throws, whatever was thrown.
 */
export function messageOf(thrown: unknown): string {
  try {
    if (thrown instanceof Error) {
      const m: unknown = thrown.message
      if (typeof m === 'string') return m.length <= ERROR_MESSAGE_LIMIT ? m : describeValue(m)
    }
  } catch {
    // a hostile proxy or getter: describe the value instead
  }
  return describeValue(thrown)
}

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

/**
 * Gives an error raised outside the simulator (a handle factory, an extension) the simulator's
 * backend name and the target, keeping its code and class; other errors pass through unchanged.
 */
export function adopt(error: unknown, target: string | undefined): unknown {
  if (!PortLayerError.isInstance(error) || error.backend !== undefined) return error
  const message = error.message.startsWith('simulator: ') ? error.message : `simulator: ${error.message}`
  return createError(error.code, message, {
    backend: BACKEND,
    target: error.target ?? target,
    detail: error.detail,
    cause: error,
  })
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
