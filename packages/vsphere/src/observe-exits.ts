import { type ID, RunState } from '@portlayer/contracts'
import type { GuestProcessInfo, MoRef } from '@portlayer/contracts/vmomi'
import { newToken } from './commit-tokens.js'
import { listProcessesQuietly, writeGuarded } from './container-actions.js'
import { statusOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { isCode, isConflict, wrap } from './errors.js'
import { applyOptions, type ContainerRecord } from './extra-config.js'
import { collectOutput } from './output-collection.js'
import { powerOffClaim, powerOffClaimed, powerOffEndedRun } from './power-off-claim.js'
import { endOfRun } from './run-records.js'
import { retrieve } from './vim-calls.js'
import {
  type PowerState,
  snapshotOf,
  VM_PROPERTIES,
  type VmSnapshot,
  visibleOf,
  withEntries,
} from './vm-snapshot.js'

/** What a read learnt from the guest. */
export interface Observed {
  readonly snap: VmSnapshot
  /** The guest's process list, when it was asked. */
  readonly procs?: readonly GuestProcessInfo[]
  /** True when the observation recorded something or powered the VM off. */
  readonly changed: boolean
}

/**
 * The lazy exit check every read of a running container makes: asks the guest about its
 * processes, records the ends it reports (guarded by the version read, so an observer never
 * overwrites a newer change), and powers the VM off when the main process has exited. The
 * power-off is housekeeping: the recorded end already reads as stopped, so a power-off that fails
 * is reported to `onBackgroundError` and left to the next read instead of failing this one.
 */
export async function observe(ctx: VsphereContext, id: ID, snap: VmSnapshot, attempt = 0): Promise<Observed> {
  const record = snap.record as ContainerRecord
  const state = record.mainState
  if (snap.powerState !== 'poweredOn' || !state) return { snap, changed: false }
  // A start not yet taken effect, or a power-off under way, is its owner's to finish.
  if (record.pending || record.poweringOff) return { snap, changed: false }
  if (state.phase === 'exited') {
    // The end is recorded but the power-off did not happen (or was interrupted): finish it.
    const off = await powerOffEndedRun(ctx, id, snap).catch((e) => {
      ctx.settings.onBackgroundError(e)
      return false
    })
    return { snap: off ? { ...snap, powerState: 'poweredOff' } : snap, changed: off }
  }
  // `stopping` too: a stop that was interrupted (its client gone, its record and power-off failed)
  // is finished here; a stop still under way copes with an observer finishing it first.
  if (state.phase !== 'started' && state.phase !== 'stopping') return { snap, changed: false }
  const procs = await listProcessesQuietly(ctx, snap.ref, id)
  if (!procs) return { snap, changed: false }
  const ending = endOfRun(record, procs, new Date(), false, ctx.settings.maxExitedExecs)
  if (ending.options.length === 0) {
    ctx.exits.watch(id)
    return { snap, procs, changed: false }
  }
  // The power-off of an ended run is claimed in the same guarded write that records the end, so
  // it cannot hit a start another client makes after this read.
  const claim = ending.ended ? newToken() : undefined
  try {
    await writeGuarded(ctx, snap, claim ? [...ending.options, powerOffClaim(claim)] : ending.options)
  } catch (e) {
    if (isConflict(e)) {
      // Someone changed the container meanwhile (maybe recorded this very exit): look again.
      if (attempt < 2) return observe(ctx, id, await ctx.directory.read(id), attempt + 1)
      return { snap, procs, changed: false }
    }
    ctx.settings.onBackgroundError(wrap(e, `recording process exits of container ${id}`, id))
    return { snap, procs, changed: false }
  }
  ctx.directory.forgetDeleted(ending.options)
  const ended = withEntries(snap, applyOptions(snap.entries, ending.options))
  if (claim) await collectOutput(ctx, id, snap.ref, ended.record as ContainerRecord)
  const powerState = claim ? await finishRun(ctx, id, snap.ref, claim) : snap.powerState
  const after = { ...ended, powerState }
  return { snap: after, procs, changed: true }
}

/**
 * Container `id` as readers see it, read once with its exits recorded: a staged start not yet
 * taken effect is hidden, and the guest's processes come along only when they belong to what is
 * shown.
 */
export async function observeShown(
  ctx: VsphereContext,
  id: ID,
): Promise<Observed & { record: ContainerRecord }> {
  const observed = await observe(ctx, id, await ctx.directory.read(id))
  const snap = visibleOf(observed.snap)
  return {
    snap,
    record: snap.record as ContainerRecord,
    ...(snap === observed.snap && observed.procs ? { procs: observed.procs } : {}),
    changed: observed.changed,
  }
}

/** Powers off the VM of a run whose end is recorded, under claim `claim`; the power state it is left in. */
async function finishRun(ctx: VsphereContext, id: ID, ref: MoRef, claim: string): Promise<PowerState> {
  try {
    await powerOffClaimed(ctx, id, ref, claim)
  } catch (e) {
    ctx.settings.onBackgroundError(e)
    return 'poweredOn'
  }
  return 'poweredOff'
}

/**
 * One round of the background exit poll (the {@link ExitWatcher} runs one at a time): one
 * property read for all watched containers, then each is observed on its own (a container whose
 * guest fails is reported and does not hold up the rest).
 */
export async function pollRound(ctx: VsphereContext): Promise<void> {
  const { directory, exits } = ctx
  const ids = exits.watchedIds().filter((id) => directory.refOf(id) !== undefined)
  for (const id of exits.watchedIds()) if (directory.refOf(id) === undefined) exits.unwatch(id)
  if (ids.length === 0) return
  // While the event stream watches, its view of the VMs is the round's read (no call of its own).
  const refs = ids.map((id) => directory.refOf(id) as MoRef)
  const fromStream = refs.map((ref) => ctx.events.snapshot(ref))
  const snaps = fromStream.every((snap) => snap !== undefined)
    ? (fromStream as VmSnapshot[])
    : (await retrieve(ctx.gateway, 'VirtualMachine', refs, VM_PROPERTIES, true)).map(snapshotOf)
  const seen = new Set<ID>()
  for (const read of snaps) {
    if (exits.stopped) return
    let snap = read
    const id = snap.record?.id
    if (!id || !exits.isWatched(id)) continue
    seen.add(id)
    try {
      // The round's read ages while earlier containers are observed. Powering off a finished
      // run is the one step no version guards, so it acts only on a fresh read: a run started
      // since must not be powered off. (Recording an exit is guarded by the version read.)
      if (snap.powerState === 'poweredOn' && snap.record?.mainState?.phase === 'exited') {
        snap = await directory.read(id)
      }
      const observed = await observe(ctx, id, snap)
      const record = observed.snap.record as ContainerRecord
      if (statusOf(record, observed.snap.powerState, observed.procs) !== RunState.Running) {
        exits.unwatch(id)
      }
    } catch (e) {
      // A container destroyed since the round's read is simply no longer watched.
      if (isCode(e, 'NOT_FOUND')) exits.unwatch(id)
      else ctx.settings.onBackgroundError(e)
    }
  }
  for (const id of ids) if (!seen.has(id)) exits.unwatch(id)
}
