import { ErrorCode as Codes, createError, type ErrorCode, type PortLayerError } from '@portlayer/contracts'

/** The backend name every gateway error carries. */
export const BACKEND = 'vsphere'

/**
 * A stand-in for an underlying error. node-soap and axios errors hold the request (including a
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
): PortLayerError {
  return createError(code, message, { backend: BACKEND, detail, cause })
}

export function invalidArgument(message: string, detail?: Record<string, unknown>): PortLayerError {
  return gatewayError(Codes.InvalidArgument, message, detail)
}
