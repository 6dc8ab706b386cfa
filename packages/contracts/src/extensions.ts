import type { ID } from './ids.js'
import type { RunState } from './states.js'

/**
 * What a commit extension is told when a commit carries its slot. `P` is the pending value a
 * handle carries, `A` the applied value recorded with the container.
 */
export interface ExtensionContext<P = unknown, A = P> {
  readonly containerId: ID
  /** The backend applying the commit, e.g. `simulator` or `vsphere`. */
  readonly backend: string
  /** True when this commit creates the container. */
  readonly creating: boolean
  /** The container's run state before the commit (`created` for a new one). */
  readonly runState: RunState
  /** The value the handle carries in this extension's slot. */
  readonly pending: P
  /** The value this extension last applied to the container, if any. */
  readonly applied: A | undefined
}

/** Changes an extension asks a VM-based backend to fold into the same reconfiguration. */
export interface ReconfigureContribution {
  /** Extra configuration keys and values; an empty value deletes the key. */
  readonly extraConfig?: Readonly<Record<string, string>>
  /** `VirtualDeviceConfigSpec` values, in vim25 shape, passed through unchanged. */
  readonly deviceChange?: readonly unknown[]
}

/**
 * The outcome of {@link CommitExtension.prepare}: what to record, and how to finish or undo.
 * Exactly one of `commit` and `rollback` is called, once.
 */
export interface ExtensionPlan<T = unknown> {
  /** Recorded with the container as the extension's applied value (JSON-serialisable). */
  readonly applied: T
  /** For backends that apply commits as one VM reconfiguration; others ignore it. */
  readonly reconfigure?: ReconfigureContribution
  /** The commit landed. */
  commit?(): void
  /** The commit did not land; release anything `prepare` reserved. */
  rollback?(): void
}

/**
 * A package's hook into commit. Registered with a backend; for every commit whose handle has a
 * value in `namespace`, the backend calls `prepare` before applying anything. If any `prepare`
 * throws, nothing of the commit is applied and every prepared extension is rolled back.
 */
export interface CommitExtension<P = unknown, A = P> {
  /** The slot name, e.g. `net`. Lower case letters, digits, `-` and `.`. */
  readonly namespace: string
  /** Validates and reserves; throw a `PortLayerError` to reject the whole commit. */
  prepare(context: ExtensionContext<P, A>): ExtensionPlan<A> | Promise<ExtensionPlan<A>>
  /** The container was destroyed: release what it held. */
  release?(context: {
    readonly containerId: ID
    readonly backend: string
    readonly applied: A
  }): void | Promise<void>
}

/** A backend that accepts commit extensions. */
export interface ExtensibleBackend {
  /**
   * Adds an extension; returns a function that removes it.
   * @throws InvalidArgumentError for a malformed or already registered namespace.
   */
  registerExtension<P, A>(extension: CommitExtension<P, A>): () => void
  /**
   * The value extension `namespace` last applied to the container, or `undefined`.
   * @throws NotFoundError when the container does not exist.
   */
  getExtensionState<T = unknown>(containerId: ID, namespace: string): Promise<T | undefined>
}
