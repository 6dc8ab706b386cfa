import {
  type CommitExtension,
  ConcurrentModificationError,
  type ContainerConfig,
  type ContainerState,
  EXIT_NOT_FOUND,
  type ExtensibleBackend,
  type ExtensionPlan,
  type FileCopy,
  type GuestProcessInfo,
  type Handle,
  type HandleFactory,
  type ID,
  InvalidArgumentError,
  InvalidStateError,
  type MoRef,
  NotFoundError,
  type OptionValue,
  type PortLayer,
  PortLayerError,
  Program,
  type PropertyFilterSpec,
  RunState,
  type TraversalSpec,
  type VirtualMachineConfigSpec,
  type VmomiGateway,
  validateAbsolutePath,
  validateData,
  validateFileName,
  validateId,
  validateLimit,
  validateName,
  validateNamespace,
  validatePerms,
  validateProcess,
  validateRunStateFilter,
  validateSignal,
  validateTargetRunState,
} from '@portlayer/contracts'
import { configOf, livenessOf, resolveLimits, stateOf, statusOf } from './derive.js'
import {
  BACKEND,
  closed,
  faultOf,
  invalidState,
  isCode,
  isOutcomeUnknown,
  notFound,
  notInitialised,
  wrap,
} from './errors.js'
import { exitMessage } from './exit-message.js'
import {
  applyOptions,
  type ContainerRecord,
  type ExecRecord,
  encodeExec,
  encodeFiles,
  encodeLimits,
  encodeMain,
  encodeMainState,
  execKey,
  extensionKey,
  KEY_PREFIX,
  Key,
  option,
  type PendingFileRecord,
} from './extra-config.js'
import { Guest, type GuestFile, programNotFound } from './guest.js'
import { type Inventory, resolveInventory } from './inventory.js'
import {
  datastoreUrl,
  fromBase64,
  lastCopyPerPath,
  placeFiles,
  stagingPath,
  toBase64,
} from './pending-files.js'
import { endOfRun, failedStartState, startedState, startingState, stoppingState } from './run-records.js'
import { type ResolvedSettings, resolveSettings, type VsphereSettings, vmNameFor } from './settings.js'
import { collect, retrieve, runTask } from './vim.js'
import { LIST_PROPERTIES, snapshotOf, VM_PROPERTIES, type VmSnapshot, withEntries } from './vm.js'

interface Connection {
  readonly gateway: VmomiGateway
  readonly factory: HandleFactory
  readonly inventory: Inventory
  readonly guest: Guest
}

interface Prepared {
  readonly namespace: string
  readonly plan: ExtensionPlan<unknown>
}

interface Observed {
  readonly snap: VmSnapshot
  /** The guest's process list, when it was asked. */
  readonly procs?: readonly GuestProcessInfo[]
  /** True when the observation recorded something or powered the VM off. */
  readonly changed: boolean
}

// biome-ignore lint/suspicious/noExplicitAny: extensions of any slot types live in one registry
type AnyExtension = CommitExtension<any, any>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The vSphere backend: every container is a VM in the configured folder, its identity and
 * configuration in `guestinfo.portlayer.*` extraConfig, its processes run through guest
 * operations. Reaches vSphere only through the {@link VmomiGateway} given to {@link init}.
 */
export class PortLayerVsphere implements PortLayer, ExtensibleBackend {
  /** The backend name on errors and extension contexts. */
  readonly backend = BACKEND
  private readonly settings: ResolvedSettings
  private connection: Connection | undefined
  private isClosed = false
  private readonly refs = new Map<ID, MoRef>()
  private readonly processOwners = new Map<ID, ID>()
  private readonly extensions = new Map<string, AnyExtension>()
  private view: MoRef | undefined
  private readonly watched = new Set<ID>()
  private pollTimer: ReturnType<typeof setInterval> | undefined
  private polling: Promise<void> | undefined

  /**
   * @throws InvalidArgumentError naming the setting that is malformed.
   */
  constructor(settings: VsphereSettings) {
    this.settings = resolveSettings(settings)
  }

  /**
   * Connects the backend: resolves the settings' inventory paths once (datacenter, folder, pool,
   * datastore, template) and starts the background exit poll when configured. Returns `this`.
   * @throws NotFoundError naming the setting whose inventory path does not resolve;
   * InvalidStateError when already initialised; errors of the gateway when vSphere fails.
   */
  async init(gateway: VmomiGateway, factory: HandleFactory): Promise<this> {
    if (this.isClosed) throw closed()
    if (this.connection)
      throw new InvalidStateError('PortLayerVsphere is already initialised', { backend: BACKEND })
    if (
      typeof gateway?.call !== 'function' ||
      typeof gateway.waitForTask !== 'function' ||
      !gateway.serviceContent
    )
      throw new InvalidArgumentError('init needs a VmomiGateway', { backend: BACKEND })
    if (typeof factory?.create !== 'function' || typeof factory.assertHandle !== 'function')
      throw new InvalidArgumentError('init needs a HandleFactory', { backend: BACKEND })
    const inventory = await resolveInventory(gateway, this.settings)
    this.connection = {
      gateway,
      factory,
      inventory,
      guest: new Guest(gateway, inventory, this.settings.guest),
    }
    if (this.settings.exitPollIntervalMs > 0) {
      this.pollTimer = setInterval(() => void this.pollExits(), this.settings.exitPollIntervalMs)
      this.pollTimer.unref?.()
    }
    return this
  }

  /**
   * Stops the background poll and destroys the container view. The gateway stays open (it belongs
   * to the caller). Later calls fail with `UNAVAILABLE`.
   */
  async close(): Promise<void> {
    if (this.isClosed) return
    this.isClosed = true
    if (this.pollTimer) clearInterval(this.pollTimer)
    await this.polling
    const view = this.view
    this.view = undefined
    if (view && this.connection) {
      await this.connection.gateway.call('DestroyView', { _this: view }).catch(() => {})
    }
  }

  // ----- handles -----

