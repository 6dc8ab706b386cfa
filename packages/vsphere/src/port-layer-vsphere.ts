import { checkArgument, ExtensionRegistry } from '@portlayer/backend-kit'
import {
  type CallOptions,
  type CommitExtension,
  type ContainerConfig,
  type ContainerState,
  type EventFilter,
  type EventStream,
  type ExtensibleBackend,
  type FileCopy,
  type Handle,
  type HandleFactory,
  type ID,
  InvalidStateError,
  type OutputChunk,
  type PortLayer,
  PortLayerError,
  type ProcessState,
  type ReadOutputOptions,
  type RunState,
  validateAbsolutePath,
  validateCallOptions,
  validateData,
  validateFileName,
  validateId,
  validateLimit,
  validateName,
  validateNamespace,
  validatePendingFiles,
  validatePerms,
  validateProcess,
  validateRunStateFilter,
  validateSignal,
  validateTargetRunState,
} from '@portlayer/contracts'
import type { VmomiGateway } from '@portlayer/contracts/vmomi'
import { BasicHandleFactory } from '@portlayer/handles'
import { abortedError, callSignal, inScope } from './call-scope.js'
import { commitCreate } from './commit-create.js'
import { commitExisting } from './commit-existing.js'
import { connect, disconnect } from './connect.js'
import { configFor, copyOut, currentVersion, extensionStateOf, listIds, stateFor } from './container-reads.js'
import type { VsphereContext } from './context.js'
import { destroyContainer } from './destroy.js'
import { BACKEND, closed, notInitialised, wrap } from './errors.js'
import { openEventStream } from './events/index.js'
import { readOutputOf } from './process-output.js'
import { execIn, signalIn } from './processes.js'
import { type ResolvedSettings, resolveSettings, type VsphereSettings, vmNameFor } from './settings.js'
import { waitForExit } from './wait-for-exit.js'

/**
 * The vSphere backend: every container is a VM in the configured folder, its identity and
 * configuration in `guestinfo.portlayer.*` extraConfig, its processes run through guest
 * operations. Reaches vSphere only through the
 * {@link @portlayer/contracts!"@portlayer/contracts/vmomi".VmomiGateway | VmomiGateway} given to
 * {@link init}.
 */
export class PortLayerVsphere implements PortLayer, ExtensibleBackend {
  /** The backend name on errors and extension contexts. */
  readonly backend = BACKEND
  readonly #settings: ResolvedSettings
  readonly #extensions: ExtensionRegistry
  #ctx: VsphereContext | undefined
  #closed = false

