import {
  ConcurrentModificationError,
  findPendingFileConflict,
  type Handle,
  type ID,
  InvalidArgumentError,
  PortLayerError,
  RunState,
  UnavailableError,
} from '@portlayer/contracts'
import type { MoRef, OptionValue, VirtualMachineConfigSpec } from '@portlayer/contracts/vmomi'
import { pause, reconciling, scopeSignal } from './call-scope.js'
import { type PlanStep, runPlan } from './commit-plan.js'
import { afterStart, startOrSuperseded } from './commit-start.js'
import { appendRev, commitLanded, newToken } from './commit-tokens.js'
import { restore, undoOf } from './commit-undo.js'
import { listProcessesQuietly } from './container-actions.js'
import { resolveLimits, statusOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { deleteStaged, stagingStep } from './datastore-staging.js'
import { BACKEND, invalidState, isCode, isConflict, notFound, withOutcome, wrap } from './errors.js'
import { PreparedExtensions } from './extensions.js'
import {
  applyOptions,
  type ContainerRecord,
  encodeLimits,
  encodeMain,
  encodeMainState,
  Key,
  option,
} from './extra-config.js'
import { landedOrFenced } from './fence.js'
import { toGuestFile } from './guest.js'
import { lastCopyPerPath } from './pending-file-rules.js'
import { powerOffEndedRun } from './power-off-claim.js'
import { abandonedStart, endOfRun, startingState, stoppingState } from './run-records.js'
import { pendingOption, takeBack, takeBackLater } from './staged-start.js'
import type { StartProgress } from './start-steps.js'
import { stopRun } from './stop.js'
import { afterClaimsUnderWay, hasClaim } from './turn-taking.js'
import { runTask } from './vim-calls.js'
import { type VmSnapshot, versionOf, withEntries } from './vm-snapshot.js'

// A commit is checked completely before anything changes (shape, files, entry point, extensions'
// prepare), then carried out as a plan (see commit-plan.ts): the guarded reconfiguration that
// makes it exclusive comes first, every unversioned side effect (power, guest) after it.
// This file: commits of a handle got from an existing container (create-handles: commit-create.ts).

/** How often a commit is planned again because recorded facts moved `changeVersion` meanwhile. */
const FACT_RETRIES = 10

// Marks the refusal of a reconfiguration whose `changeVersion` was moved by facts, not commits.
const factsMoved = new WeakSet<object>()
// Marks a refusal decided on a recent read before anything changed: decided again on a fresh one.
const decideAgain = new WeakSet<object>()

export async function commitExisting(ctx: VsphereContext, handle: Handle): Promise<ID> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await commitExistingOnce(ctx, handle, attempt)
    } catch (e) {
      if (typeof e === 'object' && e !== null && decideAgain.has(e)) continue
      if (!(typeof e === 'object' && e !== null && factsMoved.has(e))) throw e
      if (attempt >= FACT_RETRIES) {
        // No commit came between, so CONFLICT would be untrue: the container kept changing.
        throw new UnavailableError(
          `container ${handle.containerId} kept changing; the commit was not applied`,
          {
            backend: BACKEND,
            target: handle.containerId,
            cause: e,
          },
        )
      }
      await pause(10 * (attempt + 1))
    }
  }
}

async function commitExistingOnce(ctx: VsphereContext, handle: Handle, attempt: number): Promise<ID> {
  const id = handle.containerId
  // A handle got a moment ago needs no second read: the guarded reconfiguration lands only if the
  // VM is still as read (when it is not, the commit is planned again on a fresh read). A refusal
  // decided on that read before anything changed is decided again on a fresh one: the container
  // may have changed since, and the commit is judged on how it is during the call.
  // An empty handle changes nothing, so its commit is only its read.
  const recent = attempt === 0 && !isEmptyHandle(handle) ? ctx.directory.takeRecent(id) : undefined
  // One that shows a claim under way is no base: the commit waits for the claim on fresh reads.
  const base =
    recent !== undefined && versionOf(recent) === handle.baseVersion && !hasClaim(ctx, recent)
      ? recent
      : undefined
  const stage = { changing: false }
  try {
    return await commitOn(ctx, handle, base ?? (await ctx.directory.read(id)), stage)
  } catch (e) {
    if (base !== undefined && !stage.changing && typeof e === 'object' && e !== null) decideAgain.add(e)
    throw e
  }
}