  async createContainer(name: string): Promise<Handle> {
    const { factory } = this.c()
    const checked = validateName(name, BACKEND)
    const id = factory.newId()
    vmNameFor(this.settings, id)
    return arg(() => factory.create(id, checked))
  }

  async getHandle(id: ID): Promise<Handle> {
    const { factory } = this.c()
    validateId(id, 'id', BACKEND)
    let snap = await this.read(id)
    const observed = await this.observe(id, snap)
    if (observed.changed) snap = await this.read(id)
    return factory.forVersion(id, versionOf(snap))
  }

  async copyTo(
    h: Handle,
    targetDir: string,
    fname: string,
    perms: number,
    data: Uint8Array,
  ): Promise<Handle> {
    const { factory } = this.c()
    return arg(() => {
      const handle = factory.assertHandle(h)
      const file: FileCopy = {
        targetDir: validateAbsolutePath(targetDir, 'targetDir', BACKEND),
        fname: validateFileName(fname, BACKEND),
        perms: validatePerms(perms, BACKEND),
        data: new Uint8Array(validateData(data, BACKEND)),
      }
      return factory.withFile(handle, file)
    })
  }

  async setEntryPoint(h: Handle, workDir: string, execPath: string, execArgs: string): Promise<Handle> {
    const { factory } = this.c()
    return arg(() => {
      const handle = factory.assertHandle(h)
      return factory.withChange(handle, {
        mainProcess: validateProcess(workDir, execPath, execArgs, BACKEND),
      })
    })
  }

  async setLimits(h: Handle, memoryMb: number, cpuMhz: number): Promise<Handle> {
    const { factory } = this.c()
    return arg(() => {
      const handle = factory.assertHandle(h)
      const limits = {
        memoryMb: validateLimit(memoryMb, 'memoryMb', BACKEND),
        cpuMhz: validateLimit(cpuMhz, 'cpuMhz', BACKEND),
      }
      return factory.withChange(handle, { limits })
    })
  }

  async setRunState(h: Handle, runState: RunState): Promise<Handle> {
    const { factory } = this.c()
    return arg(() => {
      const handle = factory.assertHandle(h)
      return factory.withChange(handle, { runState: validateTargetRunState(runState, BACKEND) })
    })
  }

  // ----- commit -----

  async commit(h: Handle): Promise<ID> {
    const { factory } = this.c()
    const handle = arg(() => factory.assertHandle(h))
    for (const namespace of Object.keys(handle.pending.extensions)) {
      if (!this.extensions.has(namespace)) {
        throw new InvalidArgumentError(
          `container ${handle.containerId}: the handle carries slot '${namespace}' but no extension with that namespace is registered`,
          { backend: BACKEND, target: handle.containerId },
        )
      }
    }
    return handle.baseVersion === null ? this.commitCreate(handle) : this.commitExisting(handle)
  }

  private async commitCreate(handle: Handle): Promise<ID> {
    const { factory, inventory } = this.c()
    const id = handle.containerId
    const p = handle.pending
    const vmName = vmNameFor(this.settings, id)
    if (typeof p.name !== 'string') {
      throw new InvalidArgumentError(`container ${id}: a create-handle needs a name`, {
        backend: BACKEND,
        target: id,
      })
    }
    // The VM name comes from the container ID, so an earlier commit of this create-handle (also
    // one whose answer was lost) is found here instead of producing a second VM.
    if ((await this.lookup(id, true)) !== undefined) {
      throw new ConcurrentModificationError(
        `container ${id} was already created: a create-handle commits once`,
        {
          backend: BACKEND,
          target: id,
        },
      )
    }
    const main = p.mainProcess ? { processId: factory.newId(), ...p.mainProcess } : null
    const wantStart = p.runState === RunState.Running
    if (wantStart && !main) throw invalidState(`container ${id} cannot run: it has no entry point`, id)

    const prepared = await this.prepareExtensions(handle, null, RunState.Created)
    const token = factory.newId()
    const files = lastCopyPerPath(p.files)
    const options: OptionValue[] = [
      option(Key.id, id),
      option(Key.name, p.name),
      option(Key.created, new Date().toISOString()),
      option(Key.rev, token),
    ]
    if (p.limits) options.push(option(Key.limits, encodeLimits(p.limits)))
    if (main) options.push(option(Key.main, encodeMain(main)))
    if (wantStart) options.push(option(Key.mainState, encodeMainState(startingState(null, token))))
    let staged: string[] = []
    try {
      // Files of a container that starts in this commit go straight into the guest; otherwise
      // they wait in the record (or on the datastore) for the first start.
      if (!wantStart && files.length > 0) {
        const persisted = await this.persistFiles(id, [], files)
        staged = persisted.staged
        options.push(option(Key.files, encodeFiles(persisted.records)))
      }
      const contribution = contributions(prepared, id)
      options.push(...contribution.options)
      const limits = resolveLimits(p.limits, this.settings.defaultLimits)
      const config: VirtualMachineConfigSpec = {
        memoryMB: limits.memoryMb,
        cpuAllocation: { limit: limits.cpuMhz },
        extraConfig: options,
        ...(contribution.deviceChange.length > 0 ? { deviceChange: contribution.deviceChange } : {}),
      }
      const ref = await this.createVm(id, vmName, config, inventory)
      this.refs.set(id, ref)
      finish(prepared, 'commit')
      if (main && wantStart) {
        const record = recordOf(options)
        try {
          await this.startRun(id, ref, main, token, [], files, false)
        } catch (e) {
          await this.undoCreate(id, ref, record)
          throw e
        }
      }
      return id
    } catch (e) {
      if (!prepared.done) finish(prepared, 'rollback')
      if (!this.refs.has(id)) this.deleteStaged(staged)
      throw wrap(e, `committing new container ${id}`, id)
    }
  }

