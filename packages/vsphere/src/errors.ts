import { messageOf } from '@portlayer/backend-kit'
import {
  createError,
  type ErrorCode,
  InvalidStateError,
  NotFoundError,
  type Outcome,
  PortLayerError,
  UnavailableError,
} from '@portlayer/contracts'

export const BACKEND = 'vsphere'

/** The vSphere fault name a gateway error carries, if any. */
export function faultOf(error: unknown): string | undefined {
  if (!PortLayerError.isInstance(error)) return undefined
  const fault = error.detail?.fault
  return typeof fault === 'string' ? fault : undefined
}

/** True for a gateway error of `code` (optionally only for one of `faults`). */
export function isCode(error: unknown, code: ErrorCode, faults?: readonly string[]): boolean {
  if (!PortLayerError.isInstance(error, code)) return false
  if (!faults) return true
  const fault = faultOf(error)
  return fault !== undefined && faults.includes(fault)
}

/** True when vSphere refused a change because the VM's version moved (`ConcurrentAccess`). */
export function isConflict(error: unknown): boolean {
  return isCode(error, 'CONFLICT') || faultOf(error) === 'ConcurrentAccess'
}

/**
 * True when a failed change may nevertheless have been applied: its answer was lost, came too
 * late, or the call was aborted in flight. The caller must find out before saying anything.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  // A gateway says what it knows: `unknown` when the request may have reached vSphere and its
  // answer was lost; anything it throws that is not a portlayer error is taken at its worst.
  if (!PortLayerError.isInstance(error)) return true
  if (error.outcome === 'unknown') return true
  // An answer that never came in time may still have been applied, whatever a gateway guessed;
  // finding out costs one read. A fault vSphere answered with was certainly not applied, and so
  // was a request the gateway never sent.
  if (error.detail?.sent === false) return false
  if (error.code === 'TIMEOUT' || error.code === 'CANCELLED') return true
  return error.code === 'UNAVAILABLE' && error.detail?.fault === undefined
}

/**
 * The same error saying `outcome` (only UNAVAILABLE, TIMEOUT and CANCELLED can say `unknown`;
 * anything else becomes UNAVAILABLE when the outcome is unknown, so the caller is never told
 * "not applied" wrongly).
 */
export function withOutcome(error: unknown, outcome: Outcome): PortLayerError {
  const e = PortLayerError.isInstance(error) ? error : wrap(error, 'vSphere failed', undefined)
  if (e.outcome === outcome) return e
  const code =
    outcome === 'unknown' && e.code !== 'TIMEOUT' && e.code !== 'CANCELLED' ? 'UNAVAILABLE' : e.code
  return createError(code, e.message, {
    backend: BACKEND,
    target: e.target,
    detail: e.detail,
    cause: e.cause ?? e,
    outcome,
  })
}

/**
 * Re-raises a gateway failure as a portlayer error that names what was being done and to which
 * container, on backend `vsphere`, keeping the vSphere fault in `detail` and the original in
 * `cause`. `code` overrides the gateway's mapping where the context knows better.
 */
export function wrap(
  error: unknown,
  doing: string,
  target: string | undefined,
  code?: ErrorCode,
): PortLayerError {
  if (PortLayerError.isInstance(error)) {
    // Already about this container (raised here, or wrapped once already): nothing to add.
    if (
      code === undefined &&
      target !== undefined &&
      error.target === target &&
      error.message.includes(target)
    ) {
      return error
    }
    return createError(code ?? error.code, `${doing}: ${error.message}`, {
      backend: BACKEND,
      target: target ?? error.target,
      detail: error.detail,
      cause: error,
      outcome: error.outcome,
    })
  }
  const message = messageOf(error)
  return createError(code ?? 'UNAVAILABLE', `${doing}: ${message}`, {
    backend: BACKEND,
    target,
    cause: error,
  })
}

export function notFound(id: string): NotFoundError {
  return new NotFoundError(`container ${id} not found on vsphere`, { backend: BACKEND, target: id })
}

export function invalidState(message: string, target: string): InvalidStateError {
  return new InvalidStateError(message, { backend: BACKEND, target })
}

export function notInitialised(): InvalidStateError {
  return new InvalidStateError('PortLayerVsphere is not initialised: call init(gateway, factory) first', {
    backend: BACKEND,
  })
}

export function closed(): UnavailableError {
  return new UnavailableError('PortLayerVsphere was closed', { backend: BACKEND })
}
