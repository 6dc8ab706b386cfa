import type {
  EntryPoint,
  FileCopy,
  Handle,
  ID,
  PendingCommit,
  RequestedLimits,
  RunState,
} from '@portlayer/contracts'

// Only this module can construct a BasicHandle, and every path that does so validates its parts
// first. That makes the private brand proof that a value is well-formed, so the hot path of a
// backend can skip re-validating handles it gets back. `instanceof` is no such proof: an object
// made with Object.create(BasicHandle.prototype) passes it without running the constructor.
const TOKEN: unique symbol = Symbol('BasicHandle')

/** The handle class of this package; frozen, plain data fields only. */
export class BasicHandle implements Handle {
  readonly #made = true
  readonly containerId: ID
  readonly baseVersion: string | null
  readonly pending: PendingCommit

  constructor(token: typeof TOKEN, containerId: ID, baseVersion: string | null, pending: PendingCommit) {
    if (token !== TOKEN) throw new TypeError('handles are made by a HandleFactory, not constructed directly')
    this.containerId = containerId
    this.baseVersion = baseVersion
    this.pending = pending
    Object.freeze(this)
  }

  /** True only for handles this module constructed (and so validated). */
  static isMade(value: unknown): value is BasicHandle {
    return typeof value === 'object' && value !== null && #made in value
  }
}

export const EMPTY_FILES: readonly FileCopy[] = Object.freeze([])
export const EMPTY_EXTENSIONS: Readonly<Record<string, unknown>> = Object.freeze({})

/** The pending commit of a handle that changes nothing. Shared: it is frozen. */
export const EMPTY_PENDING: PendingCommit = pending(
  undefined,
  undefined,
  undefined,
  undefined,
  EMPTY_FILES,
  EMPTY_EXTENSIONS,
)

// Every pending commit is built here with the same keys in the same order, so V8 gives all of
// them one hidden class; unset fields are present as `undefined` (JSON drops them).
export function pending(
  name: string | undefined,
  limits: RequestedLimits | undefined,
  runState: RunState | undefined,
  mainProcess: EntryPoint | undefined,
  files: readonly FileCopy[],
  extensions: Readonly<Record<string, unknown>>,
): PendingCommit {
  return Object.freeze({ name, limits, runState, mainProcess, files, extensions })
}

export function makeHandle(containerId: ID, baseVersion: string | null, p: PendingCommit): BasicHandle {
  return new BasicHandle(TOKEN, containerId, baseVersion, p)
}
