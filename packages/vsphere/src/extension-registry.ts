import { type CommitExtension, InvalidArgumentError, validateNamespace } from '@portlayer/contracts'
import { BACKEND } from './errors.js'
import type { AnyExtension } from './extensions.js'

/**
 * The commit extensions registered on one backend, by namespace. The protocol that runs them is
 * in extensions.ts; this holds only who is registered.
 */
export class ExtensionRegistry {
  readonly #byNamespace = new Map<string, AnyExtension>()

  /** The registered extensions, as the protocol reads them. */
  get registered(): ReadonlyMap<string, AnyExtension> {
    return this.#byNamespace
  }

  has(namespace: string): boolean {
    return this.#byNamespace.has(namespace)
  }

  get(namespace: string): AnyExtension | undefined {
    return this.#byNamespace.get(namespace)
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
