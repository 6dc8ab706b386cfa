import {
  ConcurrentModificationError,
  type Handle,
  type ID,
  InvalidArgumentError,
  type MoRef,
  NotFoundError,
  type OptionValue,
  PortLayerError,
  RunState,
  type VirtualMachineConfigSpec,
} from '@portlayer/contracts'
import { type Backend, versionOf } from './backend.js'
import { resolveLimits, statusOf } from './derive.js'
import {
  BACKEND,
  faultOf,
  invalidState,
  isCode,
  isConflict,
  isOutcomeUnknown,
  notFound,
  wrap,
} from './errors.js'
import { PreparedExtensions } from './extensions.js'
import {
  applyOptions,
  type ContainerRecord,
  encodeFiles,
  encodeLimits,
  encodeMain,
  encodeMainState,
  Key,
  option,
} from './extra-config.js'
import { toGuestFile } from './guest.js'
import type { Inventory } from './inventory.js'
import { lastCopyPerPath } from './pending-files.js'
import { restore, undoOf } from './restore.js'
import { endOfRun, startingState, stoppingState } from './run-records.js'
import { startRun, stopRun } from './runs.js'
import { vmNameFor } from './settings.js'
import { deleteStaged, persistFiles } from './staged-files.js'
import { runTask } from './vim.js'
import { type VmSnapshot, withEntries } from './vm.js'

export async function commitCreate(b: Backend, handle: Handle): Promise<ID> {
  const { factory, inventory } = b.c()
  const id = handle.containerId
  const p = handle.pending
  const vmName = vmNameFor(b.settings, id)
  if (typeof p.name !== 'string') {
    throw new InvalidArgumentError(`container ${id}: a create-handle needs a name`, {
      backend: BACKEND,
      target: id,
    })
  }
  // The VM name comes from the container ID, so an earlier commit of this create-handle (also
  // one whose answer was lost) is found here instead of producing a second VM.
  if ((await b.lookup(id, true)) !== undefined) throw alreadyCreated(id)
  const main = p.mainProcess ? { processId: factory.newId(), ...p.mainProcess } : null
  const wantStart = p.runState === RunState.Running
  if (wantStart && !main) throw invalidState(`container ${id} cannot run: it has no entry point`, id)

  const prepared = await PreparedExtensions.prepare(b.extensions, handle, null, RunState.Created)
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
  let ref: MoRef
  try {
    // Files of a container that starts in this commit go straight into the guest; otherwise
    // they wait in the record (or on the datastore) for the first start.
    if (!wantStart && files.length > 0) {
      const persisted = await persistFiles(b, id, [], files)
      staged = persisted.staged
      options.push(option(Key.files, encodeFiles(persisted.records)))
    }
    const contribution = prepared.contribution()
    options.push(...contribution.options)
    const limits = resolveLimits(p.limits, b.settings.defaultLimits)
    const config: VirtualMachineConfigSpec = {
      memoryMB: limits.memoryMb,
      cpuAllocation: { limit: limits.cpuMhz },
      extraConfig: options,
      ...(contribution.deviceChange.length > 0 ? { deviceChange: contribution.deviceChange } : {}),
    }
    ref = await createVm(b, id, vmName, config, inventory)
    b.refs.set(id, ref)
  } catch (e) {
    prepared.rollback()
    deleteStaged(b, staged)
    throw wrap(e, `committing new container ${id}`, id)
  }
  if (main && wantStart) {
    try {
      await startRun(b, id, ref, main, token, [], files, false)
    } catch (e) {
      // The new VM goes again, so the failed commit leaves nothing; if it stays, so does its part.
      if (await undoCreate(b, id, ref)) prepared.rollback()
      else prepared.commit()
      throw wrap(e, `committing new container ${id}`, id)
    }
  }
  prepared.commit()
  return id
}

