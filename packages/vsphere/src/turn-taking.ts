import type { ID } from '@portlayer/contracts'
import { pause } from './call-scope.js'
import { writeGuarded } from './container-actions.js'
import type { VsphereContext } from './context.js'
import { isConflict, notFound } from './errors.js'
import { Key, option } from './extra-config.js'
import { takeBack } from './staged-start.js'
import type { VmSnapshot } from './vm-snapshot.js'

// Changes vSphere does not version (power, guest operations, destroying) are made under a claim
// recorded on the VM by a guarded reconfiguration: a destroy's `destroying`, a stop's `stopping`
// run record, a staged start's `pending`, a power-off's `poweroff`. A commit or a destroy takes
// its turn only when no claim stands, so it never races the change a claim covers. A claim that
// stands longer than its change can take (its client died) is cleared — a staged start is taken
// back — so the container never stays blocked; each claim gets its own time, counted from when
// this client first saw it.

interface Claim {
  /** Identifies one claim, so that a new claim gets its own time. */
  readonly key: string
  readonly boundMs: number
  /** Clears the claim once it stood too long; `'go-on'` lets the caller go on without clearing. */
  expire(ctx: VsphereContext, id: ID, snap: VmSnapshot): Promise<void | 'go-on'>
}

function claimOf(snap: VmSnapshot, ctx: VsphereContext): Claim | undefined {
  const { settings } = ctx
  const r = snap.record
  if (!r) return undefined
  if (r.destroying) {
    return {
      key: `destroying ${r.destroying}`,
      boundMs: settings.reconcileTimeoutMs,
      expire: clearKey(Key.destroying),
    }
  }
  if (r.pending) {
    const token = r.pending.token
    return {
      key: `pending ${token}`,
      // One this process gave up on is taken back at once.
      boundMs: ctx.abandoned.has(token) ? 0 : settings.guestToolsTimeoutMs + 2 * settings.reconcileTimeoutMs,
      expire: async (c, id, s) => {
        await takeBack(c, id, s.ref, token)
        c.abandoned.delete(token)
      },
    }
  }
  if (r.poweringOff) {
    return {
      key: `poweroff ${r.poweringOff}`,
      boundMs: settings.reconcileTimeoutMs,
      expire: clearKey(Key.poweringOff),
    }
  }
  if (r.mainState?.phase === 'stopping' && snap.powerState === 'poweredOn') {
    // A stop whose client died: the caller goes on (a start powers the VM off first, a stop
    // stops it again), as the stop's record is the container's state already.
    return {
      key: `stopping ${r.mainState.run}`,
      boundMs: settings.stopGracePeriodMs + settings.reconcileTimeoutMs,
      expire: async () => 'go-on',
    }
  }
  return undefined
}

function clearKey(key: string): Claim['expire'] {
  return async (ctx, _id, snap) => {
    try {
      await writeGuarded(ctx, snap, [option(key, '')])
    } catch (e) {
      // The claim moved meanwhile (its owner is alive after all): look again.
      if (!isConflict(e)) throw e
    }
  }
}

/**
 * Waits until no claim stands on container `id` (read as `first`); the container as it then is.
 * `NOT_FOUND` when it went meanwhile.
 */
export async function afterClaimsUnderWay(
  ctx: VsphereContext,
  id: ID,
  first: VmSnapshot,
): Promise<VmSnapshot> {
  let snap: VmSnapshot | undefined = first
  const deadlines = new Map<string, number>()
  let delay = 20
  for (;;) {
    if (!snap || snap.record?.id !== id) {
      ctx.directory.forget(id)
      throw notFound(id)
    }
    const claim = claimOf(snap, ctx)
    if (!claim) return snap
    let until = deadlines.get(claim.key)
    if (until === undefined) {
      until = Date.now() + claim.boundMs
      deadlines.set(claim.key, until)
    }
    if (Date.now() >= until) {
      if ((await claim.expire(ctx, id, snap)) === 'go-on') return snap
      deadlines.delete(claim.key)
    } else {
      await pause(delay)
      delay = Math.min(delay * 2, 250)
    }
    snap = await ctx.directory.readRef(snap.ref)
  }
}

/** True when a claim stands on the container as read in `snap`. */
export function hasClaim(ctx: VsphereContext, snap: VmSnapshot): boolean {
  return claimOf(snap, ctx) !== undefined
}
