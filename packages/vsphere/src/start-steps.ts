import { ConcurrentModificationError, EXIT_NOT_FOUND, type FileCopy, type ID } from '@portlayer/contracts'
import type { MoRef, ObjectContent, OptionValue } from '@portlayer/contracts/vmomi'
import type { PlanStep } from './commit-plan.js'
import { powerOff, writeGuarded } from './container-actions.js'
import type { VsphereContext } from './context.js'
import { deleteStaged, materialise } from './datastore-staging.js'
import { BACKEND, faultOf, isConflict } from './errors.js'
import { exitMessage } from './exit-message.js'
import {
  type ContainerRecord,
  encodeMainState,
  Key,
  type MainStateRecord,
  option,
  type PendingFileRecord,
} from './extra-config.js'
import { landedOrFenced, Undecided } from './fence.js'
import { launchedSince, programNotFound, toGuestFile } from './guest.js'
import { capturedCommandLine } from './output-capture.js'
import { collectOutput } from './output-collection.js'
import { lastCopyPerPath } from './pending-file-rules.js'
import { powerOffClaim } from './power-off-claim.js'
import { failedStartState, startedState } from './run-records.js'
import { unstaged } from './staged-start.js'
import { runTaskThenRead } from './vim-calls.js'
import { snapshotOf, VM_PROPERTIES, type VmSnapshot } from './vm-snapshot.js'

// The steps of a start, after the commit's guarded reconfiguration wrote `starting` with the run
// token `run`. Power-on and guest operations are not versioned by vSphere, so a start proves
// twice that the run is still its own: after the tools came up (the read that sees them running
// also reads the record), and when it records the started process (a reconfiguration guarded by
// the version of that read). A start that finds another run recorded stops there: another commit
// took the container over after this one landed, and a process it started is ended again.

/** What the start found out, for the commit's housekeeping afterwards. */
export interface StartProgress {
  /** The recorded state the run reached (`started`, or `exited` when the program does not exist). */
  state?: MainStateRecord
  /** True when another commit took over the run (this commit's part had landed before). */
  superseded: boolean
  /** True once the start powered the VM on (for the commit's undo). */
  poweredOn?: boolean
  /** The power-off claim the record step wrote for a program that could not start. */
  powerOffClaim?: string
}

export interface StartInput {
  readonly id: ID
  readonly ref: MoRef
  readonly main: { processId: ID; workDir: string; execPath: string; execArgs: string }
  /** The run token the commit recorded in `starting`. */
  readonly run: string
  /** Files recorded for the next start (inline or staged), cleared once the run is recorded. */
  readonly recordedFiles: readonly PendingFileRecord[]
  /** Files of the committing handle itself. */
  readonly handleFiles: readonly FileCopy[]
  /** The VM is on from a run that ended: it goes off first, so the new run starts clean. */
  readonly powerOffFirst: boolean
  /** The container as it was before this commit (whose ended run's output is kept first). */
  readonly before?: ContainerRecord
  /**
   * The start is staged (see staged-start.ts): its record step is when it takes effect, and a
   * start taken back meanwhile by another client failed (nobody saw it). Otherwise (a create's
   * start, seen from its reconfiguration on) another run recorded means a later commit took
   * over after this one landed.
   */
  readonly staged: boolean
}