  private async commitExisting(handle: Handle): Promise<ID> {
    const { factory, guest } = this.c()
    const id = handle.containerId
    const p = handle.pending
    const snap = await this.read(id)
    if (versionOf(snap) !== handle.baseVersion) {
      throw new ConcurrentModificationError(
        `container ${id} changed since the handle was made (version ${handle.baseVersion}, now ${versionOf(snap)})`,
        {
          backend: BACKEND,
          target: id,
          detail: { baseVersion: handle.baseVersion, version: versionOf(snap) },
        },
      )
    }
    const record = snap.record as ContainerRecord
    // Whether the main process still runs matters only when the handle asks for a run state.
    const procs =
      p.runState !== undefined && snap.powerState === 'poweredOn' && record.mainState?.phase === 'started'
        ? await this.listQuietly(snap.ref)
        : undefined
    const status = statusOf(record, snap.powerState, procs)
    const running = status === RunState.Running
    const main = p.mainProcess
      ? { processId: record.main?.processId ?? factory.newId(), ...p.mainProcess }
      : record.main
    if (p.runState === RunState.Running && !main)
      throw invalidState(`container ${id} cannot run: it has no entry point`, id)
    const wantStart = p.runState === RunState.Running && !running
    const wantStop = p.runState === RunState.Stopped && running
    const applyLimits = p.limits !== undefined && !running
    const files = lastCopyPerPath(p.files)
    const hasExtensions = Object.keys(p.extensions).length > 0
    if (!applyLimits && !p.mainProcess && files.length === 0 && !wantStart && !wantStop && !hasExtensions)
      return id

    const prepared = await this.prepareExtensions(handle, record, status)
    const token = factory.newId()
    const options: OptionValue[] = [option(Key.rev, token)]
    const spec: VirtualMachineConfigSpec = {}
    if (snap.version !== '') spec.changeVersion = snap.version
    if (applyLimits && p.limits) {
      const limits = resolveLimits(p.limits, this.settings.defaultLimits)
      options.push(option(Key.limits, encodeLimits(p.limits)))
      spec.memoryMB = limits.memoryMb
      spec.cpuAllocation = { limit: limits.cpuMhz }
    }
    if (p.mainProcess && main) options.push(option(Key.main, encodeMain(main)))
    // A run that ended unobserved is recorded in this same reconfiguration.
    const ending =
      procs && snap.powerState === 'poweredOn' && !running
        ? endOfRun(record, procs, new Date(), false)
        : undefined
    if (ending) options.push(...ending.options)
    if (wantStart)
      options.push(option(Key.mainState, encodeMainState(startingState(record.mainState, token))))
    if (wantStop && record.mainState?.phase === 'started') {
      options.push(option(Key.mainState, encodeMainState(stoppingState(record.mainState))))
    }
    let staged: string[] = []
    let superseded: string[] = []
    try {
      if (files.length > 0 && !running && !wantStart) {
        const persisted = await this.persistFiles(id, record.files, files)
        staged = persisted.staged
        superseded = persisted.superseded
        options.push(option(Key.files, encodeFiles(persisted.records)))
      }
      const contribution = contributions(prepared, id)
      options.push(...contribution.options)
      if (contribution.deviceChange.length > 0) spec.deviceChange = contribution.deviceChange
      spec.extraConfig = options
      await this.applyCommit(id, snap, spec, token)
      finish(prepared, 'commit')
    } catch (e) {
      if (!prepared.done) finish(prepared, 'rollback')
      this.deleteStaged(staged)
      throw wrap(e, `committing container ${id}`, id)
    }
    this.deleteStaged(superseded)

    const after = applyOptions(snap.entries, options)
    const recordAfter = withEntries(snap, after).record as ContainerRecord
    const poweredOnButEnded = snap.powerState === 'poweredOn' && !running
    try {
      if (running && files.length > 0) await guest.copyIn(snap.ref, files.map(toGuestFile), id)
      if (wantStop) await this.stopRun(id, snap.ref, recordAfter)
      else if (wantStart && main) {
        await this.startRun(id, snap.ref, main, token, recordAfter.files, files, poweredOnButEnded)
      } else if (poweredOnButEnded && (ending?.ended || record.mainState?.phase === 'exited')) {
        await this.powerOff(id, snap.ref)
      }
    } catch (e) {
      throw wrap(e, `committing container ${id}`, id)
    }
    return id
  }

  /** Creates (or clones) the VM; a create whose answer was lost is looked up before giving up. */
  private async createVm(
    id: ID,
    vmName: string,
    config: VirtualMachineConfigSpec,
    inventory: Inventory,
  ): Promise<MoRef> {
    const { gateway } = this.c()
    try {
      const info = inventory.template
        ? await runTask(gateway, 'CloneVM_Task', {
            _this: inventory.template,
            folder: inventory.folder,
            name: vmName,
            spec: {
              location: { pool: inventory.pool, datastore: inventory.datastore },
              template: false,
              powerOn: false,
              config,
            },
          })
        : await runTask(gateway, 'CreateVM_Task', {
            _this: inventory.folder,
            config: {
              ...config,
              name: vmName,
              guestId: this.settings.guestId,
              numCPUs: 1,
              files: { vmPathName: `[${this.settings.datastore}]` },
            },
            pool: inventory.pool,
          })
      const ref = isMoRef(info.result) ? info.result : await this.lookup(id, true)
      if (!ref)
        throw new NotFoundError(`the VM of container ${id} was created but cannot be found`, {
          backend: BACKEND,
        })
      return ref
    } catch (e) {
      if (isCode(e, 'CONFLICT') || faultOf(e) === 'DuplicateName') {
        throw new ConcurrentModificationError(
          `container ${id} was already created: a create-handle commits once`,
          {
            backend: BACKEND,
            target: id,
            detail: PortLayerError.isInstance(e) ? e.detail : undefined,
            cause: e,
          },
        )
      }
      if (isOutcomeUnknown(e)) {
        const ref = await this.lookup(id, true).catch(() => undefined)
        if (ref) {
          const snap = await this.readRef(ref).catch(() => undefined)
          if (snap?.record?.id === id) return ref
        }
      }
      throw wrap(e, `creating the VM of container ${id}`, id)
    }
  }

