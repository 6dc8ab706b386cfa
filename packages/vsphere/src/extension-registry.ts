import { type CommitExtension, type ID, InvalidArgumentError, validateNamespace } from '@portlayer/contracts'
import { BACKEND } from './errors.js'
import { type AnyExtension, unregistered } from './extensions.js'

/**
 * The commit extensions registered on one backend, by namespace, and what is done with them
 * outside a commit (slots checked, release on destroy). The commit protocol itself (prepare,
 * commit, rollback) is in extensions.ts.
 */
export class ExtensionRegistry {
  readonly #byNamespace = new Map<string, AnyExtension>()

  constructor(private readonly onBackgroundError: (error: unknown) => void) {}

  /** The registered extensions, as the protocol reads them. */
  get registered(): ReadonlyMap<string, AnyExtension> {
    return this.#byNamespace
  }

  has(namespace: string): boolean {
    return this.#byNamespace.has(namespace)
  }

  /** A slot nobody owns is a malformed handle: `INVALID_ARGUMENT`, before anything is looked up. */
  checkSlots(containerId: ID, slots: Readonly<Record<string, unknown>>): void {
    for (const namespace of Object.keys(slots)) {
      if (!this.#byNamespace.has(namespace)) throw unregistered(containerId, namespace)
    }
  }

  /**
   * Tells each extension that applied something to a destroyed container; never rejects (the
   * container is gone whatever an extension says): their errors go to `onBackgroundError`.
   */
  async release(containerId: ID, applied: Iterable<readonly [string, unknown]>): Promise<void> {
    for (const [namespace, value] of applied) {
      const extension = this.#byNamespace.get(namespace)
      if (!extension?.release || value === undefined) continue
      try {
        await extension.release({ containerId, backend: BACKEND, applied: value })
      } catch (e) {
        this.onBackgroundError(e)
      }
    }
  }

  /**
   * @returns the unregister function (it removes this registration only)
   * @throws InvalidArgumentError for a malformed extension or a namespace already taken.
   */
  register<P, A>(extension: CommitExtension<P, A>): () => void {
    if (typeof extension !== 'object' || extension === null || typeof extension.prepare !== 'function') {
      throw new InvalidArgumentError('an extension needs a namespace and a prepare function', {
        backend: BACKEND,
      })
    }
    const namespace = validateNamespace(extension.namespace, BACKEND)
    if (this.#byNamespace.has(namespace)) {
      throw new InvalidArgumentError(`an extension with namespace '${namespace}' is already registered`, {
        backend: BACKEND,
      })
    }
    this.#byNamespace.set(namespace, extension)
    return () => {
      if (this.#byNamespace.get(namespace) === extension) this.#byNamespace.delete(namespace)
    }
  }
}