export async function commitExisting(b: Backend, handle: Handle): Promise<ID> {
  const { factory, guest } = b.c()
  const id = handle.containerId
  const p = handle.pending
  const snap = await b.read(id)
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
  // Whether the main process still runs matters when the handle starts it or sets limits: a
  // container whose main process exited unobserved is stopped, so it starts afresh and takes the
  // limits. (A stop needs no look first: the stop sequence asks the guest and records the real
  // exit code.)
  const procs =
    (p.runState === RunState.Running || p.limits !== undefined) &&
    snap.powerState === 'poweredOn' &&
    (record.mainState?.phase === 'started' || record.mainState?.phase === 'stopping')
      ? await b.listQuietly(snap.ref, id)
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

  const prepared = await PreparedExtensions.prepare(b.extensions, handle, record, status)
  const token = factory.newId()
  const options: OptionValue[] = [option(Key.rev, token)]
  const spec: VirtualMachineConfigSpec = {}
  if (snap.version !== '') spec.changeVersion = snap.version
  if (applyLimits && p.limits) {
    const limits = resolveLimits(p.limits, b.settings.defaultLimits)
    options.push(option(Key.limits, encodeLimits(p.limits)))
    spec.memoryMB = limits.memoryMb
    spec.cpuAllocation = { limit: limits.cpuMhz }
  }
  if (p.mainProcess && main) options.push(option(Key.main, encodeMain(main)))
  // A run that ended unobserved is recorded in this same reconfiguration, and a start builds on
  // that end (so a start that fails reads as the run that ended, with its exit code).
  const ending =
    procs && snap.powerState === 'poweredOn' && !running
      ? endOfRun(record, procs, new Date(), false, b.settings.maxExitedExecs)
      : undefined
  if (ending) options.push(...ending.options)
  const previousRun = ending?.mainState ?? record.mainState
  if (wantStart) options.push(option(Key.mainState, encodeMainState(startingState(previousRun, token))))
  if (wantStop && record.mainState?.phase === 'started') {
    options.push(option(Key.mainState, encodeMainState(stoppingState(record.mainState))))
  }
  let staged: string[] = []
  let superseded: string[] = []
  try {
    if (files.length > 0 && !running && !wantStart) {
      const persisted = await persistFiles(b, id, record.files, files)
      staged = persisted.staged
      superseded = persisted.superseded
      options.push(option(Key.files, encodeFiles(persisted.records)))
    }
    const contribution = prepared.contribution()
    options.push(...contribution.options)
    if (contribution.deviceChange.length > 0) spec.deviceChange = contribution.deviceChange
    spec.extraConfig = options
    await applyCommit(b, id, snap, spec, token)
  } catch (e) {
    prepared.rollback()
    deleteStaged(b, staged)
    throw wrap(e, `committing container ${id}`, id)
  }
  deleteStaged(b, superseded)
  b.forgetDeleted(options)

  const recordAfter = withEntries(snap, applyOptions(snap.entries, options)).record as ContainerRecord
  const poweredOnButEnded = snap.powerState === 'poweredOn' && !running
  try {
    if (running && files.length > 0) await guest.copyIn(snap.ref, files.map(toGuestFile), id)
    if (wantStop) await stopRun(b, id, snap.ref, recordAfter)
    else if (wantStart && main) {
      await startRun(b, id, snap.ref, main, token, recordAfter.files, files, poweredOnButEnded)
    }
  } catch (e) {
    // What is put back is the configuration this commit wrote (limits, entry point, a start's
    // run record, extensions' values), never facts it recorded (a run's end) or a stop's progress;
    // files already copied into the guest stay there.
    const revocable = prepared.revocable()
    const keys = [
      ...(applyLimits ? [Key.limits] : []),
      ...(p.mainProcess ? [Key.main] : []),
      ...(wantStart ? [Key.mainState] : []),
      ...revocable.keys,
    ]
    const overrides = new Map(previousRun ? [[Key.mainState, encodeMainState(previousRun)]] : [])
    const outcome = await restore(b, id, snap.ref, token, undoOf(snap, keys, applyLimits, overrides))
    if (outcome === 'gone') prepared.rollback()
    else prepared.commit(outcome === 'restored' ? revocable.namespaces : undefined)
    throw wrap(e, `committing container ${id}`, id)
  }
  prepared.commit()
  if (!wantStart && poweredOnButEnded && (ending?.ended || record.mainState?.phase === 'exited')) {
    // The run was over before this commit; its power-off is housekeeping the next read redoes.
    await b.powerOff(id, snap.ref).catch((e) => b.settings.onBackgroundError(e))
  }
  return id
}