  /** A create+start whose start failed: the VM goes again, so the failed commit leaves nothing. */
  private async undoCreate(id: ID, ref: MoRef, record: ContainerRecord | null): Promise<void> {
    const { gateway } = this.c()
    try {
      await this.powerOff(id, ref)
      await runTask(gateway, 'Destroy_Task', { _this: ref })
      this.forget(id)
      if (record) await this.releaseExtensions(id, record)
    } catch (e) {
      this.settings.onBackgroundError(e)
    }
  }

  /** The one guarded reconfiguration of a commit: lands only if the VM is at the version read. */
  private async applyCommit(
    id: ID,
    snap: VmSnapshot,
    spec: VirtualMachineConfigSpec,
    token: string,
  ): Promise<void> {
    const { gateway } = this.c()
    try {
      await runTask(gateway, 'ReconfigVM_Task', { _this: snap.ref, spec })
    } catch (e) {
      if (isCode(e, 'CONFLICT') || faultOf(e) === 'ConcurrentAccess') {
        throw new ConcurrentModificationError(`container ${id} changed since the handle was made`, {
          backend: BACKEND,
          target: id,
          detail: PortLayerError.isInstance(e) ? e.detail : undefined,
          cause: e,
        })
      }
      if (isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
        this.forget(id)
        throw notFound(id)
      }
      if (isOutcomeUnknown(e)) {
        const now = await this.readRef(snap.ref).catch(() => undefined)
        if (now?.record?.rev === token) return
      }
      throw wrap(e, `reconfiguring the VM of container ${id}`, id)
    }
  }

  /** Records facts (process starts and ends) that do not depend on the version; retried once when the answer is lost. */
  private async record(ref: MoRef, options: OptionValue[]): Promise<void> {
    const { gateway } = this.c()
    const spec = { extraConfig: options }
    try {
      await runTask(gateway, 'ReconfigVM_Task', { _this: ref, spec })
    } catch (e) {
      if (!isOutcomeUnknown(e)) throw e
      await runTask(gateway, 'ReconfigVM_Task', { _this: ref, spec })
    }
  }

  private async prepareExtensions(
    handle: Handle,
    record: ContainerRecord | null,
    runState: RunState,
  ): Promise<Prepared[] & { done?: boolean }> {
    const prepared: Prepared[] & { done?: boolean } = []
    const id = handle.containerId
    try {
      for (const [namespace, pending] of Object.entries(handle.pending.extensions)) {
        const extension = this.extensions.get(namespace) as AnyExtension
        const plan = await extension.prepare({
          containerId: id,
          backend: BACKEND,
          creating: record === null,
          runState,
          pending,
          applied: record?.extensions.get(namespace),
        })
        prepared.push({ namespace, plan })
        checkContribution(plan, namespace, id)
      }
    } catch (e) {
      finish(prepared, 'rollback')
      throw e
    }
    return prepared
  }

  // ----- runs -----

  /**
   * Powers on, copies the pending files in and starts the main process, then records it. A start
   * that fails powers the VM off again: its record still says `starting` for a run that never
   * began, which reads as the state before the commit.
   */
  private async startRun(
    id: ID,
    ref: MoRef,
    main: { processId: ID; workDir: string; execPath: string; execArgs: string },
    run: string,
    recordedFiles: readonly PendingFileRecord[],
    handleFiles: readonly FileCopy[],
    powerOffFirst: boolean,
  ): Promise<void> {
    const { gateway, guest } = this.c()
    try {
      if (powerOffFirst) await this.powerOff(id, ref)
      try {
        await runTask(gateway, 'PowerOnVM_Task', { _this: ref })
      } catch (e) {
        // Someone powered it on meanwhile; the run is still ours (we wrote `starting`).
        if (faultOf(e) !== 'InvalidPowerState') throw e
      }
      await guest.waitForTools(ref, this.settings.guestToolsTimeoutMs, id)
      const files = lastCopyPerPath([
        ...(await this.materialise(recordedFiles)),
        ...handleFiles.map(toGuestFile),
      ])
      await guest.copyIn(ref, files, id)
      const now = new Date()
      let state: ReturnType<typeof startedState>
      try {
        const pid = await guest.startProgram(ref, main.execPath, main.execArgs, main.workDir)
        state = startedState(run, pid, now)
      } catch (e) {
        if (!programNotFound(e)) throw e
        state = failedStartState(
          run,
          now,
          EXIT_NOT_FOUND,
          exitMessage(main.execPath, main.execArgs, EXIT_NOT_FOUND),
        )
      }
      const options = [option(Key.mainState, encodeMainState(state))]
      if (recordedFiles.length > 0) options.push(option(Key.files, ''))
      await this.record(ref, options)
      if (state.phase === 'exited') await this.powerOff(id, ref)
      else this.watched.add(id)
      this.deleteStaged(recordedFiles.flatMap((f) => ('path' in f ? [f.path] : [])))
    } catch (e) {
      await this.powerOff(id, ref).catch((err) => this.settings.onBackgroundError(err))
      throw wrap(e, `starting container ${id}`, id)
    }
  }

  /**
   * SIGTERM through the guest, up to the grace period for the main process to exit, then the end
   * of the run is recorded and the VM powered off.
   */
  private async stopRun(id: ID, ref: MoRef, record: ContainerRecord): Promise<void> {
    const { guest } = this.c()
    const state = record.mainState
    let procs: readonly GuestProcessInfo[] = []
    if (state && state.pid > 0 && state.phase === 'stopping') {
      try {
        await guest.startProgram(ref, Program.Kill, `-15 ${state.pid}`)
        procs = await this.waitForExit(ref, state.pid, this.settings.stopGracePeriodMs)
      } catch (e) {
        // The power-off below ends the process anyway; only the exit code is lost.
        if (!Guest.notReady(e) && !isCode(e, 'NOT_FOUND')) this.settings.onBackgroundError(e)
      }
    }
    const ending = endOfRun(record, procs, new Date(), true)
    if (ending.options.length > 0) {
      try {
        await this.record(ref, ending.options)
      } catch (e) {
        // The VM still goes off; its record then reads as stopped by the power-off.
        this.settings.onBackgroundError(e)
      }
    }
    await this.powerOff(id, ref)
    this.watched.delete(id)
  }

