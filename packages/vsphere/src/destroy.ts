import { type ID, RunState } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { pause, reconciling } from './call-scope.js'
import { newToken } from './commit-tokens.js'
import { powerOff, writeGuarded } from './container-actions.js'
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
import { runTask } from './vim-calls.js'
import type { VmSnapshot } from './vm-snapshot.js'

// A destroy first claims the container with a reconfiguration guarded by the version it read,
// writing its own token (`guestinfo.portlayer.destroying`). Of two destroys only one claims it;
// the other waits until the container is gone (then `NOT_FOUND`) or the claim is given up. So
// when the answer of `Destroy_Task` is lost and the VM is gone, it was this destroy's doing.

const CLAIM_ATTEMPTS = 8

export async function destroyContainer(ctx: VsphereContext, id: ID): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { snap, procs } = await observe(ctx, id, await ctx.directory.read(id))
    const record = snap.record as ContainerRecord
    if (statusOf(record, snap.powerState, procs) === RunState.Running) {
      throw invalidState(`container ${id} is running: stop it before destroying it`, id)
    }
    if (record.destroying !== null && attempt < CLAIM_ATTEMPTS) {
      // Another destroy is under way: it decides (gone → this one is NOT_FOUND).
      await afterDestroyUnderWay(ctx, id, snap)
      continue
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
  await ctx.extensions.release(id, record.extensions)
}

/** Takes the claim back after a destroy that did not happen (a failure tells the caller unknown). */
async function giveUp(ctx: VsphereContext, _id: ID, ref: MoRef, token: string, failed: Error): Promise<void> {
  try {
    await reconciling(ctx.settings.reconcileTimeoutMs, async () => {
      const now = await ctx.directory.readRef(ref)
      if (!now || now.record?.destroying !== token) return
      await writeGuarded(ctx, now, [option(Key.destroying, '')])
    })
  } catch {
    throw withOutcome(failed, 'unknown')
  }
}

/**
 * Waits until no destroy claims the container: `NOT_FOUND` when it went; the container as it is
 * once no claim is left. A claim that stays longer than a destroy may take (its client died) is
 * cleared with a guarded reconfiguration, so a destroy still under way cannot go on after it.
 */
export async function afterDestroyUnderWay(
  ctx: VsphereContext,
  id: ID,
  first: VmSnapshot,
): Promise<VmSnapshot> {
  let snap: VmSnapshot | undefined = first
  let claim = first.record?.destroying ?? null
  let until = Date.now() + ctx.settings.reconcileTimeoutMs
  let delay = 20
  while (snap?.record?.id === id && snap.record.destroying) {
    if (snap.record.destroying !== claim) {
      // Another destroy took over: it gets its own time.
      claim = snap.record.destroying
      until = Date.now() + ctx.settings.reconcileTimeoutMs
    }
    if (Date.now() >= until) {
      await clearStaleClaim(ctx, snap)
      until = Date.now() + ctx.settings.reconcileTimeoutMs
    } else {
      await pause(delay)
      delay = Math.min(delay * 2, 250)
    }
    snap = await ctx.directory.readRef(first.ref)
  }
  if (!snap || snap.record?.id !== id) {
    ctx.directory.forget(id)
    throw notFound(id)
  }
  return snap
}

async function clearStaleClaim(ctx: VsphereContext, snap: VmSnapshot): Promise<void> {
  try {
    await writeGuarded(ctx, snap, [option(Key.destroying, '')])
  } catch (e) {
    // The claim moved meanwhile (its destroy is alive after all): look again.
    if (!isConflict(e)) throw e
  }
}
