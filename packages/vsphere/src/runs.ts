import {
  type GuestProcessInfo,
  type ID,
  type MoRef,
  Program,
  RunState,
  type VirtualMachineConfigSpec,
} from '@portlayer/contracts'
import type { Backend } from './backend.js'
import { livenessOf, statusOf } from './derive.js'
import { isCode, isConflict, isOutcomeUnknown, wrap } from './errors.js'
import { applyOptions, type ContainerRecord, type MainStateRecord } from './extra-config.js'
import { Guest } from './guest.js'
import { endOfRun } from './run-records.js'
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
 * SIGTERM through the guest, up to the grace period for the main process to exit, then the end
 * of the run is recorded and the VM powered off.
 */
export async function stopRun(
  b: Backend,
  id: ID,
  ref: MoRef,
  record: ContainerRecord,
  hurry?: AbortSignal,
): Promise<void> {
  const { guest } = b.c()
  const state = record.mainState
  let procs: readonly GuestProcessInfo[] | undefined
  // Once SIGTERM may have reached the process the stop cannot be taken back: what fails after
  // that (recording the end, the power-off) is left to the next read, which finishes the stop.
  let irrevocable = false
  if (state && state.pid > 0 && state.phase === 'stopping') {
    try {
      await guest.startProgram(ref, Program.Kill, `-15 ${state.pid}`)
      irrevocable = true
      procs = await waitForExit(b, ref, state.pid, b.settings.stopGracePeriodMs, hurry)
    } catch (e) {
      // A kill whose answer was lost may have been delivered.
      if (isOutcomeUnknown(e)) irrevocable = true
      // The power-off below ends the process anyway; only the exit code is lost.
      if (!Guest.notReady(e) && !isCode(e, 'NOT_FOUND')) b.settings.onBackgroundError(e)
    }
  }
  // Powered off first, then recorded: once the end is recorded the stop touches nothing more, so
  // a commit that waited for it (see commit.ts) can never be hit by its power-off.
  try {
    const now = await b.readRef(ref)
    if (!now?.record || now.record.mainState?.run !== state?.run) return
    await b.powerOff(id, ref)
    irrevocable = true
    b.watched.delete(id)
    await recordStop(b, ref, state, procs, now)
  } catch (e) {
    if (!irrevocable) throw e
    b.settings.onBackgroundError(e)
  }
}

/**
 * Records the end of the run a stop began, guarded by the version of a fresh read, and only while
 * the run is still that one: a start that took over meanwhile is left alone (never powered off).
 * @returns false when the run is no longer the stop's (or the VM is gone).
 */
async function recordStop(
  b: Backend,
  ref: MoRef,
  state: MainStateRecord | null,
  procs: readonly GuestProcessInfo[] | undefined,
  read: VmSnapshot,
): Promise<boolean> {
  let now: VmSnapshot | undefined = read
  for (let attempt = 0; ; attempt++) {
    if (!now?.record) return false
    if (now.record.mainState?.run !== state?.run) return false
    const ending = endOfRun(now.record, procs ?? [], new Date(), true, b.settings.maxExitedExecs)
    if (ending.options.length === 0) return true
    const spec: VirtualMachineConfigSpec = { extraConfig: ending.options }
    if (now.version !== '') spec.changeVersion = now.version
    try {
      await runTask(b.c().gateway, 'ReconfigVM_Task', { _this: ref, spec })
      b.forgetDeleted(ending.options)
      return true
    } catch (e) {
      if (isConflict(e) && attempt < 5) {
        now = await b.readRef(ref)
        continue
      }
      // The VM still goes off; its record then reads as stopped by the power-off.
      b.settings.onBackgroundError(e)
      return true
    }
  }
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
  hurry?: AbortSignal,
): Promise<readonly GuestProcessInfo[]> {
  const { guest } = b.c()
  const deadline = Date.now() + graceMs
  const step = Math.min(500, Math.max(20, Math.floor(graceMs / 20)))
  for (;;) {
    const procs = await guest.listProcesses(ref)
    const left = deadline - Date.now()
    if (livenessOf(procs, pid).kind !== 'running' || left <= 0 || hurry?.aborted) return procs
    await pause(Math.min(step, left), hurry)
  }
}

/** Sleeps `ms`, or less when `hurry` aborts. */
function pause(ms: number, hurry: AbortSignal | undefined): Promise<void> {
  if (!hurry) return sleep(ms) as Promise<void>
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      hurry.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    hurry.addEventListener('abort', done, { once: true })
  })
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
