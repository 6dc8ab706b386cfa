import type { ID } from '@portlayer/contracts'
import type { MoRef, OptionValue } from '@portlayer/contracts/vmomi'
import { newToken } from './commit-tokens.js'
import { powerOff, releaseClaim, writeGuarded } from './container-actions.js'
import type { VsphereContext } from './context.js'
import { isConflict } from './errors.js'
import { Key, option } from './extra-config.js'
import { collectOutput } from './output-collection.js'
import type { VmSnapshot } from './vm-snapshot.js'

// vSphere does not version powering a VM off, so a power-off decided on a read could hit a start
// that another client made after that read. Every power-off that is not a stop's (a stop has its
// `stopping` record) or a destroy's (its `destroying` claim) is claimed first, with a
// reconfiguration guarded by the version it was decided on: commits and destroys wait while a
// claim stands (see turn-taking.ts), so the power-off can only hit the run it was meant for.

/** The option that claims a power-off with `token` (to join a guarded write of the caller's). */
export function powerOffClaim(token: string): OptionValue {
  return option(Key.poweringOff, token)
}

/**
 * Claims a power-off on the VM as read in `snap`, writing `options` with it; the claim's token, or
 * `undefined` when the VM changed since the read (the caller looks again).
 */
export async function claimPowerOff(
  ctx: VsphereContext,
  snap: VmSnapshot,
  options: readonly OptionValue[] = [],
): Promise<string | undefined> {
  const token = newToken()
  try {
    await writeGuarded(ctx, snap, [...options, powerOffClaim(token)])
    return token
  } catch (e) {
    if (isConflict(e)) return undefined
    throw e
  }
}

/** Powers off the VM a claim with `token` is held on, then takes the claim back. */
export async function powerOffClaimed(ctx: VsphereContext, id: ID, ref: MoRef, token: string): Promise<void> {
  try {
    await powerOff(ctx, id, ref)
    ctx.exits.unwatch(id)
  } finally {
    // Taken back also when the power-off failed: the next read tries again under its own claim.
    await releasePowerOff(ctx, ref, token).catch((e) => ctx.settings.onBackgroundError(e))
  }
}

/** Takes back power-off claim `token`, provided it still stands (others may have cleared it). */
export async function releasePowerOff(ctx: VsphereContext, ref: MoRef, token: string): Promise<void> {
  await releaseClaim(ctx, ref, Key.poweringOff, token)
}

/**
 * Powers off a VM whose run has ended (recorded `exited`, the VM still on), under a claim guarded
 * by the version read; true when it did. Leaves it when anything else stands on the container or
 * it changed since: the next read looks again.
 */
export async function powerOffEndedRun(ctx: VsphereContext, id: ID, snap: VmSnapshot): Promise<boolean> {
  let now: VmSnapshot | undefined = snap
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = now?.record
    if (!now || !r || now.powerState !== 'poweredOn' || r.mainState?.phase !== 'exited') return false
    if (r.pending || r.poweringOff || r.destroying) return false
    const token = await claimPowerOff(ctx, now)
    if (token !== undefined) {
      await collectOutput(ctx, id, now.ref, r)
      await powerOffClaimed(ctx, id, now.ref, token)
      return true
    }
    now = await ctx.directory.readRef(now.ref)
  }
  return false
}