  /** Polls the guest until `pid` is no longer running or `graceMs` passed; returns the last list. */
  private async waitForExit(ref: MoRef, pid: number, graceMs: number): Promise<readonly GuestProcessInfo[]> {
    const { guest } = this.c()
    const deadline = Date.now() + graceMs
    const step = Math.min(500, Math.max(20, Math.floor(graceMs / 20)))
    for (;;) {
      const procs = await guest.listProcesses(ref)
      if (livenessOf(procs, pid).kind !== 'running' || Date.now() + step > deadline) return procs
      await sleep(step)
    }
  }

  private async powerOff(id: ID, ref: MoRef): Promise<void> {
    const { gateway } = this.c()
    try {
      await runTask(gateway, 'PowerOffVM_Task', { _this: ref })
    } catch (e) {
      if (faultOf(e) === 'InvalidPowerState') return
      throw wrap(e, `powering off the VM of container ${id}`, id)
    }
  }

  /** The guest's processes, or `undefined` when the guest cannot answer now. */
  private async listQuietly(ref: MoRef): Promise<readonly GuestProcessInfo[] | undefined> {
    try {
      return await this.c().guest.listProcesses(ref)
    } catch (e) {
      if (Guest.notReady(e)) return undefined
      throw e
    }
  }

  /**
   * The lazy exit check every read of a running container makes: asks the guest about its
   * processes, records the ends it reports (guarded by the version read, so an observer never
   * overwrites a newer change), and powers the VM off when the main process has exited.
   */
  private async observe(id: ID, snap: VmSnapshot, attempt = 0): Promise<Observed> {
    const record = snap.record as ContainerRecord
    const state = record.mainState
    if (snap.powerState !== 'poweredOn' || !state) return { snap, changed: false }
    if (state.phase === 'exited') {
      // The end is recorded but the power-off did not happen (or was interrupted): finish it.
      await this.powerOff(id, snap.ref)
      this.watched.delete(id)
      return { snap: { ...snap, powerState: 'poweredOff' }, changed: true }
    }
    if (state.phase !== 'started') return { snap, changed: false }
    const procs = await this.listQuietly(snap.ref)
    if (!procs) return { snap, changed: false }
    const ending = endOfRun(record, procs, new Date(), false)
    if (ending.options.length === 0) {
      this.watched.add(id)
      return { snap, procs, changed: false }
    }
    try {
      const spec: VirtualMachineConfigSpec = { extraConfig: ending.options }
      if (snap.version !== '') spec.changeVersion = snap.version
      await runTask(this.c().gateway, 'ReconfigVM_Task', { _this: snap.ref, spec })
    } catch (e) {
      if (isCode(e, 'CONFLICT') || faultOf(e) === 'ConcurrentAccess') {
        // Someone changed the container meanwhile (maybe recorded this very exit): look again.
        if (attempt < 2) return this.observe(id, await this.read(id), attempt + 1)
        return { snap, procs, changed: false }
      }
      this.settings.onBackgroundError(e)
      return { snap, procs, changed: false }
    }
    if (ending.ended) {
      await this.powerOff(id, snap.ref)
      this.watched.delete(id)
    }
    const after = withEntries(
      { ...snap, powerState: ending.ended ? 'poweredOff' : snap.powerState },
      applyOptions(snap.entries, ending.options),
    )
    return { snap: after, procs, changed: true }
  }

  /** One round of the background exit poll: one property read for all watched containers. */
  private pollExits(): Promise<void> {
    if (this.polling || this.isClosed || !this.connection || this.watched.size === 0)
      return this.polling ?? Promise.resolve()
    const round = async () => {
      const { gateway } = this.c()
      const ids = [...this.watched].filter((id) => this.refs.has(id))
      for (const id of this.watched) if (!this.refs.has(id)) this.watched.delete(id)
      if (ids.length === 0) return
      const contents = await retrieve(
        gateway,
        'VirtualMachine',
        ids.map((id) => this.refs.get(id) as MoRef),
        VM_PROPERTIES,
        true,
      )
      const seen = new Set<ID>()
      for (const content of contents) {
        if (this.isClosed) return
        const snap = snapshotOf(content)
        const id = snap.record?.id
        if (!id || !this.watched.has(id)) continue
        seen.add(id)
        const observed = await this.observe(id, snap)
        if (
          statusOf(observed.snap.record as ContainerRecord, observed.snap.powerState, observed.procs) !==
          RunState.Running
        ) {
          this.watched.delete(id)
        }
      }
      for (const id of ids) if (!seen.has(id)) this.watched.delete(id)
    }
    this.polling = round()
      .catch((e) => this.settings.onBackgroundError(e))
      .finally(() => {
        this.polling = undefined
      })
    return this.polling
  }

  // ----- files -----

  /** Keeps files for the next start: small ones inline, bigger ones uploaded to the datastore first. */
  private async persistFiles(
    id: ID,
    existing: readonly PendingFileRecord[],
    added: readonly FileCopy[],
  ): Promise<{ records: PendingFileRecord[]; staged: string[]; superseded: string[] }> {
    const { factory, gateway } = this.c()
    const placements = placeFiles(existing, added, () => factory.newId())
    const staged: string[] = []
    const addedRecords: PendingFileRecord[] = []
    try {
      for (const [i, file] of added.entries()) {
        const placement = placements[i]
        const base = { dir: file.targetDir, name: file.fname, perms: file.perms, size: file.data.byteLength }
        if (!placement || placement.inline) {
          addedRecords.push({ ...base, data: toBase64(file.data) })
          continue
        }
        const path = stagingPath(id, placement.key)
        await gateway.transfer({
          method: 'PUT',
          url: datastoreUrl(this.settings.datacenter, this.settings.datastore, path),
          body: file.data,
        })
        staged.push(path)
        addedRecords.push({ ...base, datastore: this.settings.datastore, path })
      }
    } catch (e) {
      this.deleteStaged(staged)
      throw wrap(e, `staging files of container ${id} on datastore ${this.settings.datastore}`, id)
    }
    const records = lastCopyPerPath([...existing, ...addedRecords])
    const kept = new Set(records.flatMap((r) => ('path' in r ? [r.path] : [])))
    const superseded = existing.flatMap((r) => ('path' in r && !kept.has(r.path) ? [r.path] : []))
    return { records, staged, superseded }
  }

