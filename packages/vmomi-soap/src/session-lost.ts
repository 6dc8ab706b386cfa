import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type { MoRef, RetrieveResult } from '@portlayer/contracts/vmomi'
import { gatewayError } from './errors.js'
import { isSubtypeOf, type Operation } from './schema/registry.js'

// Errors that say the server did not know the session: a NotAuthenticated SOAP fault or
// missingSet entry, marked where the answer is read. Errors about a failed re-login carry the same
// fault name but are never marked, so they are never taken for a reason to log in again. (The
// third form, a task that ended with NotAuthenticated, is a task fault: see task-waits.ts.)
const sessionLost = new WeakSet<PortLayerError>()

/** Marks `error` as the server's word that it did not know the session. */
export function markSessionLost(error: PortLayerError): PortLayerError {
  sessionLost.add(error)
  return error
}

/** True for an error marked by {@link markSessionLost}. */
export function isSessionLost(error: unknown): error is PortLayerError {
  return PortLayerError.isInstance(error) && sessionLost.has(error)
}

/** True for the fault name `NotAuthenticated` (or a subtype). */
export function isNotAuthenticatedFault(name: unknown): boolean {
  return typeof name === 'string' && isSubtypeOf(name, 'NotAuthenticated')
}

/** The object of a retrieve answer whose `missingSet` says the session was not known, if any. */
function sessionLostInAnswer(op: Operation, result: unknown): MoRef | undefined {
  if (op.name !== 'RetrievePropertiesEx' && op.name !== 'ContinueRetrievePropertiesEx') return undefined
  for (const object of (result as RetrieveResult | undefined)?.objects ?? []) {
    for (const missing of object.missingSet ?? []) {
      const fault = (missing.fault as { fault?: { _type?: unknown } } | undefined)?.fault
      if (isNotAuthenticatedFault(fault?._type)) return object.obj
    }
  }
  return undefined
}

/**
 * The session-lost error for an answer with NotAuthenticated in a `missingSet` (no fault at all:
 * without this check a live object would read as missing); undefined for any other answer.
 */
export function sessionLostAnswerError(op: Operation, result: unknown): PortLayerError | undefined {
  const object = sessionLostInAnswer(op, result)
  if (object === undefined) return undefined
  return markSessionLost(
    gatewayError(
      ErrorCode.Unavailable,
      `vSphere ${op.name}: the session is no longer valid (NotAuthenticated for ${object.type}:${object.value})`,
      { method: op.name, fault: 'NotAuthenticated', object, missingSet: true },
    ),
  )
}
