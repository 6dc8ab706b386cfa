import { argumentError, ExtensionRegistry, type PreparedCommit } from '@portlayer/backend-kit'
import {
  type CallOptions,
  type CommitExtension,
  type ContainerConfig,
  type ContainerState,
  type EventFilter,
  type EventStream,
  type ExtensibleBackend,
  type FileCopy,
  findPendingFileConflict,
  type Handle,
  type HandleFactory,
  type ID,
  type Interaction,
  type OutputChunk,
  type PendingChange,
  type PortLayer,
  type ProcessState,
  type ReadOutputOptions,
  type ResourceLimits,
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
import { BasicHandleFactory } from '@portlayer/handles'
import { Call } from './call.js'
import { type InternalClock, RealClock, type SimClock, VirtualClock } from './clock.js'
import { Engine } from './engine.js'
import {
  BACKEND,
  closed,
  conflict,
  containerNotFound,
  invalidArgument,
  invalidState,
  notFound,
} from './errors.js'
import { EventHub, type SimEventListener } from './events.js'
import { Faults, type SimFaults, type SimOperation } from './faults.js'
import { FsView, type SimFileSystem } from './fs.js'
import { fsOf, joinPath } from './fs-tree.js'
import { type InteractionHost, readOutput, readOutputOptions, waitForExit, wakeAll } from './interaction.js'
import {
  checkOptions,
  resolveBackgroundReporter,
  resolveCallTimeout,
  resolveEventQueueLimit,
  resolveGrace,
  resolveLimits,
  resolveMaxExitedExecs,
  resolveOutputLimit,
  resolveStart,
  type SimulatorOptions,
} from './options.js'
import { type ProgramRegistry, Programs } from './programs.js'
import { type Container, CREATED, RUN_STATE_NAMES, RUNNING, STARTED, STOPPED } from './records.js'
import { restoreWorld, type SimulatorSnapshot, takeSnapshot } from './snapshot.js'

/**
 * The in-memory port layer: every `PortLayer`, `Interaction` and `ExtensibleBackend` operation,
 * plus controls for tests (clock, event listeners, faults, programs, file systems, snapshots).
 */
export interface Simulator extends PortLayer, Interaction, ExtensibleBackend {
  /** `'simulator'`: the backend name on every error. */
  readonly backend: 'simulator'
  readonly clock: SimClock
  readonly faults: SimFaults
  readonly programs: ProgramRegistry
  /** The factory that makes every handle. */
  readonly handleFactory: HandleFactory
  /** Limits given to containers without their own (and for `-1`). */
  readonly defaultLimits: Readonly<ResourceLimits>
  /** Time between SIGTERM and SIGKILL when stopping, in simulator milliseconds. */
  readonly stopGracePeriodMs: number
  /** How many exited exec'd processes each container keeps listed (the ones that finished last). */
  readonly maxExitedExecs: number
  /** Every call's deadline in simulator milliseconds; `0` for none (see `SimulatorOptions`). */
  readonly callTimeoutMs: number
  /** Bytes of each output stream a process keeps (see `SimulatorOptions.outputLimitBytes`). */
  readonly outputLimitBytes: number
  /**
   * The changes from now on, made by any client of this world: `created`, `started`, `exited`
   * (with `processId` and `exitCode`, for main and exec'd processes), `stopped`, `destroyed`, in
   * the order they happened. `ready` is resolved at once: every change after the call is
   * reported.
   *
   * - Ends when the loop breaks, on `return()`, on `close()` (what is buffered can still be read),
   *   and when `options.signal` aborts: the stream then **finishes** (a waiting and every later
   *   `next()` give `done`; what was buffered is dropped), it never rejects.
   * - A reader that falls `eventQueueLimit` events behind gets one `resync` event in place of
   *   what it had not read; so does every stream when `restore` replaces the world. A `resync`
   *   passes every filter.
   *
   * @throws InvalidArgumentError (from the call) for a malformed filter or options;
   * UnavailableError once the simulator is closed.
   */
  events(filter?: EventFilter, options?: CallOptions): EventStream
  /**
   * The state of the process (the main process for a container ID) once it has exited, on the
   * simulator's clock; at once if it has. Not bound by `callTimeoutMs`: waiting is what it is
   * for. An abort rejects with `CANCELLED` (`outcome: 'not-applied'`) and leaves the process
   * running. After a `restore` it looks for the process in the restored world.
   * @throws NotFoundError for an unknown ID (or an exec'd process no longer kept);
   * InvalidStateError for a container whose main process never started; UnavailableError once
   * closed.
   */
  waitForExit(processOrContainerId: ID, options?: CallOptions): Promise<ProcessState>
  /**
   * What the process (the main process for a container ID) wrote, in the order it wrote it
   * (so in order per stream), as copies. Each `for await` reads from the start of what is kept.
   * Without `follow` it ends at what has been written; with it, once the process has exited
   * and everything is read. Readable after the process exits, while its container is stopped
   * and after the container starts again (a main process that starts again writes afresh; a
   * read of its previous run then ends), until destroy. A main process that never started has
   * written nothing. Each stream keeps the last `outputLimitBytes`; the first chunk after bytes
   * were dropped says how many (`dropped`). Not bound by `callTimeoutMs`.
   * @throws InvalidArgumentError (from the call) for a malformed ID or options; from the first
   * `next()`: NotFoundError for an unknown ID, CancelledError when the signal has aborted (also
   * from a `next()` waiting with `follow`), UnavailableError once closed.
   */
  readOutput(processOrContainerId: ID, options?: ReadOutputOptions): AsyncIterable<OutputChunk>
  /**
   * Calls `listener` for every container event, synchronously while the state changes (no
   * `resync`: a listener misses nothing). A listener that throws does not disturb the simulator;
   * its error is rethrown from a microtask (so a test runner reports it). Returns a function that
   * removes the listener.
   * @throws InvalidArgumentError unless `listener` is a function.
   */
  onEvent(listener: SimEventListener): () => void
  /**
   * {@link @portlayer/contracts!"@portlayer/contracts".ExtensibleBackend.getExtensionState | ExtensibleBackend.getExtensionState},
   * which here also takes the `{ signal }` option of every port-layer call.
   */
  getExtensionState<T = unknown>(
    containerId: ID,
    namespace: string,
    options?: CallOptions,
  ): Promise<T | undefined>
  /**
   * Direct access to a committed container's file system, whatever its run state: for test setup
   * and inspection. Copies still waiting for the next start are not in it yet.
   * @throws NotFoundError for an unknown container.
   */
  fs(containerId: ID): SimFileSystem
  /** A deep copy of the whole world (see {@link SimulatorSnapshot}). */
  snapshot(): SimulatorSnapshot
  /** Replaces the whole world with a copy of `snapshot`; the snapshot stays reusable. */
  restore(snapshot: SimulatorSnapshot): void
  /**
   * Another client of the same simulated world, as a second process would connect to one
   * backend: its own object and calls, the same containers, clock, faults, programs and
   * extensions. For tests of several clients racing. Closing any client closes the world.
   */
  connect(): Simulator
  /**
   * For teardown: cancels every timer (sleeps, grace periods, latencies) so a process can exit,
   * ends event streams, and fails every call from then on — also calls already waiting (on latency,
   * a stop sequence, an extension's prepare, an exit or more output) — with `UNAVAILABLE`. The
   * world stays readable through `fs` and `snapshot`; `restore` fails. Closing twice does nothing.
   */
  close(): void
  /** `await using sim = createSimulator()`: the same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void>
}

/** The container a call is about, for error messages: only a plausible ID string, never read twice. */
function idTarget(id: unknown): string | undefined {
  return typeof id === 'string' && id.length <= 64 ? id : undefined
}

/** The slots of a handle that carry values, or `null` (the common case: no extension involved). */
function slotsOf(extensions: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> | null {
  for (const _ in extensions) return extensions
  return null
}

function targetOf(handle: unknown): string | undefined {
  if (typeof handle !== 'object' || handle === null) return undefined
  try {
    return idTarget((handle as { containerId?: unknown }).containerId)
  } catch {
    // A hostile getter or proxy: the handle check that follows reports it.
    return undefined
  }
}

/**
 * A BasicHandleFactory exactly as the handles package made it: not a subclass and no method
 * replaced on the instance (e.g. a mock), either of which might not validate.
 */
function isPlainBasicFactory(f: HandleFactory): boolean {
  return Object.getPrototypeOf(f) === BasicHandleFactory.prototype && Reflect.ownKeys(f).length === 0
}

class SimulatorImpl implements Simulator, InteractionHost {
  readonly backend = 'simulator'
  readonly clock: InternalClock
  private readonly hub: EventHub
  readonly faults: Faults
  readonly programs = new Programs()
  readonly handleFactory: HandleFactory
  readonly defaultLimits: Readonly<ResourceLimits>
  readonly stopGracePeriodMs: number
  readonly maxExitedExecs: number
  readonly callTimeoutMs: number
  readonly outputLimitBytes: number
  /** The world's engine, shared with every client of it (`restore` replaces it for all). */
  private readonly world: { engine: Engine }
  private get engine(): Engine {
    return this.world.engine
  }
  /**
   * True when the factory is this project's BasicHandleFactory, which validates (with the same
   * shared validators) everything a setter gives it; the setters then skip checking twice.
   */
  private readonly factoryValidates: boolean
  private readonly extensions: ExtensionRegistry

  constructor(given: SimulatorOptions, shared?: SimulatorImpl) {
    if (shared) {
      this.clock = shared.clock
      this.hub = shared.hub
      this.faults = shared.faults
      this.programs = shared.programs
      this.handleFactory = shared.handleFactory
      this.factoryValidates = shared.factoryValidates
      this.defaultLimits = shared.defaultLimits
      this.stopGracePeriodMs = shared.stopGracePeriodMs
      this.maxExitedExecs = shared.maxExitedExecs
      this.callTimeoutMs = shared.callTimeoutMs
      this.outputLimitBytes = shared.outputLimitBytes
      this.extensions = shared.extensions
      this.world = shared.world
      return
    }
    const options = checkOptions(given)
    this.clock =
      options.clock === 'virtual' ? new VirtualClock(resolveStart(options.startTime)) : new RealClock()
    this.faults = new Faults(this.clock)
    this.handleFactory = options.handleFactory ?? new BasicHandleFactory()
    this.factoryValidates = isPlainBasicFactory(this.handleFactory)
    this.defaultLimits = resolveLimits(options.defaultLimits)
    this.stopGracePeriodMs = resolveGrace(options.stopGracePeriodMs)
    this.maxExitedExecs = resolveMaxExitedExecs(options.maxExitedExecs)
    this.callTimeoutMs = resolveCallTimeout(options.callTimeoutMs)
    this.outputLimitBytes = resolveOutputLimit(options.outputLimitBytes)
    const clock = this.clock
    this.hub = new EventHub(() => clock.nowMs(), resolveEventQueueLimit(options.eventQueueLimit))
    this.extensions = new ExtensionRegistry({
      backend: BACKEND,
      onBackgroundError: resolveBackgroundReporter(options.onBackgroundError, options.logger),
    })
    this.world = { engine: undefined as unknown as Engine }
    this.world.engine = new Engine(
      this.clock,
      this.hub,
      this.programs.map,
      this.handleFactory,
      this.defaultLimits,
      this.stopGracePeriodMs,
      this.maxExitedExecs,
      this.outputLimitBytes,
    )
    for (const [path, program] of Object.entries(options.programs ?? {}))
      this.programs.register(path, program)
    for (const ext of options.extensions ?? []) this.registerExtension(ext)
  }

  /**
   * Reads a call's `options` (malformed → INVALID_ARGUMENT, an aborted signal → CANCELLED) and
   * makes its {@link Call}: `undefined` when it has neither a signal nor a deadline, so the
   * common call pays one comparison and no allocation.
   */
  private begin(operation: SimOperation, subject: unknown, options: unknown): Call | undefined {
    if (options === undefined && this.callTimeoutMs === 0) return undefined
    // Worked out only here, off the common path: an ID, or the container of a handle.
    const signal = validateCallOptions(options, BACKEND)?.signal
    if (signal === undefined && this.callTimeoutMs === 0) return undefined
    const target = typeof subject === 'string' ? idTarget(subject) : targetOf(subject)
    const timeout = this.callTimeoutMs
    const deadline = timeout === 0 ? Number.POSITIVE_INFINITY : this.clock.nowMs() + timeout
    const call = new Call(this.clock, operation, target, signal, deadline, timeout)
    call.check()
    return call
  }

  /**
   * The cancellation of a call that waits as long as it must (waitForExit, readOutput): its
   * signal only, never `callTimeoutMs`. `undefined` without a signal.
   */
  private waiting(operation: SimOperation, id: unknown, signal: AbortSignal | undefined): Call | undefined {
    if (signal === undefined) return undefined
    return new Call(this.clock, operation, idTarget(id), signal, Number.POSITIVE_INFINITY, 0)
  }

  private handle(h: Handle): Handle {
    try {
      return this.handleFactory.assertHandle(h)
    } catch (e) {
      throw argumentError(BACKEND, e, targetOf(h))
    }
  }

  /**
   * Contracts' rule for the files of one handle (see `validatePendingFiles`). Files from this
   * project's factory are already validated and normalised, so only the conflict rule runs.
   */
  private checkPendingFiles(files: readonly FileCopy[], id: ID): void {
    if (!this.factoryValidates) {
      validatePendingFiles(files, BACKEND, id)
      return
    }
    const conflict = findPendingFileConflict(files)
    if (conflict !== undefined) throw invalidArgument(`pending files conflict: ${conflict}`, id)
  }

  private withChange(handle: Handle, change: PendingChange): Handle {
    try {
      return this.handleFactory.withChange(handle, change)
    } catch (e) {
      throw argumentError(BACKEND, e, handle.containerId)
    }
  }

  /** Every key of the map is a valid ID, so only a miss needs the ID checked (malformed → INVALID_ARGUMENT). */
  private container(id: ID, what = 'id'): Container {
    const c = this.engine.containers.get(id)
    if (c === undefined) {
      validateId(id, what, BACKEND)
      throw containerNotFound(id)
    }
    return c
  }

  // ---- ContainerLifecycle ------------------------------------------------------------------

  async createContainer(name: string, options?: CallOptions): Promise<Handle> {
    const call = this.begin('createContainer', undefined, options)
    if (this.faults.armed) await this.faults.enter('createContainer', undefined, call)
    if (!this.factoryValidates) validateName(name, BACKEND)
    const id = this.handleFactory.newId()
    let h: Handle
    try {
      h = this.handleFactory.create(id, name)
    } catch (e) {
      throw argumentError(BACKEND, e, id)
    }
    this.engine.issued.add(id)
    return h
  }

  async getHandle(id: ID, options?: CallOptions): Promise<Handle> {
    const call = this.begin('getHandle', id, options)
    if (this.faults.armed) await this.faults.enter('getHandle', idTarget(id), call)
    const c = this.container(id)
    try {
      return this.handleFactory.forVersion(id, String(c.version))
    } catch (e) {
      throw argumentError(BACKEND, e, id)
    }
  }

  async copyTo(
    h: Handle,
    targetDir: string,
    fname: string,
    perms: number,
    data: Uint8Array,
    options?: CallOptions,
  ): Promise<Handle> {
    const call = this.begin('copyTo', h, options)
    if (this.faults.armed) await this.faults.enter('copyTo', targetOf(h), call)
    const handle = this.handle(h)
    let dir = targetDir
    if (!this.factoryValidates) {
      dir = validateAbsolutePath(targetDir, 'targetDir', BACKEND)
      validateFileName(fname, BACKEND)
      validatePerms(perms, BACKEND)
      validateData(data, BACKEND)
    }
    let next: Handle
    try {
      next = this.handleFactory.withFile(handle, { targetDir: dir, fname, perms, data })
    } catch (e) {
      throw argumentError(BACKEND, e, handle.containerId)
    }
    // Files that could never land together are refused now, while the caller's handle is as it
    // was (the new one is dropped), not at a commit.
    this.checkPendingFiles(next.pending.files, handle.containerId)
    return next
  }

  async setEntryPoint(
    h: Handle,
    workDir: string,
    execPath: string,
    execArgs: string,
    options?: CallOptions,
  ): Promise<Handle> {
    const call = this.begin('setEntryPoint', h, options)
    if (this.faults.armed) await this.faults.enter('setEntryPoint', targetOf(h), call)
    const handle = this.handle(h)
    const mainProcess = this.factoryValidates
      ? { workDir, execPath, execArgs }
      : validateProcess(workDir, execPath, execArgs, BACKEND)
    return this.withChange(handle, { mainProcess })
  }

  async setLimits(h: Handle, memoryMb: number, cpuMhz: number, options?: CallOptions): Promise<Handle> {
    const call = this.begin('setLimits', h, options)
    if (this.faults.armed) await this.faults.enter('setLimits', targetOf(h), call)
    const handle = this.handle(h)
    const limits = this.factoryValidates
      ? { memoryMb, cpuMhz }
      : {
          memoryMb: validateLimit(memoryMb, 'memoryMb', BACKEND),
          cpuMhz: validateLimit(cpuMhz, 'cpuMhz', BACKEND),
        }
    return this.withChange(handle, { limits })
  }

  async setRunState(h: Handle, runState: RunState, options?: CallOptions): Promise<Handle> {
    const call = this.begin('setRunState', h, options)
    if (this.faults.armed) await this.faults.enter('setRunState', targetOf(h), call)
    const handle = this.handle(h)
    validateTargetRunState(runState, BACKEND)
    return this.withChange(handle, { runState })
  }

  /**
   * Check, then (only if extension slots need it) await each extension's `prepare`, re-check,
   * and apply synchronously: nothing can interleave between the last check and the apply, so
   * of two commits based on the same version exactly one lands, and a failed commit applies
   * nothing. Only the wait for a stop sequence follows the apply.
   *
   * Cancellation follows the same line: an abort or deadline before the apply rejects with
   * nothing applied (prepared extensions rolled back); after it the change has landed, so the
   * commit completes, cutting the stop's grace period short rather than reporting a landed
   * change as failed.
   */
  async commit(h: Handle, options?: CallOptions): Promise<ID> {
    const call = this.begin('commit', h, options)
    if (this.faults.armed) await this.faults.enter('commit', targetOf(h), call)
    const handle = this.handle(h)
    const id = handle.containerId
    // Before anything else, as at copyTo: a handle from elsewhere (another factory, deserialised,
    // hand-made) may carry files that cannot all land, and such a commit must change nothing.
    if (handle.pending.files.length > 0) this.checkPendingFiles(handle.pending.files, id)
    const slots = slotsOf(handle.pending.extensions)
    // A slot no extension owns makes the handle unusable here however stale, so it is refused
    // before the version is compared (the same rule on every backend).
    if (slots !== null) this.extensions.checkSlots(id, slots)
    let c = this.engine.check(handle)
    // A stop sequence in progress finishes before anything else is applied to the container.
    while (c !== null && c.stopping !== null) {
      await this.engine.waitStop(c, call)
      this.faults.checkOpen('commit', id)
      c = this.engine.check(handle)
    }
    let prepared: PreparedCommit | null = null
    if (slots !== null) {
      const base = c
      prepared = await this.extensions.prepare({
        containerId: id,
        slots,
        creating: base === null,
        runState: base === null ? 'created' : (RUN_STATE_NAMES[base.status] as RunState),
        applied: (namespace) => base?.ext?.[namespace],
        interrupt: call === undefined ? undefined : (stop) => call.watch(stop),
      })
      try {
        this.faults.checkOpen('commit', id)
        // An extension's own code may have aborted the signal, even a synchronous prepare.
        if (call !== undefined) call.check()
        // The commit keeps the extensions it prepared: one unregistered meanwhile does not fail it.
        c = this.engine.check(handle)
        if (c !== null && c.stopping !== null)
          throw conflict(`container ${id} began stopping during the commit`, id)
      } catch (e) {
        prepared.rollback()
        throw e
      }
    }
    let stopping: boolean
    try {
      stopping = this.engine.apply(handle, c, prepared === null ? null : prepared.plans)
    } catch (e) {
      // apply checks nothing and so should never throw; if it does, free what was reserved.
      prepared?.rollback()
      throw e
    }
    prepared?.commit()
    if (stopping) {
      await this.engine.waitStop(c as Container, call, true)
      // Closed during the grace period: the stop was applied but never finished.
      if (this.faults.closed) throw closed('commit', id, true)
    }
    return id
  }

  async destroyContainer(id: ID, options?: CallOptions): Promise<void> {
    const call = this.begin('destroyContainer', id, options)
    if (this.faults.armed) await this.faults.enter('destroyContainer', idTarget(id), call)
    const c = this.container(id)
    this.engine.destroy(c)
    // The container is gone from here on: an abort only stops the waiting for releases.
    if (c.ext !== null) await this.release(id, c.ext, call)
  }

  /**
   * Calls `release` of every registered extension that recorded a value with the destroyed
   * container (failures go to `onBackgroundError`). With a `call`, an abort or deadline stops the
   * waiting (the releases go on): the destroy has landed, so the call then resolves.
   */
  private release(id: ID, applied: Readonly<Record<string, unknown>>, call: Call | undefined): Promise<void> {
    const all = this.extensions.release(id, Object.entries(applied))
    if (call === undefined) return all
    return new Promise((resolve) => {
      const unwatch = call.watch(() => resolve())
      all.then(() => {
        unwatch()
        resolve()
      })
    })
  }

  // ---- ContainerQuery ----------------------------------------------------------------------

  async listContainers(forState?: RunState, options?: CallOptions): Promise<ID[]> {
    const call = this.begin('listContainers', undefined, options)
    if (this.faults.armed) await this.faults.enter('listContainers', undefined, call)
    const state = validateRunStateFilter(forState, BACKEND)
    const e = this.engine
    if (state === undefined) return Array.from(e.containers.keys())
    if (state === 'running') return Array.from(e.running, (c) => c.id)
    const wanted = state === 'created' ? CREATED : STOPPED
    const ids: ID[] = []
    for (const c of e.containers.values()) if (c.status === wanted) ids.push(c.id)
    return ids
  }

  async getContainerConfig(id: ID, options?: CallOptions): Promise<ContainerConfig> {
    const call = this.begin('getContainerConfig', id, options)
    if (this.faults.armed) await this.faults.enter('getContainerConfig', idTarget(id), call)
    return this.engine.config(this.container(id))
  }

  async getContainerState(id: ID, options?: CallOptions): Promise<ContainerState> {
    const call = this.begin('getContainerState', id, options)
    if (this.faults.armed) await this.faults.enter('getContainerState', idTarget(id), call)
    return this.engine.state(this.container(id))
  }

  async copyFrom(id: ID, sourceDir: string, fname: string, options?: CallOptions): Promise<Uint8Array> {
    const call = this.begin('copyFrom', id, options)
    if (this.faults.armed) await this.faults.enter('copyFrom', idTarget(id), call)
    const dir = validateAbsolutePath(sourceDir, 'sourceDir', BACKEND)
    validateFileName(fname, BACKEND)
    const c = this.container(id)
    if (c.status !== RUNNING) {
      throw invalidState(`container ${id} is ${RUN_STATE_NAMES[c.status]}; copyFrom needs it running`, id)
    }
    const path = joinPath(dir, fname)
    const node = fsOf(c).get(path)
    if (node === undefined) throw notFound(`no file ${path} in container ${id}`, id, { path })
    if (node.dir) throw invalidArgument(`${path} in container ${id} is a directory, not a file`, id)
    return new Uint8Array(node.data as Uint8Array)
  }

  // ---- ProcessLifecycle --------------------------------------------------------------------

  async execProcess(
    id: ID,
    workDir: string,
    execPath: string,
    execArgs: string,
    options?: CallOptions,
  ): Promise<ID> {
    const call = this.begin('execProcess', id, options)
    if (this.faults.armed) await this.faults.enter('execProcess', idTarget(id), call)
    const config = Object.freeze(validateProcess(workDir, execPath, execArgs, BACKEND))
    const c = this.container(id)
    if (c.status !== RUNNING) {
      throw invalidState(`container ${id} is ${RUN_STATE_NAMES[c.status]}; exec needs it running`, id)
    }
    if (c.stopping !== null) throw invalidState(`container ${id} is stopping; exec needs it running`, id)
    return this.engine.exec(c, config).id
  }

  async signal(processOrContainerId: ID, signal: number, options?: CallOptions): Promise<void> {
    const id = processOrContainerId
    const call = this.begin('signal', id, options)
    if (this.faults.armed) await this.faults.enter('signal', idTarget(id), call)
    validateSignal(signal, BACKEND)
    const e = this.engine
    const c = e.containers.get(id)
    if (c !== undefined) {
      const m = c.main
      if (m === null || m.status !== STARTED) {
        throw invalidState(`the main process of container ${id} is not running`, id)
      }
      e.deliver(m, signal)
      return
    }
    const p = e.procs.get(id)
    if (p === undefined) {
      validateId(id, 'processOrContainerId', BACKEND)
      throw notFound(`no container or process ${id}`, id)
    }
    if (p.status !== STARTED) {
      throw invalidState(`process ${id} in container ${p.container.id} is not running`, id)
    }
    e.deliver(p, signal)
  }

  // ---- Interaction -------------------------------------------------------------------------

  events(filter?: EventFilter, options?: CallOptions): EventStream {
    const signal = validateCallOptions(options, BACKEND)?.signal
    if (this.faults.closed) throw closed('events', undefined)
    return this.hub.stream(filter, signal)
  }

  async waitForExit(processOrContainerId: ID, options?: CallOptions): Promise<ProcessState> {
    const id = processOrContainerId
    const call = this.waiting('waitForExit', id, validateCallOptions(options, BACKEND)?.signal)
    call?.check()
    if (this.faults.armed) await this.faults.enter('waitForExit', idTarget(id), call)
    return waitForExit(this, id, call)
  }

  readOutput(processOrContainerId: ID, options?: ReadOutputOptions): AsyncIterable<OutputChunk> {
    const id = processOrContainerId
    const { follow, signal } = readOutputOptions(options)
    validateId(id, 'processOrContainerId', BACKEND)
    return readOutput(this, id, follow, () => this.waiting('readOutput', id, signal))
  }

  onEvent(listener: SimEventListener): () => void {
    return this.hub.on(listener)
  }

  /** The current world, for waits and readers (InteractionHost). */
  currentEngine(): Engine {
    return this.world.engine
  }

  // ---- ExtensibleBackend -------------------------------------------------------------------

  registerExtension<P, A>(extension: CommitExtension<P, A>): () => void {
    return this.extensions.register(extension)
  }

  async getExtensionState<T = unknown>(
    containerId: ID,
    namespace: string,
    options?: CallOptions,
  ): Promise<T | undefined> {
    const call = this.begin('getExtensionState', containerId, options)
    if (this.faults.armed) await this.faults.enter('getExtensionState', idTarget(containerId), call)
    validateNamespace(namespace, BACKEND)
    const c = this.container(containerId)
    return c.ext === null ? undefined : (c.ext[namespace] as T | undefined)
  }

  // ---- controls ----------------------------------------------------------------------------

  fs(containerId: ID): SimFileSystem {
    return new FsView(this.container(containerId))
  }

  snapshot(): SimulatorSnapshot {
    return takeSnapshot(this.engine)
  }

  restore(snapshot: SimulatorSnapshot): void {
    // A restored world would arm timers again, which a closed simulator must not have.
    if (this.faults.closed) throw closed('restore', undefined)
    const old = this.engine
    this.world.engine = restoreWorld(old, snapshot)
    wakeAll(old)
    this.hub.resync()
  }

  connect(): Simulator {
    if (this.faults.closed) throw closed('connect', undefined)
    return new SimulatorImpl({}, this)
  }

  close(): void {
    if (this.faults.closed) return
    this.faults.close()
    this.engine.releaseStopWaiters()
    this.clock.close()
    this.hub.close()
    wakeAll(this.engine)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }
}

/**
 * Makes an in-memory port layer. See {@link SimulatorOptions} for the clock, default limits,
 * grace period, handle factory, programs and extensions.
 * @throws InvalidArgumentError for malformed options.
 */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new SimulatorImpl(options)
}