  /** The bytes of recorded pending files (staged ones fetched from the datastore). */
  private async materialise(files: readonly PendingFileRecord[]): Promise<GuestFile[]> {
    const { gateway } = this.c()
    const out: GuestFile[] = []
    for (const f of files) {
      const data =
        'data' in f
          ? fromBase64(f.data)
          : (
              await gateway.transfer({
                method: 'GET',
                url: datastoreUrl(this.settings.datacenter, f.datastore, f.path),
              })
            ).body
      out.push({ dir: f.dir, name: f.name, perms: f.perms, data })
    }
    return out
  }

  /** Best-effort removal of staged datastore files no record refers to any more. */
  private deleteStaged(paths: readonly string[]): void {
    if (paths.length === 0 || !this.connection) return
    const { gateway } = this.connection
    for (const path of paths) {
      gateway
        .transfer({
          method: 'DELETE',
          url: datastoreUrl(this.settings.datacenter, this.settings.datastore, path),
        })
        .catch((e) => this.settings.onBackgroundError(e))
    }
  }

  // ----- queries -----

  async listContainers(forState?: RunState): Promise<ID[]> {
    const state = validateRunStateFilter(forState, BACKEND)
    const ids: ID[] = []
    for (const snap of await this.listSnapshots()) {
      const record = snap.record as ContainerRecord
      const status = statusOf(record, snap.powerState)
      if (status === RunState.Running) this.watched.add(record.id)
      if (state === undefined || status === state) ids.push(record.id)
    }
    return ids
  }

  async getContainerConfig(id: ID): Promise<ContainerConfig> {
    validateId(id, 'id', BACKEND)
    const snap = await this.read(id)
    return configOf(snap, snap.record as ContainerRecord, this.settings.defaultLimits)
  }

  async getContainerState(id: ID): Promise<ContainerState> {
    validateId(id, 'id', BACKEND)
    const { snap, procs } = await this.observe(id, await this.read(id))
    return stateOf(snap.record as ContainerRecord, snap.powerState, procs)
  }

  async copyFrom(id: ID, sourceDir: string, fname: string): Promise<Uint8Array> {
    validateId(id, 'id', BACKEND)
    const dir = validateAbsolutePath(sourceDir, 'sourceDir', BACKEND)
    const name = validateFileName(fname, BACKEND)
    const snap = await this.read(id)
    if (statusOf(snap.record as ContainerRecord, snap.powerState) !== RunState.Running) {
      throw invalidState(`container ${id} is not running: files are copied out of running containers`, id)
    }
    return this.c().guest.copyOut(snap.ref, dir === '/' ? `/${name}` : `${dir}/${name}`, id)
  }

  // ----- processes -----

  async execProcess(id: ID, workDir: string, execPath: string, execArgs: string): Promise<ID> {
    validateId(id, 'id', BACKEND)
    const proc = validateProcess(workDir, execPath, execArgs, BACKEND)
    const { factory, guest } = this.c()
    const snap = await this.read(id)
    const record = snap.record as ContainerRecord
    if (statusOf(record, snap.powerState) !== RunState.Running) {
      throw invalidState(`container ${id} is not running: processes are started in running containers`, id)
    }
    const processId = factory.newId()
    const startedAt = new Date().toISOString()
    let exec: ExecRecord
    try {
      const pid = await guest.startProgram(snap.ref, proc.execPath, proc.execArgs, proc.workDir)
      exec = {
        processId,
        ...proc,
        run: record.mainState?.run ?? '',
        pid,
        startedAt,
        finishedAt: null,
        exitCode: 0,
        exitMsg: '',
        exited: false,
      }
    } catch (e) {
      if (!programNotFound(e)) {
        if (Guest.notReady(e)) throw wrap(e, `container ${id} is not running`, id, 'INVALID_STATE')
        throw wrap(e, `starting process ${proc.execPath} in container ${id}`, id)
      }
      exec = {
        processId,
        ...proc,
        run: record.mainState?.run ?? '',
        pid: 0,
        startedAt,
        finishedAt: startedAt,
        exitCode: EXIT_NOT_FOUND,
        exitMsg: exitMessage(proc.execPath, proc.execArgs, EXIT_NOT_FOUND),
        exited: true,
      }
    }
    try {
      await this.record(snap.ref, [option(execKey(processId), encodeExec(exec))])
    } catch (e) {
      // An unrecorded process would be invisible to portlayer: end it.
      if (exec.pid > 0) await guest.terminate(snap.ref, exec.pid).catch(() => {})
      throw wrap(e, `recording process ${processId} of container ${id}`, id)
    }
    this.processOwners.set(processId, id)
    this.watched.add(id)
    return processId
  }

