import { ErrorCode, type PortLayerError } from '@portlayer/contracts'
import type { MoRef, TaskInfo } from '@portlayer/contracts/vmomi'
import { GatewayCause, gatewayError } from './errors.js'
import { normalizeValue, xsiTypeOf } from './normalize.js'
import { type Redactor, scrub } from './redact.js'
import { ancestry, TYPES } from './schema/registry.js'
import { isRecord } from './values.js'

/**
 * vSphere faults → portlayer error codes. A fault without an entry takes its nearest ancestor's:
 * checked application faults (`VimFault`) are refusals in the current state, unchecked server
 * faults (`RuntimeFault`) mean the server could not serve the call.
 */
const CODE_BY_FAULT: Readonly<Record<string, ErrorCode>> = {
  ManagedObjectNotFound: ErrorCode.NotFound,
  NotFound: ErrorCode.NotFound,
  FileNotFound: ErrorCode.NotFound,
  GuestProcessNotFound: ErrorCode.NotFound,

  ConcurrentAccess: ErrorCode.Conflict,
  DuplicateName: ErrorCode.Conflict,
  AlreadyExists: ErrorCode.Conflict,
  FileAlreadyExists: ErrorCode.Conflict,

  InvalidState: ErrorCode.InvalidState,
  TaskInProgress: ErrorCode.InvalidState,
  ToolsUnavailable: ErrorCode.InvalidState,
  GuestOperationsUnavailable: ErrorCode.InvalidState,
  GuestComponentsOutOfDate: ErrorCode.InvalidState,
  InsufficientResourcesFault: ErrorCode.InvalidState,
  FileLocked: ErrorCode.InvalidState,
  ResourceInUse: ErrorCode.InvalidState,

  InvalidArgument: ErrorCode.InvalidArgument,
  InvalidRequest: ErrorCode.InvalidArgument,
  InvalidName: ErrorCode.InvalidArgument,
  InvalidProperty: ErrorCode.InvalidArgument,
  OutOfBounds: ErrorCode.InvalidArgument,
  VmConfigFault: ErrorCode.InvalidArgument,
  InvalidDatastore: ErrorCode.InvalidArgument,
  InvalidFolder: ErrorCode.InvalidArgument,
  InvalidLocale: ErrorCode.InvalidArgument,
  InvalidLogin: ErrorCode.InvalidArgument,
  InvalidGuestLogin: ErrorCode.InvalidArgument,
  GuestPermissionDenied: ErrorCode.InvalidArgument,
  NotADirectory: ErrorCode.InvalidArgument,
  NotAFile: ErrorCode.InvalidArgument,

  MethodNotFound: ErrorCode.Unsupported,
  NotSupported: ErrorCode.Unsupported,
  NotImplemented: ErrorCode.Unsupported,
  OperationDisabledByGuest: ErrorCode.Unsupported,
  SecurityError: ErrorCode.Unsupported,

  NotAuthenticated: ErrorCode.Unavailable,
  HostCommunication: ErrorCode.Unavailable,
  RequestCanceled: ErrorCode.Unavailable,
  TooManyGuestLogons: ErrorCode.Unavailable,
  RuntimeFault: ErrorCode.Unavailable,

  Timedout: ErrorCode.Timeout,

  VimFault: ErrorCode.InvalidState,
  MethodFault: ErrorCode.InvalidState,
}

/** The portlayer error code for vSphere fault `name` (a fault outside the table: `INVALID_STATE`). */
export function codeForFault(name: string): ErrorCode {
  for (const type of ancestry(name)) {
    const code = CODE_BY_FAULT[type]
    if (code !== undefined) return code
  }
  return ErrorCode.InvalidState
}

/** A vSphere fault as read from a SOAP fault or a task's error. */
export interface VimFault {
  /** vim25 type name, e.g. `ManagedObjectNotFound`. */
  readonly name: string
  readonly message: string
  /** The normalised fault object (`_type` set). */
  readonly fault: Record<string, unknown>
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value
  if (isRecord(value) && typeof value.$value === 'string') return value.$value
  return ''
}

/** Reads the fault out of a node-soap error (`err.root.Envelope.Body.Fault`), if it holds one. */
export function faultFromSoapError(error: unknown): VimFault | undefined {
  if (!isRecord(error) || !isRecord(error.root)) return undefined
  const envelope = error.root.Envelope
  const body = isRecord(envelope) ? envelope.Body : undefined
  const soapFault = isRecord(body) ? body.Fault : undefined
  if (!isRecord(soapFault)) return undefined
  const message = textOf(soapFault.faultstring)
  const detail = soapFault.detail
  if (isRecord(detail)) {
    for (const [element, raw] of Object.entries(detail)) {
      if (element === 'attributes' || element === '$value') continue
      const name = xsiTypeOf(raw) ?? element.replace(/Fault$/, '')
      const known = TYPES.has(name)
      const fault = (known ? normalizeValue(raw, 'MethodFault') : normalizeValue(raw, 'anyType')) as Record<
        string,
        unknown
      >
      return { name, message, fault: { ...(isRecord(fault) ? fault : {}), _type: name } }
    }
  }
  const code = textOf(soapFault.faultcode)
  return { name: 'MethodFault', message: message || code, fault: { _type: 'MethodFault', faultCode: code } }
}

/** The fault of a failed task. */
export function faultFromTask(info: TaskInfo): VimFault {
  const error = info.error
  const fault = (error?.fault ?? {}) as Record<string, unknown>
  const name = typeof fault._type === 'string' ? fault._type : 'MethodFault'
  return { name, message: error?.localizedMessage ?? '', fault: { ...fault, _type: name } }
}

function ref(value: MoRef | undefined): string {
  return value ? ` on ${value.type}:${value.value}` : ''
}

export interface FaultContext {
  readonly method: string
  readonly object?: MoRef
  readonly task?: MoRef
}

/** The `PortLayerError` for `fault` raised by `context.method` (or by the task it started). */
export function faultError(fault: VimFault, context: FaultContext, redactor: Redactor): PortLayerError {
  const code = codeForFault(fault.name)
  const what = context.task ? `task ${context.method} (${context.task.value})` : context.method
  const said = fault.message ? `: ${fault.message}` : ''
  const message = redactor.text(`vSphere ${what}${ref(context.object)} failed with ${fault.name}${said}`)
  const detail: Record<string, unknown> = {
    fault: fault.name,
    method: context.method,
    vimFault: scrub(fault.fault, redactor),
  }
  if (context.object) detail.object = context.object
  if (context.task) detail.task = context.task
  return gatewayError(code, message, detail, new GatewayCause(message, fault.name))
}