export function startSteps(ctx: VsphereContext, input: StartInput, progress: StartProgress): PlanStep[] {
  const { id, ref, main, run } = input
  const { gateway, guest } = ctx
  let seen: VmSnapshot | undefined
  // What the power-on's wait read of the VM (the tools may be up already).
  let afterPowerOn: ObjectContent | undefined
  let pid = 0
  let launchedAt: Date | undefined
  const steps: PlanStep[] = []

  if (input.powerOffFirst) {
    steps.push({
      name: `powering off the ended run of container ${id}`,
      run: async () => {
        if (input.before) await collectOutput(ctx, id, ref, input.before)
        await powerOff(ctx, id, ref)
        return undefined
      },
      landed: async () => (await ctx.directory.readRef(ref))?.powerState === 'poweredOff',
    })
  }
  steps.push(
    {
      name: `powering on container ${id}`,
      run: async () => {
        try {
          ctx.directory.changing(ref)
          afterPowerOn = await runTaskThenRead(
            gateway,
            'PowerOnVM_Task',
            { _this: ref },
            { type: 'VirtualMachine', obj: ref, paths: guest.toolsPaths(VM_PROPERTIES) },
          )
        } catch (e) {
          // On already: by whom is not known yet; the next step checks the run is still ours.
          if (faultOf(e) !== 'InvalidPowerState') throw e
        }
        progress.poweredOn = true
        return undefined
      },
      landed: async () => {
        if ((await ctx.directory.readRef(ref))?.powerState !== 'poweredOn') {
          // A staged start not seen on is taken back, which powers the VM off: a power-on still
          // queued at vSphere then lands on a container that reads as before the start.
          if (input.staged) return false
          throw new Undecided('a power-on')
        }
        progress.poweredOn = true
        return true
      },
      // No undo here: powering off is not versioned, so it waits until the commit's configuration
      // is put back by a guarded reconfiguration (which steps back when another commit took the
      // container over); the commit's undo then powers the VM off.
    },
    {
      name: `waiting for the guest tools of container ${id}`,
      run: async () => {
        const content = await guest.waitForTools(
          ref,
          ctx.settings.guestToolsTimeoutMs,
          id,
          VM_PROPERTIES,
          afterPowerOn,
        )
        seen = content ? snapshotOf(content) : undefined
        if (seen?.record?.mainState?.run !== run) {
          if (input.staged) throw takenBack(id)
          progress.superseded = true
          return 'finish'
        }
        return undefined
      },
      // Only reads.
      landed: async () => false,
    },
    {
      name: `copying files into container ${id}`,
      run: async () => {
        const files = lastCopyPerPath([
          ...(await materialise(ctx, input.recordedFiles)),
          ...input.handleFiles.map(toGuestFile),
        ])
        await guest.copyIn(ref, files, id)
        return undefined
      },
      // A new run's files are copied again by any retry; the undo of the power-on ends this one.
      landed: async () => false,
    },
    {
      name: `starting the main process of container ${id}`,
      run: async () => {
        launchedAt = new Date()
        try {
          pid = await guest.startCaptured(ref, main.processId, main.execPath, main.execArgs, main.workDir)
        } catch (e) {
          if (!programNotFound(e)) throw e
          pid = 0
        }
        return undefined
      },
      landed: async () => {
        const found = await findLaunched(ctx, ref, main, launchedAt ?? new Date(0))
        // Likewise: taking back a staged start powers the VM off, so a late program start dies.
        if (found === undefined && input.staged) return false
        if (found === undefined) throw new Undecided('a program start')
        pid = found
        return true
      },
      undo: async () => {
        if (pid > 0) await guest.terminate(ref, pid)
        return true
      },
    },
    {
      name: `recording the start of container ${id}`,
      run: async () => {
        const at = launchedAt ?? new Date()
        const state =
          pid > 0
            ? startedState(run, pid, at)
            : failedStartState(
                run,
                at,
                EXIT_NOT_FOUND,
                exitMessage(main.execPath, main.execArgs, EXIT_NOT_FOUND),
              )
        const options: OptionValue[] = [option(Key.mainState, encodeMainState(state))]
        if (input.recordedFiles.length > 0) options.push(option(Key.files, ''))
        if (input.staged) options.push(unstaged)
        // A program that could not even start leaves its VM to go off: claimed in this write.
        if (pid === 0) {
          progress.powerOffClaim = run
          options.push(powerOffClaim(run))
        }
        const outcome = await recordOwnRun(ctx, ref, run, seen, options)
        if (outcome === 'superseded') {
          // Taken back (staged), or another commit took the run over since the tools check.
          if (input.staged) throw takenBack(id)
          progress.superseded = true
          if (pid > 0) await guest.terminate(ref, pid).catch((e) => ctx.settings.onBackgroundError(e))
          return 'finish'
        }
        progress.state = state
        deleteStaged(
          ctx,
          input.recordedFiles.flatMap((f) => ('path' in f ? [f.path] : [])),
        )
        return undefined
      },
      landed: () =>
        landedOrFenced(ctx, ref, (now) => {
          const state = now.record?.mainState
          return state?.run === run && state.phase !== 'starting' && now.record?.pending?.token !== run
        }),
    },
  )
  return steps
}

/**
 * Writes `options` guarded by the version of `seen`, provided the recorded run is still `run`;
 * reads again and retries when only facts moved the version (an exec recorded, an exit observed).
 */
async function recordOwnRun(
  ctx: VsphereContext,
  ref: MoRef,
  run: string,
  seen: VmSnapshot | undefined,
  options: OptionValue[],
): Promise<'recorded' | 'superseded'> {
  let snap = seen
  for (let attempt = 0; ; attempt++) {
    if (!snap || snap.record?.mainState?.run !== run) return 'superseded'
    try {
      await writeGuarded(ctx, snap, options)
      return 'recorded'
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e
      snap = await ctx.directory.readRef(ref)
    }
  }
}

/** The guest pid of a main process whose start's answer was lost (see `launchedSince`). */
async function findLaunched(
  ctx: VsphereContext,
  ref: MoRef,
  main: { processId: string; execPath: string; execArgs: string },
  since: Date,
): Promise<number | undefined> {
  const procs = await ctx.guest.listProcesses(ref)
  return launchedSince(procs, capturedCommandLine(main.processId, main.execPath, main.execArgs), since)
}

/** A staged start that another client took back (it waited longer than a start may take). */
function takenBack(id: ID): ConcurrentModificationError {
  return new ConcurrentModificationError(
    `container ${id}: the start took too long and another client took it back`,
    { backend: BACKEND, target: id },
  )
}
