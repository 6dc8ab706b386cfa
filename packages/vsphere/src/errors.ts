import {
  createError,
  type ErrorCode,
  InvalidStateError,
  NotFoundError,
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

/** True when the error says the answer was lost, so the call may or may not have been applied. */
export function isOutcomeUnknown(error: unknown): boolean {
  return PortLayerError.isInstance(error, 'UNAVAILABLE') || PortLayerError.isInstance(error, 'TIMEOUT')
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
    })
  }
  const message = error instanceof Error ? error.message : String(error)
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
