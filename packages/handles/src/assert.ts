import {
  describeValue,
  type EntryPoint,
  type FileCopy,
  type Handle,
  InvalidArgumentError,
  MAX_PENDING_FILES,
  PortLayerError,
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
 * Runs `read`, which reads a caller's object, so that whatever it throws comes out as
 * INVALID_ARGUMENT: a getter, a proxy trap or a revoked proxy must never leak its own error (or a
 * TypeError) through a public call.
 */
export function readUntrusted<T>(what: string, read: () => T): T {
  try {
    return read()
  } catch (e) {
    if (PortLayerError.isInstance(e)) throw e
    throw new InvalidArgumentError(`${what} could not be read (a getter or proxy trap threw)`, { cause: e })
  }
}

/**
 * Checks that `value` is a well-formed handle and returns it as a frozen handle of this package.
 * A handle made by this package is returned as is; anything else (a deserialised handle, a
 * structured clone, a handle of another factory) is validated field by field and copied, so the
 * result never shares mutable state with the input. Each field is read once, so a getter cannot
 * answer one way to the check and another to the copy.
 * @throws InvalidArgumentError when any field is missing, of the wrong type or out of range, or
 * when reading it throws.
 */
export function assertHandle(value: unknown): Handle {
  if (BasicHandle.isMade(value)) return value
  return readUntrusted('handle', () => copyHandle(value))
}

function copyHandle(value: unknown): Handle {
  if (!isRecord(value)) bad(`expected a handle object, got ${describeValue(value)}`)
  const { containerId: rawId, baseVersion, pending: p } = value
  const containerId = validateId(rawId, 'handle.containerId')
  if (baseVersion !== null) {
    if (
      typeof baseVersion !== 'string' ||
      baseVersion.length === 0 ||
      baseVersion.length > MAX_VERSION_LENGTH
    )
      bad(`baseVersion must be null or a non-empty string, got ${describeValue(baseVersion)}`)
  }
  if (!isRecord(p)) bad(`pending must be an object, got ${describeValue(p)}`)
  for (const key of Object.keys(p)) {
    if (!PENDING_KEYS.has(key) && p[key] !== undefined)
      bad(`pending has an unknown field ${describeValue(key)}`)
  }
  const {
    name: rawName,
    limits: rawLimits,
    runState: rawRunState,
    mainProcess: rawMain,
    files: rawFiles,
    extensions: rawExtensions,
  } = p

  let name: string | undefined
  if (baseVersion === null) name = validateName(rawName)
  else if (rawName !== undefined) bad('only a create-handle (baseVersion null) may carry a name')

  let limits: RequestedLimits | undefined
  if (rawLimits !== undefined) {
    if (!isRecord(rawLimits)) bad(`pending.limits must be an object, got ${describeValue(rawLimits)}`)
    const { memoryMb, cpuMhz } = rawLimits
    limits = Object.freeze({
      memoryMb: validateLimit(memoryMb, 'memoryMb'),
      cpuMhz: validateLimit(cpuMhz, 'cpuMhz'),
    })
  }

  const runState: RunState | undefined =
    rawRunState === undefined ? undefined : validateTargetRunState(rawRunState)

  let mainProcess: EntryPoint | undefined
  if (rawMain !== undefined) {
    if (!isRecord(rawMain)) bad(`pending.mainProcess must be an object, got ${describeValue(rawMain)}`)
    const { workDir, execPath, execArgs } = rawMain
    mainProcess = Object.freeze(validateProcess(workDir, execPath, execArgs))
  }

  let files: readonly FileCopy[] = EMPTY_FILES
  if (rawFiles !== undefined) {
    if (!Array.isArray(rawFiles)) bad(`pending.files must be an array, got ${describeValue(rawFiles)}`)
    const list = rawFiles as readonly unknown[]
    const n = list.length
    // Only a proxy can report a length that is not a count.
    if (!Number.isSafeInteger(n) || n < 0) bad(`pending.files has a length of ${describeValue(n)}`)
    if (n > MAX_PENDING_FILES) bad(`a handle carries at most ${MAX_PENDING_FILES} files, got ${n}`)
    if (n > 0) {
      // Not `map`: it skips the holes of a sparse array and keeps them in its result.
      const out: FileCopy[] = []
      for (let i = 0; i < n; i++) {
        if (!(i in list)) bad(`pending.files has a hole at file ${i}`)
        out.push(toFileCopy(list[i]))
      }
      files = Object.freeze(out)
    }
  }

  let extensions: Readonly<Record<string, unknown>> = EMPTY_EXTENSIONS
  if (rawExtensions !== undefined) {
    const e = rawExtensions
    if (!isRecord(e)) bad(`pending.extensions must be an object, got ${describeValue(e)}`)
    const proto = Object.getPrototypeOf(e)
    if (proto !== Object.prototype && proto !== null)
      bad(`pending.extensions must be a plain object, got ${describeValue(e)}`)
    const keys = Object.keys(e)
    if (keys.length > 0) {
      const out: Record<string, unknown> = {}
      for (const ns of keys) {
        validateNamespace(ns)
        const slot = e[ns]
        if (slot !== undefined) out[ns] = toFrozenJson(slot, `extension slot '${ns}'`)
      }
      extensions = Object.freeze(out)
    }
  }

  return makeHandle(containerId, baseVersion, pending(name, limits, runState, mainProcess, files, extensions))
}

/**
 * Validates one file to copy and returns a frozen copy that owns its bytes.
 * @throws InvalidArgumentError for a malformed file, or one whose fields cannot be read.
 */
export function toFileCopy(value: unknown): FileCopy {
  return readUntrusted('pending file', () => {
    if (!isRecord(value)) bad(`each pending file must be an object, got ${describeValue(value)}`)
    const { targetDir: rawDir, fname: rawName, perms: rawPerms, data: rawData } = value
    const targetDir = checkAbsolutePath(rawDir, 'targetDir')
    const fname = checkFileName(rawName)
    const perms = validatePerms(rawPerms)
    const data = validateData(rawData)
    // A private copy: the caller may reuse its buffer, and a handle must never change.
    return Object.freeze({ targetDir, fname, perms, data: new Uint8Array(data) })
  })
}