  async signal(processOrContainerId: ID, signal: number): Promise<void> {
    validateId(processOrContainerId, 'processOrContainerId', BACKEND)
    const n = validateSignal(signal, BACKEND)
    const { guest } = this.c()
    let containerId: ID = processOrContainerId
    let processId: ID | undefined
    if ((await this.lookup(processOrContainerId, false)) === undefined) {
      const owner = await this.ownerOf(processOrContainerId)
      if (!owner) {
        throw new NotFoundError(`no container or process ${processOrContainerId} on vsphere`, {
          backend: BACKEND,
          target: processOrContainerId,
        })
      }
      containerId = owner
      processId = processOrContainerId
    }
    const { snap, procs } = await this.observe(containerId, await this.read(containerId))
    const record = snap.record as ContainerRecord
    const target = processId ?? processOrContainerId
    let pid: number
    let what: string
    if (processId === undefined || processId === record.main?.processId) {
      what = `main process of container ${containerId}`
      const state = record.mainState
      if (
        snap.powerState !== 'poweredOn' ||
        !state ||
        (state.phase !== 'started' && state.phase !== 'stopping')
      ) {
        throw invalidState(`${what} is not running`, target)
      }
      pid = state.pid
    } else {
      what = `process ${processId} of container ${containerId}`
      const exec = record.execs.find((e) => e.processId === processId)
      if (!exec) {
        this.processOwners.delete(processId)
        throw new NotFoundError(`no container or process ${processId} on vsphere`, {
          backend: BACKEND,
          target,
        })
      }
      if (exec.exited || snap.powerState !== 'poweredOn' || exec.run !== (record.mainState?.run ?? '')) {
        throw invalidState(`${what} is not running`, target)
      }
      pid = exec.pid
    }
    if (procs && livenessOf(procs, pid).kind !== 'running')
      throw invalidState(`${what} is not running`, target)
    try {
      await guest.startProgram(snap.ref, Program.Kill, `-${n} ${pid}`)
    } catch (e) {
      if (Guest.notReady(e)) throw wrap(e, `${what} is not running`, target, 'INVALID_STATE')
      throw wrap(e, `signalling ${what}`, target)
    }
  }

  // ----- destroy -----

  async destroyContainer(id: ID): Promise<void> {
    validateId(id, 'id', BACKEND)
    const { gateway } = this.c()
    const { snap, procs } = await this.observe(id, await this.read(id))
    const record = snap.record as ContainerRecord
    if (statusOf(record, snap.powerState, procs) === RunState.Running) {
      throw invalidState(`container ${id} is running: stop it before destroying it`, id)
    }
    if (snap.powerState !== 'poweredOff') await this.powerOff(id, snap.ref)
    try {
      await runTask(gateway, 'Destroy_Task', { _this: snap.ref })
    } catch (e) {
      if (isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
        this.forget(id)
        throw notFound(id)
      }
      if (faultOf(e) === 'InvalidPowerState') throw wrap(e, `container ${id} is running`, id, 'INVALID_STATE')
      throw wrap(e, `destroying container ${id}`, id)
    }
    this.forget(id)
    for (const exec of record.execs) this.processOwners.delete(exec.processId)
    this.deleteStaged(record.files.flatMap((f) => ('path' in f ? [f.path] : [])))
    await this.releaseExtensions(id, record)
  }

  private async releaseExtensions(id: ID, record: ContainerRecord): Promise<void> {
    for (const [namespace, applied] of record.extensions) {
      const extension = this.extensions.get(namespace)
      if (!extension?.release || applied === undefined) continue
      try {
        await extension.release({ containerId: id, backend: BACKEND, applied })
      } catch (e) {
        this.settings.onBackgroundError(e)
      }
    }
  }

  // ----- extensions -----

  registerExtension<P, A>(extension: CommitExtension<P, A>): () => void {
    if (typeof extension !== 'object' || extension === null || typeof extension.prepare !== 'function') {
      throw new InvalidArgumentError('an extension needs a namespace and a prepare function', {
        backend: BACKEND,
      })
    }
    const namespace = validateNamespace(extension.namespace, BACKEND)
    if (this.extensions.has(namespace)) {
      throw new InvalidArgumentError(`an extension with namespace '${namespace}' is already registered`, {
        backend: BACKEND,
      })
    }
    this.extensions.set(namespace, extension)
    return () => {
      if (this.extensions.get(namespace) === extension) this.extensions.delete(namespace)
    }
  }

  async getExtensionState<T = unknown>(containerId: ID, namespace: string): Promise<T | undefined> {
    validateId(containerId, 'containerId', BACKEND)
    validateNamespace(namespace, BACKEND)
    const snap = await this.read(containerId)
    return (snap.record as ContainerRecord).extensions.get(namespace) as T | undefined
  }

  // ----- lookup -----

  private c(): Connection {
    if (this.isClosed) throw closed()
    if (!this.connection) throw notInitialised()
    return this.connection
  }

  private forget(id: ID): void {
    this.refs.delete(id)
    this.watched.delete(id)
  }

  /** The VM of `id` by its name in the folder (`fresh` skips the cache). */
  private async lookup(id: ID, fresh: boolean): Promise<MoRef | undefined> {
    const cached = fresh ? undefined : this.refs.get(id)
    if (cached) return cached
    const { gateway, inventory } = this.c()
    let ref: MoRef | undefined
    try {
      ref = await gateway.call('FindByInventoryPath', {
        _this: inventory.searchIndex,
        inventoryPath: `${this.settings.vmFolder}/${vmNameFor(this.settings, id)}`,
      })
    } catch (e) {
      throw wrap(e, `looking up container ${id}`, id)
    }
    if (ref?.type !== 'VirtualMachine') return undefined
    this.refs.set(id, ref)
    return ref
  }

  /** One read of a VM; `undefined` when it no longer exists. */
  private async readRef(ref: MoRef): Promise<VmSnapshot | undefined> {
    const { gateway } = this.c()
    try {
      const [content] = await retrieve(gateway, 'VirtualMachine', [ref], VM_PROPERTIES)
      return content ? snapshotOf(content) : undefined
    } catch (e) {
      if (isCode(e, 'NOT_FOUND')) return undefined
      throw e
    }
  }

  /**
   * The current snapshot of container `id`: one property read (plus a lookup by name when the
   * VM is not known yet or its cached reference went stale).
   * @throws NotFoundError when there is no such container.
   */
  private async read(id: ID): Promise<VmSnapshot> {
    const cached = this.refs.get(id)
    if (cached) {
      const snap = await this.readOf(cached, id)
      if (snap?.record?.id === id) return snap
      this.refs.delete(id)
    }
    const ref = await this.lookup(id, true)
    if (ref && ref.value !== cached?.value) {
      const snap = await this.readOf(ref, id)
      if (snap?.record?.id === id) return snap
    }
    this.forget(id)
    throw notFound(id)
  }

