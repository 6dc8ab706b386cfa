import { type ID, Program } from '@portlayer/contracts'
import type { GuestProcessInfo, MoRef } from '@portlayer/contracts/vmomi'
import { powerOff, writeGuarded } from './container-actions.js'
import { livenessOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { isCode, isConflict, isOutcomeUnknown } from './errors.js'
import type { ContainerRecord, MainStateRecord } from './extra-config.js'
import { Guest } from './guest.js'
import { collectOutput } from './output-collection.js'
import { endOfRun } from './run-records.js'
import type { VmSnapshot } from './vm-snapshot.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * SIGTERM through the guest, up to the grace period for the main process to exit, then the end
 * of the run is recorded and the VM powered off.
 */
export async function stopRun(
  ctx: VsphereContext,
  id: ID,
  ref: MoRef,
  record: ContainerRecord,
  hurry?: AbortSignal,
): Promise<void> {
  const { guest } = ctx
  const state = record.mainState
  let procs: readonly GuestProcessInfo[] | undefined
  // Once SIGTERM may have reached the process the stop cannot be taken back: what fails after
  // that (recording the end, the power-off) is left to the next read, which finishes the stop.
  let irrevocable = false
  if (state && state.pid > 0 && state.phase === 'stopping') {
    try {
      await guest.startProgram(ref, Program.Kill, `-15 ${state.pid}`)
      irrevocable = true
      procs = await waitForExit(ctx, ref, state.pid, ctx.settings.stopGracePeriodMs, hurry)
    } catch (e) {
      // A kill whose answer was lost may have been delivered.
      if (isOutcomeUnknown(e)) irrevocable = true
      // The power-off below ends the process anyway; only the exit code is lost.
      if (!Guest.notReady(e) && !isCode(e, 'NOT_FOUND')) ctx.settings.onBackgroundError(e)
    }
  }
  // Powered off first, then recorded: once the end is recorded the stop touches nothing more, so
  // a commit that waited for it (see commit-existing.ts) can never be hit by its power-off.
  try {
    const now = await ctx.directory.readRef(ref)
    if (!now?.record || now.record.mainState?.run !== state?.run) return
    let offFailed: unknown
    // What the run's processes wrote goes to the datastore first: the guest's files go with the VM.
    await collectOutput(ctx, id, ref, now.record)
    try {
      await powerOff(ctx, id, ref)
      irrevocable = true
      ctx.exits.unwatch(id)
    } catch (e) {
      if (!irrevocable) throw e
      offFailed = e
    }
    // The end is recorded also when the power-off failed after SIGTERM: the stop has happened, so
    // no commit should wait for it; the VM left on is an ended run's, powered off by the next read
    // under a claim.
    await recordStop(ctx, ref, state, procs, now)
    if (offFailed !== undefined) ctx.settings.onBackgroundError(offFailed)
  } catch (e) {
    if (!irrevocable) throw e
    ctx.settings.onBackgroundError(e)
  }
}

/**
 * Records the end of the run a stop began, guarded by the version of a fresh read, and only while
 * the run is still that one: a start that took over meanwhile is left alone (never powered off).
 * @returns false when the run is no longer the stop's (or the VM is gone).
 */
async function recordStop(
  ctx: VsphereContext,
  ref: MoRef,
  state: MainStateRecord | null,
  procs: readonly GuestProcessInfo[] | undefined,
  read: VmSnapshot,
): Promise<boolean> {
  let now: VmSnapshot | undefined = read
  for (let attempt = 0; ; attempt++) {
    if (!now?.record) return false
    if (now.record.mainState?.run !== state?.run) return false
    const ending = endOfRun(now.record, procs ?? [], new Date(), true, ctx.settings.maxExitedExecs)
    if (ending.options.length === 0) return true
    try {
      // Read back: a destroy usually follows a stop, and needs no read of its own then.
      await writeGuarded(ctx, now, ending.options, { readBack: true })
      ctx.directory.forgetDeleted(ending.options)
      return true
    } catch (e) {
      if (isConflict(e) && attempt < 5) {
        now = await ctx.directory.readRef(ref)
        continue
      }
      // The VM still goes off; its record then reads as stopped by the power-off.
      ctx.settings.onBackgroundError(e)
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
  ctx: VsphereContext,
  ref: MoRef,
  pid: number,
  graceMs: number,
  hurry?: AbortSignal,
): Promise<readonly GuestProcessInfo[]> {
  const { guest } = ctx
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
