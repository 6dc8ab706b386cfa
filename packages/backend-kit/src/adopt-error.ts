import {
  createError,
  describeValue,
  type ErrorCode,
  type Outcome,
  PortLayerError,
} from '@portlayer/contracts'

/** Longest part of a thrown Error's own message that {@link messageOf} keeps. */
export const MAX_ADOPTED_MESSAGE = 500

/** Where a thrown value came from, for the error that replaces it. */
export interface AdoptContext {
  /** The backend's name, put on the error (e.g. `simulator`, `vsphere`). */
  readonly backend: string
  /** The container or process the call was about. */
  readonly target?: string
  /** What was being done, put in front of the message, e.g. `extension 'net' rejected the commit`. */
  readonly doing?: string
  /** The code for a value that is not a `PortLayerError`. Default `INVALID_ARGUMENT`. */
  readonly code?: ErrorCode
  /**
   * Overrides a `PortLayerError`'s outcome, e.g. `'not-applied'` for an error an extension threw
   * before anything of the commit was applied, whatever the extension claimed.
   */
  readonly outcome?: Outcome
}

/**
 * True when `value` is a `PortLayerError` (of any copy of contracts). Never throws: a proxy whose
 * traps throw is simply not one.
 */
export function isPortLayerError(value: unknown): value is PortLayerError {
  try {
    return PortLayerError.isInstance(value)
  } catch {
    return false
  }
}

/**
 * A short text for anything thrown: an `Error`'s own message (at most
 * {@link MAX_ADOPTED_MESSAGE} characters), else contracts' `describeValue` (`null`, `a symbol`,
 * `an object`, …). Never calls a thrown object's `toString`, never throws.
 */
export function messageOf(thrown: unknown): string {
  try {
    if (thrown instanceof Error) {
      const message: unknown = thrown.message
      if (typeof message === 'string') {
        // A huge message is cut, not echoed: it may be a caller's value turned into text.
        return message.length <= MAX_ADOPTED_MESSAGE ? message : `${message.slice(0, MAX_ADOPTED_MESSAGE)}…`
      }
    }
  } catch {
    // A proxy's getPrototypeOf trap or a message getter threw: describe the value instead.
  }
  return describeValue(thrown)
}

/**
 * Any thrown value as a `PortLayerError` on `backend`:
 * - a `PortLayerError` keeps its code, detail, outcome and target (the context's target when it
 *   has none); it is returned as it is when it already names this backend and there is nothing
 *   to add (`doing` absent);
 * - anything else (an `Error`, a string, `null`, a symbol, a throwing proxy) becomes
 *   `context.code` (default `INVALID_ARGUMENT`) with {@link messageOf} as its message.
 * The thrown value is kept as `cause` (which `toJSON()` leaves out). Messages are capped at
 * 1,000 characters by `PortLayerError` itself.
 */
export function adoptError(thrown: unknown, context: AdoptContext): PortLayerError {
  const { backend, target, doing } = context
  if (isPortLayerError(thrown)) {
    try {
      const outcome = context.outcome ?? thrown.outcome
      if (doing === undefined && thrown.backend === backend && thrown.outcome === outcome) return thrown
      const message = doing === undefined ? thrown.message : `${doing}: ${thrown.message}`
      return createError(thrown.code, message, {
        backend,
        target: thrown.target ?? target,
        detail: thrown.detail,
        cause: thrown,
        outcome,
      })
    } catch {
      // A look-alike whose fields throw: adopted as a value below.
    }
  }
  const message = messageOf(thrown)
  return createError(
    context.code ?? 'INVALID_ARGUMENT',
    doing === undefined ? message : `${doing}: ${message}`,
    {
      backend,
      target,
      cause: thrown,
    },
  )
}