  private async readOf(ref: MoRef, id: ID): Promise<VmSnapshot | undefined> {
    try {
      return await this.readRef(ref)
    } catch (e) {
      throw wrap(e, `reading container ${id}`, id)
    }
  }

  /** Every portlayer container in the folder: one container view, paged property reads. */
  private async listSnapshots(): Promise<VmSnapshot[]> {
    const { gateway } = this.c()
    for (let attempt = 0; ; attempt++) {
      const view = await this.containerView()
      const spec: PropertyFilterSpec = {
        propSet: [{ type: 'VirtualMachine', pathSet: [...LIST_PROPERTIES] }],
        objectSet: [
          {
            obj: view,
            skip: true,
            selectSet: [VIEW_TRAVERSAL],
          },
        ],
      }
      try {
        const snaps: VmSnapshot[] = []
        for (const content of await collect(gateway, spec, this.settings.listPageSize)) {
          const snap = snapshotOf(content)
          if (!snap.record) continue
          this.refs.set(snap.record.id, snap.ref)
          snaps.push(snap)
        }
        return snaps
      } catch (e) {
        // Views belong to a session: after a re-login the old one is gone.
        if (attempt === 0 && isCode(e, 'NOT_FOUND')) {
          this.view = undefined
          continue
        }
        throw wrap(e, 'listing containers', undefined)
      }
    }
  }

  private async containerView(): Promise<MoRef> {
    if (this.view) return this.view
    const { gateway, inventory } = this.c()
    try {
      this.view = await gateway.call('CreateContainerView', {
        _this: inventory.viewManager,
        container: inventory.folder,
        type: ['VirtualMachine'],
        recursive: false,
      })
    } catch (e) {
      throw wrap(e, 'creating the container view', undefined)
    }
    return this.view
  }

  /** The container that holds process `processId`, or `undefined`. */
  private async ownerOf(processId: ID): Promise<ID | undefined> {
    const known = this.processOwners.get(processId)
    if (known) return known
    for (const snap of await this.listSnapshots()) {
      const record = snap.record as ContainerRecord
      if (record.main?.processId === processId || snap.entries.has(execKey(processId))) {
        this.processOwners.set(processId, record.id)
        return record.id
      }
    }
    return undefined
  }
}

// ----- helpers -----

const VIEW_TRAVERSAL: TraversalSpec = {
  _type: 'TraversalSpec',
  name: 'containerView',
  type: 'ContainerView',
  path: 'view',
  skip: false,
}

function versionOf(snap: VmSnapshot): string {
  // A server that keeps no changeVersion (plain vcsim) still gets a version that moves with commits.
  return snap.version !== '' ? snap.version : `rev:${snap.record?.rev ?? 'none'}`
}

/** Runs a synchronous argument check, putting backend `vsphere` on its error. */
function arg<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (PortLayerError.isInstance(e) && e.backend === undefined) {
      throw new InvalidArgumentError(e.message, {
        backend: BACKEND,
        target: e.target,
        detail: e.detail,
        cause: e,
      })
    }
    throw e
  }
}

function isMoRef(value: unknown): value is MoRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MoRef).type === 'string' &&
    typeof (value as MoRef).value === 'string'
  )
}

function toGuestFile(file: FileCopy): GuestFile {
  return { dir: file.targetDir, name: file.fname, perms: file.perms, data: file.data }
}

function recordOf(options: readonly OptionValue[]): ContainerRecord | null {
  return withEntries(
    {
      ref: { type: 'VirtualMachine', value: '' },
      version: '',
      powerState: 'poweredOff',
      memoryMb: undefined,
      cpuLimitMhz: undefined,
      entries: new Map(),
      record: null,
    },
    applyOptions(new Map(), options),
  ).record
}

/** Rejects extension contributions that would overwrite portlayer's own keys. */
function checkContribution(plan: ExtensionPlan<unknown>, namespace: string, id: ID): void {
  const extra = plan.reconfigure?.extraConfig ?? {}
  for (const [key, value] of Object.entries(extra)) {
    if (key.startsWith(KEY_PREFIX) || typeof value !== 'string' || key.length === 0) {
      throw new InvalidArgumentError(
        `extension '${namespace}' contributed extraConfig key '${key}' for container ${id}: keys under ${KEY_PREFIX} belong to portlayer and values must be strings`,
        { backend: BACKEND, target: id },
      )
    }
  }
  if (plan.reconfigure?.deviceChange !== undefined && !Array.isArray(plan.reconfigure.deviceChange)) {
    throw new InvalidArgumentError(
      `extension '${namespace}' contributed a deviceChange that is not an array`,
      {
        backend: BACKEND,
        target: id,
      },
    )
  }
}

/** The extraConfig and device changes every prepared extension adds to the commit's one reconfiguration. */
function contributions(
  prepared: readonly Prepared[],
  id: ID,
): { options: OptionValue[]; deviceChange: unknown[] } {
  const options: OptionValue[] = []
  const deviceChange: unknown[] = []
  for (const { namespace, plan } of prepared) {
    const applied = plan.applied === undefined ? '' : JSON.stringify(plan.applied)
    if (applied === undefined) {
      throw new InvalidArgumentError(`extension '${namespace}' applied a value that is not JSON data`, {
        backend: BACKEND,
        target: id,
      })
    }
    options.push(option(extensionKey(namespace), applied))
    for (const [key, value] of Object.entries(plan.reconfigure?.extraConfig ?? {}))
      options.push(option(key, value))
    deviceChange.push(...(plan.reconfigure?.deviceChange ?? []))
  }
  return { options, deviceChange }
}

/** Tells every prepared extension the outcome, once. */
function finish(prepared: Prepared[] & { done?: boolean }, outcome: 'commit' | 'rollback'): void {
  if (prepared.done) return
  prepared.done = true
  for (const { plan } of prepared) {
    try {
      plan[outcome]?.()
    } catch {
      // An extension's bookkeeping failure must not change the commit's outcome.
    }
  }
}
