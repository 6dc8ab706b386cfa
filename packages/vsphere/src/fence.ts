import type { MoRef } from '@portlayer/contracts/vmomi'
import { writeGuarded } from './container-actions.js'
import type { VsphereContext } from './context.js'
import { isConflict } from './errors.js'
import type { VmSnapshot } from './vm-snapshot.js'

// A read that does not show a change whose answer was lost is no proof it will never land: the
// request may still be queued at the server. A guarded reconfiguration can be fenced: one more
// reconfiguration, guarded by the version just read and changing nothing, moves the version, so
// the lost one (guarded by an older version) can no longer land. Changes vSphere does not version
// (power, guest operations, creating and destroying VMs) cannot be fenced: for those "not seen"
// means the outcome is unknown.

/** Thrown by a step's `landed` when a read cannot tell (the outcome is then unknown). */
export class Undecided extends Error {
  constructor(what: string) {
    super(`cannot tell whether ${what} landed: it may still be queued at vSphere`)
    this.name = 'Undecided'
  }
}

/**
 * Whether a guarded reconfiguration of `ref` whose answer was lost landed, told by `isMine`; when
 * it did not, it is fenced so it never will.
 */
export async function landedOrFenced(
  ctx: VsphereContext,
  ref: MoRef,
  isMine: (snap: VmSnapshot) => boolean,
): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = await ctx.directory.readRef(ref)
    // A read that shows no VM, or no container in it, says nothing about the change (a VM that is
    // really gone leaves the outcome unknown below): read again.
    if (!now?.record) continue
    if (isMine(now)) return true
    // Without a changeVersion nothing can be fenced; the commit tokens already told.
    if (now.version === '') return false
    try {
      await writeGuarded(ctx, now, [])
      return false
    } catch (e) {
      // Something landed since the read, maybe the lost change itself: look again.
      if (!isConflict(e)) throw e
    }
  }
  throw new Undecided('a reconfiguration')
}
