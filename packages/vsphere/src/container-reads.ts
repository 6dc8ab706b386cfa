import { type ContainerConfig, type ContainerState, type ID, RunState } from '@portlayer/contracts'
import { configOf, stateOf, statusOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { invalidState } from './errors.js'
import type { ContainerRecord } from './extra-config.js'
import { guestPath } from './guest.js'
import { observe, observeShown } from './observe-exits.js'
import { versionOf, visibleOf } from './vm-snapshot.js'

// The operations that read containers. Reads of running containers also record the exits they
// see (observe-exits.ts): those are facts, not commits, so they never move a handle's version.

/**
 * The version a handle for `id` is made at: one read, its exits recorded (so the commit of the
 * handle plans on a container whose ended run is known: files go to a running guest or wait).
 */
export async function currentVersion(ctx: VsphereContext, id: ID): Promise<string> {
  const snap = await ctx.directory.read(id)
  await observe(ctx, id, snap)
  return versionOf(snap)
}

/** The IDs of the containers in the folder (in `state` when given); running ones are watched. */
export async function listIds(ctx: VsphereContext, state: RunState | undefined): Promise<ID[]> {
  const ids: ID[] = []
  for (const read of await ctx.directory.list()) {
    const snap = visibleOf(read)
    const record = snap.record as ContainerRecord
    const status = statusOf(record, snap.powerState)
    if (status === RunState.Running) ctx.exits.watch(record.id)
    if (state === undefined || status === state) ids.push(record.id)
  }
  return ids
}

export async function configFor(ctx: VsphereContext, id: ID): Promise<ContainerConfig> {
  const snap = visibleOf(await ctx.directory.read(id))
  return configOf(snap, snap.record as ContainerRecord, ctx.settings.defaultLimits)
}

export async function stateFor(ctx: VsphereContext, id: ID): Promise<ContainerState> {
  const { snap, record, procs } = await observeShown(ctx, id)
  return stateOf(record, snap.powerState, procs)
}

/** The bytes of file `dir`/`name` in the guest of running container `id`. */
export async function copyOut(ctx: VsphereContext, id: ID, dir: string, name: string): Promise<Uint8Array> {
  // As for exec: a main process that ended unnoticed left the container stopped.
  const { snap, record, procs } = await observeShown(ctx, id)
  if (statusOf(record, snap.powerState, procs) !== RunState.Running) {
    throw invalidState(`container ${id} is not running: files are copied out of running containers`, id)
  }
  return ctx.guest.copyOut(snap.ref, guestPath(dir, name), id)
}

/** What extension `namespace` applied to container `id`, if anything. */
export async function extensionStateOf(ctx: VsphereContext, id: ID, namespace: string): Promise<unknown> {
  const snap = visibleOf(await ctx.directory.read(id))
  return (snap.record as ContainerRecord).extensions.get(namespace)
}
