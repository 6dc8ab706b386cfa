import {
  type EntryPoint,
  type FileCopy,
  type Handle,
  InvalidArgumentError,
  type RequestedLimits,
  type RunState,
  validateData,
  validateId,
  validateLimit,
  validateName,
  validateNamespace,
  validatePerms,
  validateProcess,
  validateTargetRunState,
} from '@portlayer/contracts'
import { checkAbsolutePath, checkFileName } from './fast-checks.js'
import { BasicHandle, EMPTY_EXTENSIONS, EMPTY_FILES, makeHandle, pending } from './handle.js'
import { toFrozenJson } from './json-value.js'

/** Longest base version accepted; simulator versions are counters, vSphere's are timestamps. */
export const MAX_VERSION_LENGTH = 256

const PENDING_KEYS: ReadonlySet<string> = new Set([
  'name',
  'limits',
  'runState',
  'mainProcess',
  'files',
  'extensions',
])

function bad(message: string): never {
  throw new InvalidArgumentError(`malformed handle: ${message}`)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks that `value` is a well-formed handle and returns it as a frozen handle of this package.
 * A handle made by this package is returned as is; anything else (a deserialised handle, a
 * structured clone, a handle of another factory) is validated field by field and copied, so the
 * result never shares mutable state with the input.
 * @throws InvalidArgumentError when any field is missing, of the wrong type or out of range.
 */
export function assertHandle(value: unknown): Handle {
  if (BasicHandle.isMade(value)) return value
  if (!isRecord(value)) bad(`expected an object, got ${value === null ? 'null' : typeof value}`)
  const containerId = validateId(value.containerId, 'handle.containerId')
  const baseVersion = value.baseVersion
  if (baseVersion !== null) {
    if (
      typeof baseVersion !== 'string' ||
      baseVersion.length === 0 ||
      baseVersion.length > MAX_VERSION_LENGTH
    )
      bad('baseVersion must be null or a non-empty string')
  }
  const p = value.pending
  if (!isRecord(p)) bad('pending must be an object')
  for (const key of Object.keys(p)) {
    if (!PENDING_KEYS.has(key) && p[key] !== undefined) bad(`pending has an unknown field '${key}'`)
  }

  let name: string | undefined
  if (baseVersion === null) name = validateName(p.name)
  else if (p.name !== undefined) bad('only a create-handle (baseVersion null) may carry a name')

  let limits: RequestedLimits | undefined
  if (p.limits !== undefined) {
    if (!isRecord(p.limits)) bad('pending.limits must be an object')
    limits = Object.freeze({
      memoryMb: validateLimit(p.limits.memoryMb, 'memoryMb'),
      cpuMhz: validateLimit(p.limits.cpuMhz, 'cpuMhz'),
    })
  }

  const runState: RunState | undefined =
    p.runState === undefined ? undefined : validateTargetRunState(p.runState)

  let mainProcess: EntryPoint | undefined
  if (p.mainProcess !== undefined) {
    const m = p.mainProcess
    if (!isRecord(m)) bad('pending.mainProcess must be an object')
    mainProcess = Object.freeze(validateProcess(m.workDir, m.execPath, m.execArgs))
  }

  let files: readonly FileCopy[] = EMPTY_FILES
  if (p.files !== undefined) {
    const list = p.files
    if (!Array.isArray(list)) bad('pending.files must be an array')
    if (list.length > 0) {
      // Not `map`: it skips the holes of a sparse array and keeps them in its result.
      const out: FileCopy[] = []
      for (let i = 0; i < list.length; i++) {
        if (!(i in list)) bad(`pending.files has a hole at file ${i}`)
        out.push(toFileCopy(list[i]))
      }
      files = Object.freeze(out)
    }
  }

  let extensions: Readonly<Record<string, unknown>> = EMPTY_EXTENSIONS
  if (p.extensions !== undefined) {
    const e = p.extensions
    if (!isRecord(e)) bad('pending.extensions must be an object')
    const proto = Object.getPrototypeOf(e)
    if (proto !== Object.prototype && proto !== null) bad('pending.extensions must be a plain object')
    const keys = Object.keys(e)
    if (keys.length > 0) {
      const out: Record<string, unknown> = {}
      for (const ns of keys) {
        validateNamespace(ns)
        if (e[ns] !== undefined) out[ns] = toFrozenJson(e[ns], `extension slot '${ns}'`)
      }
      extensions = Object.freeze(out)
    }
  }

  return makeHandle(containerId, baseVersion, pending(name, limits, runState, mainProcess, files, extensions))
}

/** Validates one file to copy and returns a frozen copy that owns its bytes. */
export function toFileCopy(value: unknown): FileCopy {
  if (!isRecord(value)) bad('each pending file must be an object')
  const targetDir = checkAbsolutePath(value.targetDir, 'targetDir')
  const fname = checkFileName(value.fname)
  const perms = validatePerms(value.perms)
  const data = validateData(value.data)
  // A private copy: the caller may reuse its buffer, and a handle must never change.
  return Object.freeze({ targetDir, fname, perms, data: new Uint8Array(data) })
}
