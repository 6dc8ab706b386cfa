import type { PortLayerError } from '@portlayer/contracts'
import { adoptError, isPortLayerError } from './adopt-error.js'

/**
 * Runs the synchronous argument checks of one call (contracts' validators, a handle factory's
 * derivation) and returns what `check` returns. Whatever they throw comes out as a
 * `PortLayerError` on `backend`: a `PortLayerError` keeps its code (and gets the backend's name
 * when it has none; one that names a backend is thrown as it is); anything else — a getter or proxy trap of a hostile argument, a
 * `TypeError` from a detached buffer — becomes `INVALID_ARGUMENT`, never a raw error.
 */
export function checkArgument<T>(backend: string, check: () => T, target?: string): T {
  try {
    return check()
  } catch (e) {
    throw argumentError(backend, e, target)
  }
}

/** The error {@link checkArgument} throws for `thrown`. */
export function argumentError(backend: string, thrown: unknown, target?: string): PortLayerError {
  if (isPortLayerError(thrown)) {
    // Raised by a backend already (e.g. a validator given the backend's name): kept as it is.
    if (thrown.backend !== undefined) return thrown
    return adoptError(thrown, { backend, target })
  }
  return adoptError(thrown, { backend, target, doing: 'an argument could not be read' })
}
