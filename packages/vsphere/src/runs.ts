import {
  EXIT_NOT_FOUND,
  type FileCopy,
  type GuestProcessInfo,
  type ID,
  type MoRef,
  Program,
  RunState,
  type VirtualMachineConfigSpec,
} from '@portlayer/contracts'
import type { Backend } from './backend.js'
import { livenessOf, statusOf } from './derive.js'
import { faultOf, isCode, isConflict, wrap } from './errors.js'
import { exitMessage } from './exit-message.js'
import {
  applyOptions,
  type ContainerRecord,
  encodeMainState,
  Key,
  type MainStateRecord,
  option,
  type PendingFileRecord,
} from './extra-config.js'
import { Guest, programNotFound, toGuestFile } from './guest.js'
import { lastCopyPerPath } from './pending-files.js'
import { endOfRun, failedStartState, startedState } from './run-records.js'
import { deleteStaged, materialise } from './staged-files.js'
import { retrieve, runTask } from './vim.js'
import { type PowerState, snapshotOf, VM_PROPERTIES, type VmSnapshot, withEntries } from './vm.js'

/** What a read learnt from the guest. */
export interface Observed {
  readonly snap: VmSnapshot
  /** The guest's process list, when it was asked. */
  readonly procs?: readonly GuestProcessInfo[]
  /** True when the observation recorded something or powered the VM off. */
  readonly changed: boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Powers on, copies the pending files in and starts the main process, then records it. A start
 * that fails before its run is recorded powers the VM off again and throws (the commit then puts
 * its configuration back); once the run is recorded the start has happened, and what is left
 * (powering off a run that could not even start, deleting staged files) is housekeeping that a
 * later read redoes.
 */
export async function startRun(
  b: Backend,
  id: ID,
  ref: MoRef,
  main: { processId: ID; workDir: string; execPath: string; execArgs: string },
  run: string,
  recordedFiles: readonly PendingFileRecord[],
  handleFiles: readonly FileCopy[],
  powerOffFirst: boolean,
): Promise<void> {
  const { gateway, guest } = b.c()
  let state: MainStateRecord
  try {
    if (powerOffFirst) await b.powerOff(id, ref)
    try {
      await runTask(gateway, 'PowerOnVM_Task', { _this: ref })
    } catch (e) {
      // Someone powered it on meanwhile; the run is still ours (we wrote `starting`).
      if (faultOf(e) !== 'InvalidPowerState') throw e
    }
    await guest.waitForTools(ref, b.settings.guestToolsTimeoutMs, id)
    const files = lastCopyPerPath([...(await materialise(b, recordedFiles)), ...handleFiles.map(toGuestFile)])
    await guest.copyIn(ref, files, id)
    const now = new Date()
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
    await b.record(ref, options)
  } catch (e) {
    await b.powerOff(id, ref).catch((err) => b.settings.onBackgroundError(err))
    throw wrap(e, `starting container ${id}`, id)
  }
  if (state.phase === 'exited') await b.powerOff(id, ref).catch((e) => b.settings.onBackgroundError(e))
  else b.watched.add(id)
  deleteStaged(
    b,
    recordedFiles.flatMap((f) => ('path' in f ? [f.path] : [])),
  )
}

/**
 * SIGTERM through the guest, up to the grace period for the main process to exit, then the end
 * of the run is recorded and the VM powered off.
 */
export async function stopRun(b: Backend, id: ID, ref: MoRef, record: ContainerRecord): Promise<void> {
  const { guest } = b.c()
  const state = record.mainState
  let procs: readonly GuestProcessInfo[] | undefined
  if (state && state.pid > 0 && state.phase === 'stopping') {
    try {
      await guest.startProgram(ref, Program.Kill, `-15 ${state.pid}`)
      procs = await waitForExit(b, ref, state.pid, b.settings.stopGracePeriodMs)
    } catch (e) {
      // The power-off below ends the process anyway; only the exit code is lost.
      if (!Guest.notReady(e) && !isCode(e, 'NOT_FOUND')) b.settings.onBackgroundError(e)
    }
  }
  let current = record
  if (!procs) {
    // The guest did not answer: the VM may already be off because another stop of this run
    // finished first and recorded the exit the guest reported. Record from a fresh read, so
    // that exit is not overwritten with a guess, and leave a run that began since alone.
    const now = await b.readRef(ref).catch(() => undefined)
    if (now?.record) {
      if (now.record.mainState?.run !== state?.run) return
      current = now.record
    }
  }
  const ending = endOfRun(current, procs ?? [], new Date(), true, b.settings.maxExitedExecs)
  if (ending.options.length > 0) {
    try {
      await b.record(ref, ending.options)
    } catch (e) {
      // The VM still goes off; its record then reads as stopped by the power-off.
      b.settings.onBackgroundError(e)
    }
  }
  await b.powerOff(id, ref)
  b.watched.delete(id)
}

/**
 * Polls the guest until `pid` is no longer running or `graceMs` passed; returns the last list.
 * The last look is taken once the period is over, so a process that exits within it is recorded
 * with its own exit code, not as killed by the power-off.
 */
async function waitForExit(
  b: Backend,
  ref: MoRef,
  pid: number,
  graceMs: number,
): Promise<readonly GuestProcessInfo[]> {
  const { guest } = b.c()
  const deadline = Date.now() + graceMs
  const step = Math.min(500, Math.max(20, Math.floor(graceMs / 20)))
  for (;;) {
    const procs = await guest.listProcesses(ref)
    const left = deadline - Date.now()
    if (livenessOf(procs, pid).kind !== 'running' || left <= 0) return procs
    await sleep(Math.min(step, left))
  }
}

/**
 * The lazy exit check every read of a running container makes: asks the guest about its
 * processes, records the ends it reports (guarded by the version read, so an observer never
 * overwrites a newer change), and powers the VM off when the main process has exited. The
 * power-off is housekeeping: the recorded end already reads as stopped, so a power-off that fails
 * is reported to `onBackgroundError` and left to the next read instead of failing this one.
 */
export async function observe(b: Backend, id: ID, snap: VmSnapshot, attempt = 0): Promise<Observed> {
  const record = snap.record as ContainerRecord
  const state = record.mainState
  if (snap.powerState !== 'poweredOn' || !state) return { snap, changed: false }
  if (state.phase === 'exited') {
    // The end is recorded but the power-off did not happen (or was interrupted): finish it.
    return { snap: { ...snap, powerState: await finishRun(b, id, snap.ref) }, changed: true }
  }
  // `stopping` too: a stop that was interrupted (its client gone, its record and power-off failed)
  // is finished here; a stop still under way copes with an observer finishing it first.
  if (state.phase !== 'started' && state.phase !== 'stopping') return { snap, changed: false }
  const procs = await b.listQuietly(snap.ref, id)
  if (!procs) return { snap, changed: false }
  const ending = endOfRun(record, procs, new Date(), false, b.settings.maxExitedExecs)
  if (ending.options.length === 0) {
    b.watched.add(id)
    return { snap, procs, changed: false }
  }
  try {
    const spec: VirtualMachineConfigSpec = { extraConfig: ending.options }
    if (snap.version !== '') spec.changeVersion = snap.version
    await runTask(b.c().gateway, 'ReconfigVM_Task', { _this: snap.ref, spec })
  } catch (e) {
    if (isConflict(e)) {
      // Someone changed the container meanwhile (maybe recorded this very exit): look again.
      if (attempt < 2) return observe(b, id, await b.read(id), attempt + 1)
      return { snap, procs, changed: false }
    }
    b.settings.onBackgroundError(wrap(e, `recording process exits of container ${id}`, id))
    return { snap, procs, changed: false }
  }
  b.forgetDeleted(ending.options)
  const powerState = ending.ended ? await finishRun(b, id, snap.ref) : snap.powerState
  const after = withEntries({ ...snap, powerState }, applyOptions(snap.entries, ending.options))
  return { snap: after, procs, changed: true }
}

/** Powers off the VM of a run whose end is recorded; the power state it is left in. */
async function finishRun(b: Backend, id: ID, ref: MoRef): Promise<PowerState> {
  try {
    await b.powerOff(id, ref)
  } catch (e) {
    b.settings.onBackgroundError(e)
    return 'poweredOn'
  }
  b.watched.delete(id)
  return 'poweredOff'
}

/**
 * One round of the background exit poll: one property read for all watched containers, then each
 * is observed on its own (a container whose guest fails is reported and does not hold up the rest).
 */
export function pollExits(b: Backend): Promise<void> {
  if (b.polling || b.isClosed || !b.connection || b.watched.size === 0) return b.polling ?? Promise.resolve()
  const round = async () => {
    const { gateway } = b.c()
    const ids = [...b.watched].filter((id) => b.refs.has(id))
    for (const id of b.watched) if (!b.refs.has(id)) b.watched.delete(id)
    if (ids.length === 0) return
    const contents = await retrieve(
      gateway,
      'VirtualMachine',
      ids.map((id) => b.refs.get(id) as MoRef),
      VM_PROPERTIES,
      true,
    )
    const seen = new Set<ID>()
    for (const content of contents) {
      if (b.isClosed) return
      let snap = snapshotOf(content)
      const id = snap.record?.id
      if (!id || !b.watched.has(id)) continue
      seen.add(id)
      try {
        // The round's read ages while earlier containers are observed. Powering off a finished
        // run is the one step no version guards, so it acts only on a fresh read: a run started
        // since must not be powered off. (Recording an exit is guarded by the version read.)
        if (snap.powerState === 'poweredOn' && snap.record?.mainState?.phase === 'exited') {
          snap = await b.read(id)
        }
        const observed = await observe(b, id, snap)
        const record = observed.snap.record as ContainerRecord
        if (statusOf(record, observed.snap.powerState, observed.procs) !== RunState.Running) {
          b.watched.delete(id)
        }
      } catch (e) {
        // A container destroyed since the round's read is simply no longer watched.
        if (isCode(e, 'NOT_FOUND')) b.watched.delete(id)
        else b.settings.onBackgroundError(e)
      }
    }
    for (const id of ids) if (!seen.has(id)) b.watched.delete(id)
  }
  b.polling = round()
    .catch((e) => b.settings.onBackgroundError(e))
    .finally(() => {
      b.polling = undefined
    })
  return b.polling
}
