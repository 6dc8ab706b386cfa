import {
  ErrorCode as Codes,
  createError,
  type ErrorCode,
  type Outcome,
  type PortLayerError,
} from '@portlayer/contracts'

/** The backend name every gateway error carries. */
export const BACKEND = 'vsphere'

/**
 * A stand-in for an underlying error. node-soap and HTTP client errors hold the request (including a
 * `Login` body with the password) and its headers (the session cookie), so they are never kept as
 * a `cause`; only their already-redacted message and code are.
 */
export class GatewayCause extends Error {
  readonly code: string | undefined
  constructor(message: string, code?: string) {
    super(message)
    this.name = 'GatewayCause'
    this.code = code
  }
}

export function gatewayError(
  code: ErrorCode,
  message: string,
  detail?: Record<string, unknown>,
  cause?: unknown,
  outcome?: Outcome,
): PortLayerError {
  return createError(code, message, { backend: BACKEND, detail, cause, outcome })
}

export function invalidArgument(message: string, detail?: Record<string, unknown>): PortLayerError {
  return gatewayError(Codes.InvalidArgument, message, detail)
}

/**
 * `error` saying `outcome` instead (the same code, message, detail and cause). Only `UNAVAILABLE`,
 * `TIMEOUT` and `CANCELLED` can say `'unknown'`; any other error is returned as it is.
 */
export function withOutcome(error: PortLayerError, outcome: Outcome): PortLayerError {
  if (error.outcome === outcome) return error
  if (
    outcome === 'unknown' &&
    !(error.code === 'UNAVAILABLE' || error.code === 'TIMEOUT' || error.code === 'CANCELLED')
  )
    return error
  return createError(error.code, error.message, {
    backend: error.backend,
    target: error.target,
    detail: error.detail,
    cause: error.cause,
    outcome,
  })
}

/** A short description of any value; never throws (symbols, null-prototype objects, proxies). */
export function describe(value: unknown): string {
  try {
    if (value instanceof Error) return typeof value.message === 'string' ? value.message : 'error'
    if (typeof value === 'string') return value
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
      return String(value)
    return value === null ? 'null' : typeof value
  } catch {
    return 'unreadable value'
  }
}
