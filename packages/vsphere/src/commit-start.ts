import type { ID } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { reconciling } from './call-scope.js'
import { runPlan } from './commit-plan.js'
import { powerOff } from './container-actions.js'
import type { VsphereContext } from './context.js'
import { isCode } from './errors.js'
import { powerOffClaimed } from './power-off-claim.js'
import { type StartInput, type StartProgress, startSteps } from './start-steps.js'

// How a commit that starts its container ends: the start steps, or nothing when a later commit took over.

/**
 * Runs a start's steps. The VM gone meanwhile means this commit's start was stopped and the
 * container destroyed by others (a running container is never destroyed): the commit had landed
 * and was superseded.
 */
export async function startOrSuperseded(
  ctx: VsphereContext,
  input: StartInput,
  progress: StartProgress,
): Promise<void> {
  try {
    await runPlan(startSteps(ctx, input, progress), ctx.settings.reconcileTimeoutMs, input.id)
  } catch (e) {
    // A staged start never took effect: the VM gone means it was taken back, then destroyed.
    if (!isCode(e, 'NOT_FOUND') || input.staged) throw e
    const now = await reconciling(ctx.settings.reconcileTimeoutMs, () =>
      ctx.directory.readRef(input.ref),
    ).catch(() => null)
    if (now !== undefined) throw e
    ctx.directory.forget(input.id)
    progress.superseded = true
  }
}

/** After a start: a program that could not even start leaves the VM to go off; a live one is watched. */
export async function afterStart(
  ctx: VsphereContext,
  id: ID,
  ref: MoRef,
  progress: StartProgress,
): Promise<void> {
  if (progress.superseded || !progress.state) return
  if (progress.state.phase === 'exited') {
    const claim = progress.powerOffClaim
    const off = claim ? powerOffClaimed(ctx, id, ref, claim) : powerOff(ctx, id, ref)
    await off.catch((e) => ctx.settings.onBackgroundError(e))
  } else ctx.exits.watch(id)
}
