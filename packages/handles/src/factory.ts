import {
  describeValue,
  type EntryPoint,
  type FileCopy,
  type Handle,
  type HandleFactory,
  type ID,
  InvalidArgumentError,
  MAX_PENDING_FILES,
  type PendingChange,
  type RequestedLimits,
  type RunState,
  validateLimit,
  validateName,
  validateNamespace,
  validateTargetRunState,
} from '@portlayer/contracts'
import { v4 as uuidv4 } from 'uuid'
import { assertHandle, MAX_VERSION_LENGTH, readUntrusted, toFileCopy } from './assert.js'
import { checkAbsolutePath, checkExecArgs, checkId } from './fast-checks.js'
import { EMPTY_EXTENSIONS, EMPTY_FILES, EMPTY_PENDING, makeHandle, pending } from './handle.js'
import { toFrozenJson } from './json-value.js'

let _lastIdChar = 0

/**
 * The standard `HandleFactory` of `@portlayer/contracts`: handles are frozen objects of plain
 * data (JSON-serialisable with {@link serializeHandle}), every derivation returns a new handle
 * and validates what it adds, and IDs are random (v4) UUIDs. Stateless: one instance can serve any number of backends.
 */
export class BasicHandleFactory implements HandleFactory {
  newId(): ID {
    const id = uuidv4()
    // crypto.randomUUID builds its string by concatenation, a rope of ~490 heap bytes; reading a
    // character flattens it to ~65 before a backend keeps it for the container's lifetime. The
    // read is stored so an optimising compiler cannot drop it.
    _lastIdChar = id.charCodeAt(0)
    return id
  }

  create(containerId: ID, name: string): Handle {
    checkId(containerId, 'containerId')
    validateName(name)
    return makeHandle(
      containerId,
      null,
      pending(name, undefined, undefined, undefined, EMPTY_FILES, EMPTY_EXTENSIONS),
    )
  }

  forVersion(containerId: ID, version: string): Handle {
    checkId(containerId, 'containerId')
    if (typeof version !== 'string' || version.length === 0 || version.length > MAX_VERSION_LENGTH) {
      throw new InvalidArgumentError(`version must be a non-empty string, got ${describeValue(version)}`)
    }
    return makeHandle(containerId, version, EMPTY_PENDING)
  }

  withChange(handle: Handle, change: PendingChange): Handle {
    const h = assertHandle(handle)
    const p = h.pending
    let limits: RequestedLimits | undefined = p.limits
    let runState: RunState | undefined = p.runState
    let mainProcess: EntryPoint | undefined = p.mainProcess
    // Each field is read once: a getter must not pass the check with one value and give another.
    readUntrusted('change', () => {
      if (typeof change !== 'object' || change === null)
        throw new InvalidArgumentError(`change must be an object, got ${describeValue(change)}`)
      const { limits: l, runState: r, mainProcess: m } = change
      if (l !== undefined) {
        if (typeof l !== 'object' || l === null)
          throw new InvalidArgumentError(`limits must be an object, got ${describeValue(l)}`)
        const { memoryMb, cpuMhz } = l
        limits = Object.freeze({
          memoryMb: validateLimit(memoryMb, 'memoryMb'),
          cpuMhz: validateLimit(cpuMhz, 'cpuMhz'),
        })
      }
      if (r !== undefined) runState = validateTargetRunState(r)
      if (m !== undefined) {
        if (typeof m !== 'object' || m === null)
          throw new InvalidArgumentError(`mainProcess must be an object, got ${describeValue(m)}`)
        const { workDir, execPath, execArgs } = m
        mainProcess = Object.freeze({
          workDir: checkAbsolutePath(workDir, 'workDir'),
          execPath: checkAbsolutePath(execPath, 'execPath'),
          execArgs: checkExecArgs(execArgs),
        })
      }
    })
    return makeHandle(
      h.containerId,
      h.baseVersion,
      pending(p.name, limits, runState, mainProcess, p.files, p.extensions),
    )
  }

  /**
   * A new handle that also copies `file` in (a private copy of its bytes). It checks the file, not
   * how it fits with the handle's other files: backends do that with the contracts'
   * `validatePendingFiles`, in `copyTo` and again in `commit`, so the rule holds whatever factory
   * built the handle.
   */
  withFile(handle: Handle, file: FileCopy): Handle {
    const h = assertHandle(handle)
    const p = h.pending
    if (p.files.length >= MAX_PENDING_FILES)
      throw new InvalidArgumentError(`a handle carries at most ${MAX_PENDING_FILES} files`)
    const files = Object.freeze([...p.files, toFileCopy(file)])
    return makeHandle(
      h.containerId,
      h.baseVersion,
      pending(p.name, p.limits, p.runState, p.mainProcess, files, p.extensions),
    )
  }

  /**
   * A new handle whose slot `namespace` holds a deep-frozen copy of `value`; `undefined` empties
   * the slot.
   * @throws InvalidArgumentError for a malformed namespace or a value that is not JSON data.
   */
  withExtension(handle: Handle, namespace: string, value: unknown): Handle {
    const h = assertHandle(handle)
    validateNamespace(namespace)
    const p = h.pending
    let extensions: Record<string, unknown>
    if (value === undefined) {
      if (!Object.hasOwn(p.extensions, namespace)) return makeHandle(h.containerId, h.baseVersion, p)
      extensions = { ...p.extensions }
      delete extensions[namespace]
    } else {
      extensions = { ...p.extensions, [namespace]: toFrozenJson(value, `extension slot '${namespace}'`) }
    }
    return makeHandle(
      h.containerId,
      h.baseVersion,
      pending(p.name, p.limits, p.runState, p.mainProcess, p.files, Object.freeze(extensions)),
    )
  }

  getExtension<T = unknown>(handle: Handle, namespace: string): T | undefined {
    const h = assertHandle(handle)
    validateNamespace(namespace)
    const ext = h.pending.extensions
    return Object.hasOwn(ext, namespace) ? (ext[namespace] as T) : undefined
  }

  assertHandle(value: unknown): Handle {
    return assertHandle(value)
  }
}
