import {
  type CallOptions,
  type CommitExtension,
  type ContainerConfig,
  type ContainerState,
  type ExtensibleBackend,
  type FileCopy,
  type Handle,
  type HandleFactory,
  type ID,
  InvalidArgumentError,
  InvalidStateError,
  type PortLayer,
  PortLayerError,
  RunState,
  type VmomiGateway,
  validateAbsolutePath,
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
import { BasicHandleFactory } from '@portlayer/handles'
import { Backend, versionOf } from './backend.js'
import { callSignal, inScope, scopedGateway, unscoped } from './call-scope.js'
import { commitCreate, commitExisting } from './commit.js'
import { configOf, stateOf, statusOf } from './derive.js'
import { destroyContainer } from './destroy.js'
import { BACKEND, closed, invalidState, wrap } from './errors.js'
import { unregistered } from './extensions.js'
import type { ContainerRecord } from './extra-config.js'
import { Guest, guestPath } from './guest.js'
import { resolveInventory } from './inventory.js'
import { execIn, signalIn } from './processes.js'
import { observe, pollExits } from './runs.js'
import { resolveSettings, type VsphereSettings, vmNameFor } from './settings.js'

/**
 * The vSphere backend: every container is a VM in the configured folder, its identity and
 * configuration in `guestinfo.portlayer.*` extraConfig, its processes run through guest
 * operations. Reaches vSphere only through the {@link VmomiGateway} given to {@link init}.
 */
export class PortLayerVsphere implements PortLayer, ExtensibleBackend {
  /** The backend name on errors and extension contexts. */
  readonly backend = BACKEND
  private readonly b: Backend

  /**
   * @throws InvalidArgumentError naming the setting that is malformed.
   */
  constructor(settings: VsphereSettings) {
    this.b = new Backend(resolveSettings(settings))
  }

  /**
   * Connects the backend: resolves the settings' inventory paths once (datacenter, folder, pool,
   * datastore, template) and starts the background exit poll when configured. Returns `this`.
   * @param gateway any connection to vSphere (e.g. `createSoapGateway(...)` of `@portlayer/vmomi-soap`);
   *   it stays the caller's: `close()` does not close it
   * @param factory the handle machinery; `BasicHandleFactory` when omitted
   * @throws NotFoundError naming the setting whose inventory path does not resolve;
   * InvalidStateError when already initialised; errors of the gateway when vSphere fails.
   */
  async init(gateway: VmomiGateway, factory: HandleFactory = new BasicHandleFactory()): Promise<this> {
    if (this.b.isClosed) throw closed()
    if (this.b.connection)
      throw new InvalidStateError('PortLayerVsphere is already initialised', { backend: BACKEND })
    if (
      typeof gateway?.call !== 'function' ||
      typeof gateway.waitForTask !== 'function' ||
      !gateway.serviceContent
    )
      throw new InvalidArgumentError('init needs a VmomiGateway', { backend: BACKEND })
    if (typeof factory?.create !== 'function' || typeof factory.assertHandle !== 'function')
      throw new InvalidArgumentError('init needs a HandleFactory', { backend: BACKEND })
    const inventory = await resolveInventory(gateway, this.b.settings)
    // Every call the backend makes carries the signal of the PortLayer call it serves.
    const scoped = scopedGateway(gateway)
    this.b.connection = {
      gateway: scoped,
      factory,
      inventory,
      guest: new Guest(scoped, inventory, this.b.settings.guest),
    }
    if (this.b.settings.exitPollIntervalMs > 0) {
      this.b.pollTimer = setInterval(
        () => void unscoped(() => pollExits(this.b)),
        this.b.settings.exitPollIntervalMs,
      )
      this.b.pollTimer.unref?.()
    }
    return this
  }

  /**
   * Stops the background poll and destroys the container view. The gateway stays open (it belongs
   * to the caller). Later calls fail with `UNAVAILABLE`.
   */
  async close(): Promise<void> {
    if (this.b.isClosed) return
    this.b.isClosed = true
    if (this.b.pollTimer) clearInterval(this.b.pollTimer)
    await this.b.polling
    const view = this.b.view
    this.b.view = undefined
    if (view && this.b.connection) {
      await this.b.connection.gateway.call('DestroyView', { _this: view }).catch(() => {})
    }
  }

  /** Runs one PortLayer call in its scope: its signal, the deadline, errors made portlayer errors. */
  #op<T>(options: CallOptions | undefined, fn: () => Promise<T>): Promise<T> {
    return inScope(callSignal(options), this.b.settings.callTimeoutMs, async () => {
      try {
        return await fn()
      } catch (e) {
        throw PortLayerError.isInstance(e) ? e : wrap(e, 'vsphere failed', undefined)
      }
    })
  }

  async createContainer(name: string, options?: CallOptions): Promise<Handle> {
    return this.#op(options, async () => {
      const { factory } = this.b.c()
      const checked = arg(() => validateName(name, BACKEND))
      const id = factory.newId()
      vmNameFor(this.b.settings, id)
      return arg(() => factory.create(id, checked))
    })
  }

  async getHandle(id: ID, options?: CallOptions): Promise<Handle> {
    return this.#op(options, async () => {
      const { factory } = this.b.c()
      arg(() => validateId(id, 'id', BACKEND))
      const snap = await this.b.read(id)
      // Exits it records are facts, not commits: the version read stays current.
      await observe(this.b, id, snap)
      return factory.forVersion(id, versionOf(snap))
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
    return this.#op(options, async () => this.#copyTo(h, targetDir, fname, perms, data))
  }

  #copyTo(h: Handle, targetDir: string, fname: string, perms: number, data: Uint8Array): Handle {
    const { factory } = this.b.c()
    return arg(() => {
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
    return this.#op(options, async () => {
      const { factory } = this.b.c()
      return arg(() => {
        const handle = factory.assertHandle(h)
        return factory.withChange(handle, {
          mainProcess: validateProcess(workDir, execPath, execArgs, BACKEND),
        })
      })
    })
  }

  async setLimits(h: Handle, memoryMb: number, cpuMhz: number, options?: CallOptions): Promise<Handle> {
    return this.#op(options, async () => {
      const { factory } = this.b.c()
      return arg(() => {
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
    return this.#op(options, async () => {
      const { factory } = this.b.c()
      return arg(() => {
        const handle = factory.assertHandle(h)
        return factory.withChange(handle, { runState: validateTargetRunState(runState, BACKEND) })
      })
    })
  }

  async commit(h: Handle, options?: CallOptions): Promise<ID> {
    return this.#op(options, async () => {
      const { factory } = this.b.c()
      const handle = arg(() => {
        const checked = factory.assertHandle(h)
        // Everything that needs no server is checked before the first change, so a commit
        // refused for its content never moves the container's version.
        validatePendingFiles(checked.pending.files, BACKEND)
        return checked
      })
      // A slot nobody owns is a malformed handle: refused before anything is looked up.
      for (const namespace of Object.keys(handle.pending.extensions)) {
        if (!this.b.extensions.has(namespace)) throw unregistered(handle.containerId, namespace)
      }
      return handle.baseVersion === null ? commitCreate(this.b, handle) : commitExisting(this.b, handle)
    })
  }

  async listContainers(forState?: RunState, options?: CallOptions): Promise<ID[]> {
    return this.#op(options, async () => {
      const state = arg(() => validateRunStateFilter(forState, BACKEND))
      const ids: ID[] = []
      for (const snap of await this.b.listSnapshots()) {
        const record = snap.record as ContainerRecord
        const status = statusOf(record, snap.powerState)
        if (status === RunState.Running) this.b.watched.add(record.id)
        if (state === undefined || status === state) ids.push(record.id)
      }
      return ids
    })
  }

  async getContainerConfig(id: ID, options?: CallOptions): Promise<ContainerConfig> {
    return this.#op(options, async () => {
      arg(() => validateId(id, 'id', BACKEND))
      const snap = await this.b.read(id)
      return configOf(snap, snap.record as ContainerRecord, this.b.settings.defaultLimits)
    })
  }

  async getContainerState(id: ID, options?: CallOptions): Promise<ContainerState> {
    return this.#op(options, async () => {
      arg(() => validateId(id, 'id', BACKEND))
      const { snap, procs } = await observe(this.b, id, await this.b.read(id))
      return stateOf(snap.record as ContainerRecord, snap.powerState, procs)
    })
  }

  async copyFrom(id: ID, sourceDir: string, fname: string, options?: CallOptions): Promise<Uint8Array> {
    return this.#op(options, async () => {
      const { dir, name } = arg(() => {
        validateId(id, 'id', BACKEND)
        return {
          dir: validateAbsolutePath(sourceDir, 'sourceDir', BACKEND),
          name: validateFileName(fname, BACKEND),
        }
      })
      const snap = await this.b.read(id)
      if (statusOf(snap.record as ContainerRecord, snap.powerState) !== RunState.Running) {
        throw invalidState(`container ${id} is not running: files are copied out of running containers`, id)
      }
      return this.b.c().guest.copyOut(snap.ref, guestPath(dir, name), id)
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
      const proc = arg(() => {
        validateId(id, 'id', BACKEND)
        return validateProcess(workDir, execPath, execArgs, BACKEND)
      })
      return execIn(this.b, id, proc)
    })
  }

  async signal(processOrContainerId: ID, signal: number, options?: CallOptions): Promise<void> {
    return this.#op(options, async () => {
      const n = arg(() => {
        validateId(processOrContainerId, 'processOrContainerId', BACKEND)
        return validateSignal(signal, BACKEND)
      })
      return signalIn(this.b, processOrContainerId, n)
    })
  }

  async destroyContainer(id: ID, options?: CallOptions): Promise<void> {
    return this.#op(options, () => this.#destroy(id))
  }

  async #destroy(id: ID): Promise<void> {
    arg(() => validateId(id, 'id', BACKEND))
    return destroyContainer(this.b, id)
  }

  registerExtension<P, A>(extension: CommitExtension<P, A>): () => void {
    if (typeof extension !== 'object' || extension === null || typeof extension.prepare !== 'function') {
      throw new InvalidArgumentError('an extension needs a namespace and a prepare function', {
        backend: BACKEND,
      })
    }
    const namespace = validateNamespace(extension.namespace, BACKEND)
    if (this.b.extensions.has(namespace)) {
      throw new InvalidArgumentError(`an extension with namespace '${namespace}' is already registered`, {
        backend: BACKEND,
      })
    }
    this.b.extensions.set(namespace, extension)
    return () => {
      if (this.b.extensions.get(namespace) === extension) this.b.extensions.delete(namespace)
    }
  }

  async getExtensionState<T = unknown>(
    containerId: ID,
    namespace: string,
    options?: CallOptions,
  ): Promise<T | undefined> {
    return this.#op(options, async () => {
      arg(() => {
        validateId(containerId, 'containerId', BACKEND)
        validateNamespace(namespace, BACKEND)
      })
      const snap = await this.b.read(containerId)
      return (snap.record as ContainerRecord).extensions.get(namespace) as T | undefined
    })
  }
}

/**
 * Runs a synchronous argument check, putting backend `vsphere` on its error. Whatever a hostile
 * argument throws (a proxy's trap, a getter, a detached buffer) becomes `INVALID_ARGUMENT`.
 */
function arg<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (PortLayerError.isInstance(e)) {
      if (e.backend !== undefined) throw e
      throw new InvalidArgumentError(e.message, {
        backend: BACKEND,
        target: e.target,
        detail: e.detail,
        cause: e,
      })
    }
    throw new InvalidArgumentError('an argument could not be read', { backend: BACKEND, cause: e })
  }
}
