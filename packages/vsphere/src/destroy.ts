import { type ID, RunState } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { reconciling, scopeSignal } from './call-scope.js'
import { newToken } from './commit-tokens.js'
import { powerOff, releaseClaim, writeGuarded } from './container-actions.js'
import { statusOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { deleteStaged } from './datastore-staging.js'
import {
  faultOf,
  invalidState,
  isCode,
  isConflict,
  isOutcomeUnknown,
  notFound,
  withOutcome,
  wrap,
} from './errors.js'
import { type ContainerRecord, Key, option } from './extra-config.js'
import { observe } from './observe-exits.js'
import { deleteOutput } from './output-collection.js'
import { afterClaimsUnderWay, hasClaim } from './turn-taking.js'
import { runTask } from './vim-calls.js'
import type { VmSnapshot } from './vm-snapshot.js'

// A destroy first claims the container with a reconfiguration guarded by the version it read,
// writing its own token (`guestinfo.portlayer.destroying`). Of two destroys only one claims it;
// the other waits until the container is gone (then `NOT_FOUND`) or the claim is given up. So
// when the answer of `Destroy_Task` is lost and the VM is gone, it was this destroy's doing.

const CLAIM_ATTEMPTS = 8

export async function destroyContainer(ctx: VsphereContext, id: ID): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    // Right after this process read or changed the container (a stop), that read is the base of
    // the claim: guarded by its version, a claim on a container changed since is refused and
    // the destroy reads again.
    const recent = attempt === 0 ? ctx.directory.takeRecent(id) : undefined
    const read = recent ?? (await ctx.directory.read(id))
    if (hasClaim(ctx, read) && attempt < CLAIM_ATTEMPTS) {
      // Another destroy, a start, a stop or a power-off is under way: it goes first (a destroy
      // that takes the container makes this one NOT_FOUND).
      await afterClaimsUnderWay(ctx, id, read)
      continue
    }
    const { snap, procs } = await observe(ctx, id, read)
    const record = snap.record as ContainerRecord
    if (statusOf(record, snap.powerState, procs) === RunState.Running) {
      // Refused on a fresh read only: the container may have been stopped since that one.
      if (recent !== undefined) continue
      throw invalidState(`container ${id} is running: stop it before destroying it`, id)
    }
    const token = newToken()
    const claimed = await claim(ctx, id, snap, token)
    if (claimed === 'moved') {
      if (attempt < CLAIM_ATTEMPTS) continue
      throw withOutcome(
        wrap(new Error('the container kept changing'), `destroying container ${id}`, id),
        'not-applied',
      )
    }
    // The property collector never tells of a VM made and destroyed between two of its answers:
    // while someone watches events, the destroy lets the watch see the container first.
    await ctx.events.until(snap.ref, (entries) => entries.get(Key.destroying) === token, {
      timeoutMs: 10_000,
      signal: scopeSignal(),
    })
    await destroyClaimed(ctx, id, snap, record, token)
    return
  }
}

/** Writes the claim; `moved` when something changed the VM since `snap` was read. */
async function claim(
  ctx: VsphereContext,
  id: ID,
  snap: VmSnapshot,
  token: string,
): Promise<'claimed' | 'moved'> {
  try {
    await writeGuarded(ctx, snap, [option(Key.destroying, token)])
    return 'claimed'
  } catch (e) {
    if (isConflict(e)) return 'moved'
    if (isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
      ctx.directory.forget(id)
      throw notFound(id)
    }
    const failed = wrap(e, `destroying container ${id}`, id)
    if (!isOutcomeUnknown(e)) throw withOutcome(failed, 'not-applied')
    const now = await reconciling(ctx.settings.reconcileTimeoutMs, () =>
      ctx.directory.readRef(snap.ref),
    ).catch(() => null)
    if (now === null) throw withOutcome(failed, 'unknown')
    if (now === undefined || now.record?.id !== id) {
      ctx.directory.forget(id)
      throw notFound(id)
    }
    if (now.record.destroying === token) return 'claimed'
    // The claim did not land; nothing changed.
    return 'moved'
  }
}

async function destroyClaimed(
  ctx: VsphereContext,
  id: ID,
  snap: VmSnapshot,
  record: ContainerRecord,
  token: string,
): Promise<void> {
  const { gateway } = ctx
  try {
    if (snap.powerState !== 'poweredOff') await powerOff(ctx, id, snap.ref)
    ctx.directory.changing(snap.ref)
    await runTask(gateway, 'Destroy_Task', { _this: snap.ref })
  } catch (e) {
    const failed = wrap(e, `destroying container ${id}`, id)
    if (isOutcomeUnknown(e)) {
      // The answer was lost: this destroy holds the claim, so the VM being gone is its doing.
      const now = await reconciling(ctx.settings.reconcileTimeoutMs, () =>
        ctx.directory.readRef(snap.ref),
      ).catch(() => null)
      if (now === null) throw withOutcome(failed, 'unknown')
      if (now !== undefined && now.record?.id === id) {
        // Still there is no proof: the destroy may still be queued at vSphere.
        await giveUp(ctx, id, snap.ref, token, failed).catch(() => {})
        throw withOutcome(failed, 'unknown')
      }
    } else {
      await giveUp(ctx, id, snap.ref, token, failed)
      if (isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
        ctx.directory.forget(id)
        throw notFound(id)
      }
      if (faultOf(e) === 'InvalidPowerState') throw wrap(e, `container ${id} is running`, id, 'INVALID_STATE')
      throw withOutcome(failed, 'not-applied')
    }
  }
  ctx.directory.forget(id)
  for (const exec of record.execs) ctx.directory.forgetProcess(exec.processId)
  deleteStaged(
    ctx,
    record.files.flatMap((f) => ('path' in f ? [f.path] : [])),
  )
  await deleteOutput(ctx, id, record)
  await ctx.extensions.release(id, record.extensions)
}

/** Takes the claim back after a destroy that did not happen (a failure tells the caller unknown). */
async function giveUp(ctx: VsphereContext, _id: ID, ref: MoRef, token: string, failed: Error): Promise<void> {
  try {
    await reconciling(ctx.settings.reconcileTimeoutMs, async () => {
      if (!(await releaseClaim(ctx, ref, Key.destroying, token, 1))) throw failed
    })
  } catch {
    throw withOutcome(failed, 'unknown')
  }
}