/**
 * The commit of `handle` planned on `first`; `stage.changing` is set once it involves anything
 * beyond this backend's own checks (the extensions' prepare, then the plan's changes).
 */
async function commitOn(
  ctx: VsphereContext,
  handle: Handle,
  first: VmSnapshot,
  stage: { changing: boolean },
): Promise<ID> {
  const { factory, guest } = ctx
  const id = handle.containerId
  const p = handle.pending
  let snap = first
  if (versionOf(snap) !== handle.baseVersion) throw changedSince(id, handle.baseVersion, versionOf(snap))
  if (!isEmptyHandle(handle)) {
    // A destroy, a stop, a start or a power-off under way goes first (see turn-taking.ts).
    snap = await afterClaimsUnderWay(ctx, id, snap)
    if (versionOf(snap) !== handle.baseVersion) throw changedSince(id, handle.baseVersion, versionOf(snap))
  }
  const record = snap.record as ContainerRecord
  // Whether the main process still runs matters when the handle starts it, sets limits or copies
  // files: a container whose main process exited unobserved is stopped, so it starts afresh,
  // takes the limits and keeps the files for its next start. (A stop needs no look first: the stop sequence asks the guest and records the real
  // exit code.)
  const procs =
    (p.runState === RunState.Running || p.limits !== undefined || p.files.length > 0) &&
    snap.powerState === 'poweredOn' &&
    (record.mainState?.phase === 'started' || record.mainState?.phase === 'stopping')
      ? await listProcessesQuietly(ctx, snap.ref, id)
      : undefined
  const status = statusOf(record, snap.powerState, procs)
  const running = status === RunState.Running
  const main = p.mainProcess
    ? { processId: record.main?.processId ?? factory.newId(), ...p.mainProcess }
    : record.main
  if (p.runState === RunState.Running && !main)
    throw invalidState(`container ${id} cannot run: it has no entry point`, id)
  // A start recorded as `starting` counts as running, but a commit of `running` does it again: its
  // client may have died (a start still under way notices it was taken over and steps back).
  const wantStart = p.runState === RunState.Running && (!running || record.mainState?.phase === 'starting')
  const wantStop = p.runState === RunState.Stopped && running
  const applyLimits = p.limits !== undefined && !running
  const files = lastCopyPerPath(p.files)
  const _hasExtensions = Object.keys(p.extensions).length > 0
  // As on every backend, a handle that asks for anything is a commit (it moves the version) even
  // when nothing comes of it (limits for a running container, a stop of one that never ran).
  if (isEmptyHandle(handle)) return id

  if (files.length > 0 && !running) {
    // They join the files already waiting for the next start: together they must fit.
    const waiting = record.files.map((f) => ({ targetDir: f.dir, fname: f.name }))
    const conflict = findPendingFileConflict([...waiting, ...files])
    if (conflict !== undefined) {
      throw new InvalidArgumentError(`container ${id}: ${conflict}`, { backend: BACKEND, target: id })
    }
  }
  // From here on the extensions are involved (they prepare once per commit): no planning again.
  stage.changing = true
  const prepared = await PreparedExtensions.prepare(ctx.extensions, handle, record, status)
  const token = newToken()
  const options: OptionValue[] = [option(Key.rev, appendRev(record.revs, token))]
  const spec: VirtualMachineConfigSpec = {}
  if (snap.version !== '') spec.changeVersion = snap.version
  if (applyLimits && p.limits) {
    const limits = resolveLimits(p.limits, ctx.settings.defaultLimits)
    options.push(option(Key.limits, encodeLimits(p.limits)))
    spec.memoryMB = limits.memoryMb
    spec.cpuAllocation = { limit: limits.cpuMhz }
  }
  if (p.mainProcess && main) options.push(option(Key.main, encodeMain(main)))
  // A run that ended unobserved is recorded in this same reconfiguration, and a start builds on
  // that end (so a start that fails reads as the run that ended, with its exit code).
  const ending =
    procs && snap.powerState === 'poweredOn' && !running
      ? endOfRun(record, procs, new Date(), false, ctx.settings.maxExitedExecs)
      : undefined
  if (ending) options.push(...ending.options)
  const previousRun = ending?.mainState ?? record.mainState
  if (wantStart) options.push(option(Key.mainState, encodeMainState(startingState(previousRun, token))))
  if (wantStop && record.mainState?.phase === 'started') {
    options.push(option(Key.mainState, encodeMainState(stoppingState(record.mainState))))
  } else if (wantStop && record.mainState?.phase === 'starting') {
    // A start that never recorded its process (under way, or cut off): the stop puts the previous
    // run back under a new run token, so a start still under way sees it was taken over.
    options.push(option(Key.mainState, encodeMainState(abandonedStart(record.mainState, token))))
  }
  // What putting this commit back writes: the configuration it set (limits, entry point, a
  // start's run record, extensions' values), never facts it recorded (a run's end).
  const revocable = prepared.revocable()
  const undoKeys = [
    ...(applyLimits ? [Key.limits] : []),
    ...(p.mainProcess ? [Key.main] : []),
    ...(wantStart || wantStop ? [Key.mainState] : []),
    ...revocable.keys,
  ]
  const overrides = new Map(previousRun ? [[Key.mainState, encodeMainState(previousRun)]] : [])

  let staging: ReturnType<typeof stagingStep> | undefined
  // The extensions whose values a successful undo put back (those with device changes stay).
  let revoked: ReadonlySet<string> | undefined
  const progress: StartProgress = { superseded: false }
  const poweredOnButEnded = snap.powerState === 'poweredOn' && !running
  const steps: PlanStep[] = []
  if (files.length > 0 && !running && !wantStart) {
    staging = stagingStep(ctx, id, record.files, files, options)
    steps.push(staging)
  }
  steps.push({
    name: `reconfiguring the VM of container ${id}`,
    run: async () => {
      const contribution = prepared.contribution()
      options.push(...contribution.options)
      if (contribution.deviceChange.length > 0) spec.deviceChange = contribution.deviceChange
      if (wantStart) {
        // Staged: readers see the container as before until the start's record step.
        const undo = undoOf(snap, undoKeys, applyLimits, overrides)
        options.push(pendingOption(token, snap, undo.options, undo))
      }
      spec.extraConfig = options
      await guardedReconfigure(ctx, id, snap.ref, spec, handle.baseVersion)
      return undefined
    },
    landed: () =>
      landedOrFenced(ctx, snap.ref, (now) => {
        if (now.record?.id !== id) return false
        const verdict = commitLanded(now.record.revs, record.rev, token)
        if (verdict === 'unknown') throw new Error('too many commits since to tell')
        return verdict === 'landed'
      }),
    undo: async () => {
      if (wantStart) {
        // Nobody saw the staged start: its values go back and the VM off (or another client
        // already took it back).
        await takeBack(ctx, id, snap.ref, token).catch((e) => {
          ctx.settings.onBackgroundError(wrap(e, `taking back the start of container ${id}`, id))
          throw e
        })
        revoked = revocable.namespaces
        return true
      }
      const undo = undoOf(snap, undoKeys, applyLimits, overrides)
      const outcome = await restore(ctx, id, snap.ref, token, undo)
      if (outcome === 'kept') return false
      if (outcome === 'superseded') return 'superseded'
      revoked = outcome === 'restored' ? revocable.namespaces : undefined
      return true
    },
  })
  if (running && files.length > 0) {
    steps.push({
      name: `copying files into container ${id}`,
      run: async () => {
        await guest.copyIn(snap.ref, files.map(toGuestFile), id)
        return undefined
      },
      // Copying again is harmless; a lost answer leaves at most a file the retry rewrites.
      landed: async () => false,
    })
  }
  if (wantStop) {
    steps.push({
      name: `stopping container ${id}`,
      run: async () => {
        const after = withEntries(snap, applyOptions(snap.entries, options)).record as ContainerRecord
        // Once SIGTERM may have gone out a stop cannot be taken back: it finishes, whatever the
        // caller's signal says (bounded by the grace period and the time to record it).
        // An abort cuts the grace period short instead: the process is killed at once.
        const hurry = scopeSignal()
        const bound = ctx.settings.stopGracePeriodMs + ctx.settings.reconcileTimeoutMs
        await reconciling(bound, () => stopRun(ctx, id, snap.ref, after, hurry))
        return undefined
      },
      landed: async () => {
        const now = await ctx.directory.readRef(snap.ref)
        return (
          now === undefined ||
          (now.powerState === 'poweredOff' && now.record?.mainState?.phase !== 'stopping')
        )
      },
    })
  } else if (wantStart && main) {
    steps.push({
      name: `starting container ${id}`,
      run: async () => {
        const after = withEntries(snap, applyOptions(snap.entries, options)).record as ContainerRecord
        const input = {
          id,
          ref: snap.ref,
          main,
          run: token,
          recordedFiles: after.files,
          handleFiles: files,
          powerOffFirst: poweredOnButEnded,
          before: record,
          staged: true,
        }
        await startOrSuperseded(ctx, input, progress)
        return undefined
      },
    })
  }
  try {
    await runPlan(steps, ctx.settings.reconcileTimeoutMs, id)
  } catch (e) {
    const error = PortLayerError.isInstance(e) ? e : wrap(e, `committing container ${id}`, id)
    // A start left staged is this process's to take back, now in the background, and at once
    // when it next commits here.
    if (error.outcome === 'unknown' && wantStart) takeBackLater(ctx, id, snap.ref, token)
    if (error.outcome === 'unknown') prepared.commit()
    else if (revoked) prepared.commit(revoked)
    else prepared.rollback()
    throw wrap(error, `committing container ${id}`, id)
  }
  prepared.commit()
  if (staging) deleteStaged(ctx, staging.superseded())
  ctx.directory.forgetDeleted(options)
  if (wantStart) await afterStart(ctx, id, snap.ref, progress)
  else if (poweredOnButEnded && (ending?.ended || record.mainState?.phase === 'exited')) {
    // The run was over before this commit; its power-off is housekeeping the next read redoes.
    const now = await ctx.directory.readRef(snap.ref).catch(() => undefined)
    if (now) await powerOffEndedRun(ctx, id, now).catch((e) => ctx.settings.onBackgroundError(e))
  }
  return id
}

