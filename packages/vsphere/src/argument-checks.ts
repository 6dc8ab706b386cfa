import { InvalidArgumentError, PortLayerError } from '@portlayer/contracts'
import { BACKEND } from './errors.js'

/**
 * Runs a synchronous argument check, putting backend `vsphere` on its error. Whatever a hostile
 * argument throws (a proxy's trap, a getter, a detached buffer) becomes `INVALID_ARGUMENT`.
 */
export function arg<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (PortLayerError.isInstance(e)) {
      if (e.backend !== undefined) throw e
      throw new InvalidArgumentError(e.message, {
        backend: BACKEND,
        target: e.target,
        detail: e.detail,
        cause: e,
      })
    }
    throw new InvalidArgumentError('an argument could not be read', { backend: BACKEND, cause: e })
  }
}
