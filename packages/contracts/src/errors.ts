/** The error codes every backend uses. */
export const ErrorCode = {
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  InvalidState: 'INVALID_STATE',
  InvalidArgument: 'INVALID_ARGUMENT',
  Unsupported: 'UNSUPPORTED',
  Unavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
  Cancelled: 'CANCELLED',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode))

/** True when `value` is one of the {@link ErrorCode} strings. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ERROR_CODES.has(value)
}

// A registry symbol, not a module-local one, so that two copies of this package (e.g. a CJS and
// an ESM copy, or two versions in one node_modules tree) recognise each other's errors.
const MARK = Symbol.for('@portlayer/contracts/PortLayerError')

/**
 * What a failed call tells about its change: `'not-applied'` (nothing of the call changed anything)
 * or `'unknown'` (the change may have landed). Backends report `'unknown'` only with `UNAVAILABLE`,
 * `TIMEOUT` or `CANCELLED`, and only after they tried to find out and could not; when the backend
 * is reachable again they reconcile instead and report the truth.
 */
export type Outcome = 'not-applied' | 'unknown'

/** The codes with which an error may say its outcome is `'unknown'`. */
const UNKNOWN_OUTCOME_CODES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'TIMEOUT', 'CANCELLED'])

/** Messages are capped so a hostile or huge value can never make an error huge. */
export const MAX_MESSAGE_LENGTH = 1000

function capMessage(text: string): string {
  if (text.length <= MAX_MESSAGE_LENGTH) return text
  // Cut on a code point: a lone surrogate at the end would make the message invalid UTF-16.
  let end = MAX_MESSAGE_LENGTH - 1
  const code = text.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end--
  return `${text.slice(0, end)}…`
}

/** Extra facts an error can carry besides its message. */
export interface PortLayerErrorOptions {
  /** The error that led to this one. */
  cause?: unknown
  /** The backend that raised it, e.g. `simulator` or `vsphere`. */
  backend?: string
  /** The container or process the operation was about. */
  target?: string
  /** Backend-native detail, e.g. `{ fault: 'ConcurrentAccess' }` from vSphere. */
  detail?: Readonly<Record<string, unknown>>
  /**
   * `'unknown'` when the change may have landed (only with `UNAVAILABLE`, `TIMEOUT` or
   * `CANCELLED`; ignored with other codes). Default `'not-applied'`.
   */
  outcome?: Outcome
}

/**
 * The one error type of portlayer. Every operation fails with a `PortLayerError` (or a subclass)
 * whose `code` says what went wrong; the original error, if any, is kept in `cause`.
 */
export class PortLayerError extends Error {
  readonly code: ErrorCode
  readonly backend: string | undefined
  readonly target: string | undefined
  readonly detail: Readonly<Record<string, unknown>> | undefined
  /**
   * Whether the failed call's change may have landed. `'not-applied'`: nothing changed.
   * `'unknown'`: the backend tried to find out and could not (only with `UNAVAILABLE`, `TIMEOUT`
   * or `CANCELLED`); read the container again before retrying.
   */
  readonly outcome: Outcome
  declare readonly [MARK]: true

  constructor(code: ErrorCode, message: string, options: PortLayerErrorOptions = {}) {
    // Messages name the backend, so a log line alone says where it failed.
    const { backend } = options
    const named = backend === undefined || message.toLowerCase().includes(backend.toLowerCase())
    const text = capMessage(named ? message : `${backend}: ${message}`)
    super(text, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.backend = options.backend
    this.target = options.target
    this.detail = options.detail
    this.outcome =
      options.outcome === 'unknown' && UNKNOWN_OUTCOME_CODES.has(code) ? 'unknown' : 'not-applied'
    Object.defineProperty(this, MARK, { value: true })
  }

  /**
   * True for any portlayer error, also one thrown by another copy of this package; with `code`,
   * only for errors of that code.
   */
  static isInstance(value: unknown, code?: ErrorCode): value is PortLayerError {
    if (typeof value !== 'object' || value === null) return false
    if ((value as Record<symbol, unknown>)[MARK] !== true) return false
    return code === undefined || (value as PortLayerError).code === code
  }

  /** A plain object for logs and JSON; never includes `cause` objects that may hold secrets. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      backend: this.backend,
      target: this.target,
      detail: this.detail,
      outcome: this.outcome,
    }
  }
}

/** The container, process or object does not exist. */
export class NotFoundError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.NotFound, message, options)
  }
}

/** The handle's base version is no longer current: another commit landed first. */
export class ConcurrentModificationError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.Conflict, message, options)
  }
}

/** The operation is not allowed in the container's current state. */
export class InvalidStateError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.InvalidState, message, options)
  }
}

/** An argument was malformed or out of range. Nothing was changed. */
export class InvalidArgumentError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.InvalidArgument, message, options)
  }
}

/** The backend cannot do this at all. */
export class UnsupportedError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.Unsupported, message, options)
  }
}

/** The backend cannot be reached, or its session was lost. */
export class UnavailableError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.Unavailable, message, options)
  }
}

/** A deadline passed before the operation finished. */
export class TimeoutError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.Timeout, message, options)
  }
}

/**
 * The call was aborted through its `signal`; `cause` is the signal's reason. Like every error it
 * says whether the change may have landed (`outcome`).
 */
export class CancelledError extends PortLayerError {
  constructor(message: string, options?: PortLayerErrorOptions) {
    super(ErrorCode.Cancelled, message, options)
  }
}

const BY_CODE = {
  NOT_FOUND: NotFoundError,
  CONFLICT: ConcurrentModificationError,
  INVALID_STATE: InvalidStateError,
  INVALID_ARGUMENT: InvalidArgumentError,
  UNSUPPORTED: UnsupportedError,
  UNAVAILABLE: UnavailableError,
  TIMEOUT: TimeoutError,
  CANCELLED: CancelledError,
} as const satisfies Record<ErrorCode, new (m: string, o?: PortLayerErrorOptions) => PortLayerError>

/** Builds the subclass that belongs to `code` (e.g. `NotFoundError` for `NOT_FOUND`). */
export function createError(
  code: ErrorCode,
  message: string,
  options?: PortLayerErrorOptions,
): PortLayerError {
  return new BY_CODE[code](message, options)
}