function isEmptyHandle(handle: Handle): boolean {
  const p = handle.pending
  return (
    p.limits === undefined &&
    p.runState === undefined &&
    !p.mainProcess &&
    p.files.length === 0 &&
    Object.keys(p.extensions).length === 0
  )
}

/**
 * The one guarded reconfiguration of a commit: lands only if the VM is at the `changeVersion`
 * read. Refused because something moved it: `CONFLICT` when a commit did; when only facts did,
 * an error marked for planning the commit again.
 */
async function guardedReconfigure(
  ctx: VsphereContext,
  id: ID,
  ref: MoRef,
  spec: VirtualMachineConfigSpec,
  baseVersion: string | null,
): Promise<void> {
  const { gateway } = ctx
  try {
    ctx.directory.changing(ref)
    await runTask(gateway, 'ReconfigVM_Task', { _this: ref, spec })
  } catch (e) {
    if (isConflict(e)) {
      const error = new ConcurrentModificationError(`container ${id} changed since the handle was made`, {
        backend: BACKEND,
        target: id,
        detail: PortLayerError.isInstance(e) ? e.detail : undefined,
        cause: e,
      })
      let now: VmSnapshot | undefined
      try {
        now = await ctx.directory.readRef(ref)
      } catch (re) {
        throw withOutcome(wrap(re, `committing container ${id}`, id), 'not-applied')
      }
      if (!now || now.record?.id !== id) {
        ctx.directory.forget(id)
        throw notFound(id)
      }
      if (versionOf(now) === baseVersion) factsMoved.add(error)
      throw error
    }
    if (isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
      ctx.directory.forget(id)
      throw notFound(id)
    }
    throw e
  }
}

function changedSince(id: ID, base: string | null, now: string): ConcurrentModificationError {
  return new ConcurrentModificationError(
    `container ${id} changed since the handle was made (version ${base}, now ${now})`,
    { backend: BACKEND, target: id, detail: { baseVersion: base, version: now } },
  )
}