/** Creates (or clones) the VM; a create whose answer was lost is looked up before giving up. */
async function createVm(
  b: Backend,
  id: ID,
  vmName: string,
  config: VirtualMachineConfigSpec,
  inventory: Inventory,
): Promise<MoRef> {
  const { gateway } = b.c()
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
            guestId: b.settings.guestId,
            numCPUs: 1,
            files: { vmPathName: `[${b.settings.datastore}]` },
          },
          pool: inventory.pool,
        })
    const ref = isMoRef(info.result) ? info.result : await b.lookup(id, true)
    if (!ref)
      throw new NotFoundError(`the VM of container ${id} was created but cannot be found`, {
        backend: BACKEND,
      })
    return ref
  } catch (e) {
    if (isCode(e, 'CONFLICT') || faultOf(e) === 'DuplicateName') throw alreadyCreated(id, e)
    if (isOutcomeUnknown(e)) {
      const ref = await b.lookup(id, true).catch(() => undefined)
      if (ref) {
        const snap = await b.readRef(ref).catch(() => undefined)
        if (snap?.record?.id === id) return ref
      }
    }
    throw wrap(e, `creating the VM of container ${id}`, id)
  }
}

/**
 * A create+start whose start failed: the VM goes again, so the failed commit leaves nothing.
 * @returns false when the VM could not be destroyed (it stays, reading as a created container).
 */
async function undoCreate(b: Backend, id: ID, ref: MoRef): Promise<boolean> {
  const { gateway } = b.c()
  try {
    await b.powerOff(id, ref)
    await runTask(gateway, 'Destroy_Task', { _this: ref })
    b.forget(id)
    return true
  } catch (e) {
    b.settings.onBackgroundError(e)
    return false
  }
}

/** The one guarded reconfiguration of a commit: lands only if the VM is at the version read. */
async function applyCommit(
  b: Backend,
  id: ID,
  snap: VmSnapshot,
  spec: VirtualMachineConfigSpec,
  token: string,
): Promise<void> {
  const { gateway } = b.c()
  try {
    await runTask(gateway, 'ReconfigVM_Task', { _this: snap.ref, spec })
  } catch (e) {
    if (isConflict(e)) {
      throw new ConcurrentModificationError(`container ${id} changed since the handle was made`, {
        backend: BACKEND,
        target: id,
        detail: PortLayerError.isInstance(e) ? e.detail : undefined,
        cause: e,
      })
    }
    if (isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
      b.forget(id)
      throw notFound(id)
    }
    if (isOutcomeUnknown(e)) {
      const now = await b.readRef(snap.ref).catch(() => undefined)
      if (now?.record?.rev === token) return
    }
    throw wrap(e, `reconfiguring the VM of container ${id}`, id)
  }
}

/** A second commit of a create-handle (its VM exists already). */
function alreadyCreated(id: ID, cause?: unknown): ConcurrentModificationError {
  return new ConcurrentModificationError(
    `container ${id} was already created: a create-handle commits once`,
    {
      backend: BACKEND,
      target: id,
      detail: PortLayerError.isInstance(cause) ? cause.detail : undefined,
      cause,
    },
  )
}

function isMoRef(value: unknown): value is MoRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MoRef).type === 'string' &&
    typeof (value as MoRef).value === 'string'
  )
}