  /**
   * @throws InvalidArgumentError naming the setting that is malformed.
   */
  constructor(settings: VsphereSettings) {
    this.#settings = resolveSettings(settings)
    this.#extensions = new ExtensionRegistry({
      backend: BACKEND,
      onBackgroundError: this.#settings.onBackgroundError,
    })
  }

  /**
   * Connects the backend: resolves the settings' inventory paths once (datacenter, folder, pool,
   * datastore, template) and starts the background exit poll when configured. Returns `this`.
   * ({@link createVsphere} does this and the construction in one call.)
   * @param gateway any connection to vSphere (e.g. `createSoapGateway(...)` of `@portlayer/vmomi-soap`);
   *   it stays the caller's: `close()` does not close it
   * @param factory the handle machinery; `BasicHandleFactory` when omitted
   * @throws NotFoundError naming the setting whose inventory path does not resolve;
   * InvalidStateError when already initialised; errors of the gateway when vSphere fails.
   */
  async init(gateway: VmomiGateway, factory: HandleFactory = new BasicHandleFactory()): Promise<this> {
    if (this.#closed) throw closed()
    if (this.#ctx)
      throw new InvalidStateError('PortLayerVsphere is already initialised', { backend: BACKEND })
    this.#ctx = await connect(this.#settings, this.#extensions, gateway, factory)
    return this
  }

  /**
   * Stops the background poll and destroys the container view. The gateway stays open (it belongs
   * to the caller). Later calls fail with `UNAVAILABLE`.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ctx) await disconnect(this.#ctx)
    this.#settings.logger.debug('portlayer vsphere: closed')
  }

  /** `await using pl = await createVsphere(...)` closes it at the end of the block (see {@link close}). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** The context of a connected, open backend. */
  #context(): VsphereContext {
    if (this.#closed) throw closed()
    if (!this.#ctx) throw notInitialised()
    return this.#ctx
  }

  /** Runs one PortLayer call in its scope: its signal, the deadline, errors made portlayer errors. */
  #op<T>(options: CallOptions | undefined, fn: () => Promise<T>, deadline = true): Promise<T> {
    // Waiting has no deadline of its own: it lasts as long as the process, or until the signal.
    const timeoutMs = deadline ? this.#settings.callTimeoutMs : 0
    return inScope(callSignal(options), timeoutMs, async () => {
      try {
        return await fn()
      } catch (e) {
        throw PortLayerError.isInstance(e) ? e : wrap(e, 'vsphere failed', undefined)
      }
    })
  }

  /**
   * Runs a call that only builds a handle: the same checks and errors as {@link #op}, without a
   * scope (it talks to nobody, so there is nothing to abort or time out along the way).
   */
  async #local<T>(options: CallOptions | undefined, fn: () => T): Promise<T> {
    const signal = validateCallOptions(options, BACKEND)?.signal
    if (signal?.aborted) throw abortedError(signal)
    try {
      return fn()
    } catch (e) {
      throw PortLayerError.isInstance(e) ? e : wrap(e, 'vsphere failed', undefined)
    }
  }

  async createContainer(name: string, options?: CallOptions): Promise<Handle> {
    return this.#local(options, () => {
      const { factory } = this.#context()
      const checked = checkArgument(BACKEND, () => validateName(name, BACKEND))
      const id = factory.newId()
      vmNameFor(this.#settings, id)
      return checkArgument(BACKEND, () => factory.create(id, checked))
    })
  }

  async getHandle(id: ID, options?: CallOptions): Promise<Handle> {
    return this.#op(options, async () => {
      const ctx = this.#context()
      checkArgument(BACKEND, () => validateId(id, 'id', BACKEND))
      return ctx.factory.forVersion(id, await currentVersion(ctx, id))
    })
  }

  async copyTo(
    h: Handle,
    targetDir: string,
    fname: string,
    perms: number,
    data: Uint8Array,
    options?: CallOptions,
  ): Promise<Handle> {
    return this.#local(options, () => this.#copyTo(h, targetDir, fname, perms, data))
  }

  #copyTo(h: Handle, targetDir: string, fname: string, perms: number, data: Uint8Array): Handle {
    const { factory } = this.#context()
    return checkArgument(BACKEND, () => {
      const handle = factory.assertHandle(h)
      const file: FileCopy = {
        targetDir: validateAbsolutePath(targetDir, 'targetDir', BACKEND),
        fname: validateFileName(fname, BACKEND),
        perms: validatePerms(perms, BACKEND),
        data: new Uint8Array(validateData(data, BACKEND)),
      }
      validatePendingFiles([...handle.pending.files, file], BACKEND, handle.containerId)
      return factory.withFile(handle, file)
    })
  }

  async setEntryPoint(
    h: Handle,
    workDir: string,
    execPath: string,
    execArgs: string,
    options?: CallOptions,
  ): Promise<Handle> {
    return this.#local(options, () => {
      const { factory } = this.#context()
      return checkArgument(BACKEND, () => {
        const handle = factory.assertHandle(h)
        return factory.withChange(handle, {
          mainProcess: validateProcess(workDir, execPath, execArgs, BACKEND),
        })
      })
    })
  }

  async setLimits(h: Handle, memoryMb: number, cpuMhz: number, options?: CallOptions): Promise<Handle> {
    return this.#local(options, () => {
      const { factory } = this.#context()
      return checkArgument(BACKEND, () => {
        const handle = factory.assertHandle(h)
        const limits = {
          memoryMb: validateLimit(memoryMb, 'memoryMb', BACKEND),
          cpuMhz: validateLimit(cpuMhz, 'cpuMhz', BACKEND),
        }
        return factory.withChange(handle, { limits })
      })
    })
  }

  async setRunState(h: Handle, runState: RunState, options?: CallOptions): Promise<Handle> {
    return this.#local(options, () => {
      const { factory } = this.#context()
      return checkArgument(BACKEND, () => {
        const handle = factory.assertHandle(h)
        return factory.withChange(handle, { runState: validateTargetRunState(runState, BACKEND) })
      })
    })
  }

  async commit(h: Handle, options?: CallOptions): Promise<ID> {
    return this.#op(options, async () => {
      const { factory } = this.#context()
      const handle = checkArgument(BACKEND, () => {
        const checked = factory.assertHandle(h)
        // Everything that needs no server is checked before the first change, so a commit
        // refused for its content never moves the container's version.
        validatePendingFiles(checked.pending.files, BACKEND)
        return checked
      })
      this.#extensions.checkSlots(handle.containerId, handle.pending.extensions)
      const ctx = this.#context()
      return handle.baseVersion === null ? commitCreate(ctx, handle) : commitExisting(ctx, handle)
    })
  }

  async listContainers(forState?: RunState, options?: CallOptions): Promise<ID[]> {
    return this.#op(options, async () => {
      const state = checkArgument(BACKEND, () => validateRunStateFilter(forState, BACKEND))
      return listIds(this.#context(), state)
    })
  }

  async getContainerConfig(id: ID, options?: CallOptions): Promise<ContainerConfig> {
    return this.#op(options, async () => {
      checkArgument(BACKEND, () => validateId(id, 'id', BACKEND))
      return configFor(this.#context(), id)
    })
  }

  async getContainerState(id: ID, options?: CallOptions): Promise<ContainerState> {
    return this.#op(options, async () => {
      checkArgument(BACKEND, () => validateId(id, 'id', BACKEND))
      return stateFor(this.#context(), id)
    })
  }

  async copyFrom(id: ID, sourceDir: string, fname: string, options?: CallOptions): Promise<Uint8Array> {
    return this.#op(options, async () => {
      const { dir, name } = checkArgument(BACKEND, () => {
        validateId(id, 'id', BACKEND)
        return {
          dir: validateAbsolutePath(sourceDir, 'sourceDir', BACKEND),
          name: validateFileName(fname, BACKEND),
        }
      })
      return copyOut(this.#context(), id, dir, name)
    })
  }

  async execProcess(
    id: ID,
    workDir: string,
    execPath: string,
    execArgs: string,
    options?: CallOptions,
  ): Promise<ID> {
    return this.#op(options, async () => {
      const proc = checkArgument(BACKEND, () => {
        validateId(id, 'id', BACKEND)
        return validateProcess(workDir, execPath, execArgs, BACKEND)
      })
      return execIn(this.#context(), id, proc)
    })
  }

  async signal(processOrContainerId: ID, signal: number, options?: CallOptions): Promise<void> {
    return this.#op(options, async () => {
      const n = checkArgument(BACKEND, () => {
        validateId(processOrContainerId, 'processOrContainerId', BACKEND)
        return validateSignal(signal, BACKEND)
      })
      return signalIn(this.#context(), processOrContainerId, n)
    })
  }

  /**
   * The changes from now on, made by any client: one property-collector wait over the folder's
   * VMs, shared by every iterator of this backend (see `events/`). A lost session or a failed
   * wait yields `resync`. Not bound by `callTimeoutMs`; the signal finishes the iterator.
   */
  events(filter?: EventFilter, options?: CallOptions): EventStream {
    // A closed backend's stream just finishes.
    if (this.#closed && this.#ctx) return openEventStream(this.#ctx.events, filter, options)
    return openEventStream(this.#context().events, filter, options)
  }

  /**
   * Resolves with the state of the process (the main process for a container ID) once it has
   * exited. Each look is one property read and, while it runs, one guest process list.
   */
  async waitForExit(processOrContainerId: ID, options?: CallOptions): Promise<ProcessState> {
    return this.#op(
      options,
      async () => {
        checkArgument(BACKEND, () => validateId(processOrContainerId, 'processOrContainerId', BACKEND))
        return waitForExit(this.#context(), processOrContainerId)
      },
      false,
    )
  }

  /**
   * What the process (the main process for a container ID) wrote: read from its files in the
   * guest while its VM runs, from the datastore (collected before every power-off) while it is
   * stopped. Errors, `NOT_FOUND` included, come from the first `next()`.
   */
  readOutput(processOrContainerId: ID, options?: ReadOutputOptions): AsyncIterable<OutputChunk> {
    const self = this
    return {
      [Symbol.asyncIterator](): AsyncIterator<OutputChunk> {
        let inner: AsyncGenerator<OutputChunk> | undefined
        return {
          next: () =>
            self.#op(
              options,
              async () => {
                if (!inner) {
                  const follow = checkArgument(BACKEND, () => {
                    validateId(processOrContainerId, 'processOrContainerId', BACKEND)
                    return followOf(options)
                  })
                  inner = readOutputOf(
                    self.#context(),
                    processOrContainerId,
                    follow,
                    self.#settings.outputLimitBytes,
                  )
                }
                return inner.next()
              },
              false,
            ),
          return: async () => {
            await inner?.return(undefined)
            return { done: true, value: undefined }
          },
        }
      },
    }
  }

  async destroyContainer(id: ID, options?: CallOptions): Promise<void> {
    return this.#op(options, () => this.#destroy(id))
  }

  async #destroy(id: ID): Promise<void> {
    checkArgument(BACKEND, () => validateId(id, 'id', BACKEND))
    return destroyContainer(this.#context(), id)
  }

  registerExtension<P, A>(extension: CommitExtension<P, A>): () => void {
    return this.#extensions.register(extension)
  }

  async getExtensionState<T = unknown>(
    containerId: ID,
    namespace: string,
    options?: CallOptions,
  ): Promise<T | undefined> {
    return this.#op(options, async () => {
      checkArgument(BACKEND, () => {
        validateId(containerId, 'containerId', BACKEND)
        validateNamespace(namespace, BACKEND)
      })
      return (await extensionStateOf(this.#context(), containerId, namespace)) as T | undefined
    })
  }
}

/** The `follow` option of readOutput (a boolean, default false). */
function followOf(options: unknown): boolean {
  if (options === undefined || options === null) return false
  const follow = (options as { follow?: unknown }).follow
  if (follow === undefined) return false
  if (typeof follow !== 'boolean') throw new TypeError('options.follow must be a boolean')
  return follow
}
