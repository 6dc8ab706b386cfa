import type { ID } from './ids.js'
import type { RunState } from './states.js'

/** A file to copy into a container when the commit is applied. */
export interface FileCopy {
  /** Absolute, normalised directory; missing directories are created. */
  readonly targetDir: string
  /** A single path segment. */
  readonly fname: string
  /** POSIX mode, 0–0o7777. */
  readonly perms: number
  readonly data: Uint8Array
}

/** The main process a container runs when started. */
export interface EntryPoint {
  readonly workDir: string
  readonly execPath: string
  readonly execArgs: string
}

/** Limits as requested; `-1` asks for the backend's default. */
export interface RequestedLimits {
  readonly memoryMb: number
  readonly cpuMhz: number
}

/**
 * Everything a handle will change when committed. Fields left `undefined` are not changed.
 * Plain data: a remote port layer can pass it by value (see `serializeHandle` in
 * `@portlayer/handles` for a JSON form).
 */
export interface PendingCommit {
  /** Set by a create-handle; existing containers keep their name. */
  readonly name?: string
  readonly limits?: RequestedLimits
  readonly runState?: RunState
  readonly mainProcess?: EntryPoint
  /** In the order they were added; a later copy to the same path wins. */
  readonly files: readonly FileCopy[]
  /** Pending changes of extension packages, keyed by namespace. Values must be JSON-serialisable. */
  readonly extensions: Readonly<Record<string, unknown>>
}

/**
 * An immutable, opaque-to-users value describing pending changes to one container. Every setter
 * returns a new handle; the old one stays valid.
 */
export interface Handle {
  readonly containerId: ID
  /** The container version the handle was based on; `null` for a container not yet created. */
  readonly baseVersion: string | null
  readonly pending: PendingCommit
}

/** A change to merge into a handle's pending commit (files and extensions have their own calls). */
export interface PendingChange {
  readonly limits?: RequestedLimits
  readonly runState?: RunState
  readonly mainProcess?: EntryPoint
}

/**
 * Creates and derives handles. Backends receive one and never build handles themselves, so a
 * consumer can swap the handle machinery (e.g. for one that signs or tracks handles).
 */
export interface HandleFactory {
  /** A fresh container or process ID. */
  newId(): ID
  /** A handle that creates container `containerId` named `name` when committed. */
  create(containerId: ID, name: string): Handle
  /** A handle for an existing container, based on `version`. */
  forVersion(containerId: ID, version: string): Handle
  /** A new handle with `change` merged into the pending commit. */
  withChange(handle: Handle, change: PendingChange): Handle
  /** A new handle that also copies `file` in. */
  withFile(handle: Handle, file: FileCopy): Handle
  /** A new handle whose extension slot `namespace` holds `value`. */
  withExtension(handle: Handle, namespace: string, value: unknown): Handle
  /** The value in extension slot `namespace`, or `undefined`. */
  getExtension<T = unknown>(handle: Handle, namespace: string): T | undefined
  /**
   * Checks that `value` is a well-formed handle and returns it.
   * @throws InvalidArgumentError when it is not.
   */
  assertHandle(value: unknown): Handle
}
