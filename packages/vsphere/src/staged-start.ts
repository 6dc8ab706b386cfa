import type { ID } from '@portlayer/contracts'
import type { MoRef, OptionValue, VirtualMachineConfigSpec } from '@portlayer/contracts/vmomi'
import { reconciling, unscoped } from './call-scope.js'
import { newToken } from './commit-tokens.js'
import type { VsphereContext } from './context.js'
import { isConflict, isOutcomeUnknown } from './errors.js'
import { encodePending, Key, option } from './extra-config.js'
import { powerOffClaim, powerOffClaimed } from './power-off-claim.js'
import { runTask } from './vim-calls.js'
import type { VmSnapshot } from './vm-snapshot.js'

// A start is staged: the commit's guarded reconfiguration writes what the start sets (run record,
// limits, entry point, extensions' values, a new commit token) together with `pending`, which
// holds the previous value of each of those keys. Readers see the container as it was (see
// `visibleOf`), and commits and destroys wait (turn-taking.ts), until the start's record step —
// the moment the start takes effect — removes `pending`. A start that fails before then is taken
// back: the previous values are written back and the VM powered off, and no reader ever saw it.
// A start whose client died is taken back the same way by the next commit that waited long
// enough for it.

/** The option that stages a start with commit token `token` over the container as read in `before`. */
export function pendingOption(
  token: string,
  before: VmSnapshot,
  undo: readonly OptionValue[],
  limits?: {
    memoryMb?: number
    cpuMhz?: number
  },
): OptionValue {
  return option(Key.pending, encodePending({ token, undo, powerState: before.powerState, ...(limits ?? {}) }))
}

/** The option that ends the staging (written by the start's record step). */
export const unstaged: OptionValue = option(Key.pending, '')

/** What taking back a staged start found. */
export type TakeBack = 'taken' | 'not-pending' | 'gone'

/**
 * Takes back the staged start with `token`: writes back the previous values (guarded by a fresh
 * read), then powers the VM off under a claim. `not-pending` when that start is no longer staged
 * (it took effect, or was taken back already); `gone` when the VM is.
 */
export async function takeBack(ctx: VsphereContext, id: ID, ref: MoRef, token: string): Promise<TakeBack> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const now = await ctx.directory.readRef(ref)
    if (!now || now.record?.id !== id) return 'gone'
    const pending = now.record.pending
    if (!pending || pending.token !== token) return 'not-pending'
    const claim = newToken()
    const spec: VirtualMachineConfigSpec = {
      extraConfig: [...pending.undo, unstaged, powerOffClaim(claim)],
    }
    if (now.version !== '') spec.changeVersion = now.version
    if (pending.memoryMb !== undefined) spec.memoryMB = pending.memoryMb
    if (pending.cpuMhz !== undefined) spec.cpuAllocation = { limit: pending.cpuMhz }
    try {
      ctx.directory.changing(ref)
      await runTask(ctx.gateway, 'ReconfigVM_Task', { _this: ref, spec })
    } catch (e) {
      // Facts (an exit, an exec) moved the version, or the answer was lost: look again (a lost
      // write guarded by this version lands only if nothing else did).
      if (isConflict(e) || isOutcomeUnknown(e)) {
        const after = await ctx.directory.readRef(ref)
        if (after?.record?.poweringOff === claim) {
          await powerOffClaimed(ctx, id, ref, claim)
          return 'taken'
        }
        continue
      }
      throw e
    }
    await powerOffClaimed(ctx, id, ref, claim)
    return 'taken'
  }
  throw new Error(`container ${id} kept changing while a start was taken back`)
}

/**
 * After a commit whose staged start ended with an unknown outcome (vSphere could not be reached
 * to find out or to take it back): this process keeps trying to take it back in the background,
 * so other clients do not wait for it as long as a start may take. Safe whatever happened: a
 * start that took effect is no longer staged, and taking back checks that first.
 */
export function takeBackLater(ctx: VsphereContext, id: ID, ref: MoRef, token: string): void {
  ctx.abandoned.add(token)
  void unscoped(async () => {
    let delay = 200
    for (let attempt = 0; attempt < 12 && !ctx.exits.stopped; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref?.())
      delay = Math.min(delay * 2, 10_000)
      if (!ctx.abandoned.has(token)) return
      try {
        await reconciling(ctx.settings.reconcileTimeoutMs, () => takeBack(ctx, id, ref, token))
        ctx.abandoned.delete(token)
        return
      } catch {
        // Still unreachable: try again later (the next commit here also takes it back at once).
      }
    }
  })
}
