import {
  ConcurrentModificationError,
  type Handle,
  type ID,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  PortLayerError,
  RunState,
} from '@portlayer/contracts'
import type { MoRef, OptionValue, VirtualMachineConfigSpec } from '@portlayer/contracts/vmomi'
import { type PlanStep, runPlan, settleExtensions } from './commit-plan.js'
import { afterStart, startOrSuperseded } from './commit-start.js'
import { appendRev, newToken } from './commit-tokens.js'
import { powerOff, writeGuarded } from './container-actions.js'
import { resolveLimits } from './container-status.js'
import type { VsphereContext } from './context.js'
import { stagingStep } from './datastore-staging.js'
import { BACKEND, faultOf, invalidState, isCode, isConflict, withOutcome } from './errors.js'
import { PreparedExtensions } from './extensions.js'
import { encodeLimits, encodeMain, encodeMainState, Key, option } from './extra-config.js'
import { Undecided } from './fence.js'
import type { Inventory } from './inventory.js'
import { lastCopyPerPath } from './pending-file-rules.js'
import { startingState } from './run-records.js'
import { vmNameFor } from './settings.js'
import type { StartProgress } from './start-steps.js'
import { runTask } from './vim-calls.js'

// A commit is checked completely before anything changes (shape, files, entry point, extensions'
// prepare), then carried out as a plan (see commit-plan.ts): the guarded reconfiguration that
// makes it exclusive comes first, every unversioned side effect (power, guest) after it.
// This file: commits of create-handles (handles of existing containers: commit-existing.ts).
/**
 * Commits a create-handle. Commits of one create-handle in this process run one after another, so
 * the second finds the first's VM; across processes, vSphere's refusal of a second VM of the same
 * name in the folder (`DuplicateName`) does the same.
 */
export function commitCreate(ctx: VsphereContext, handle: Handle): Promise<ID> {
  return ctx.creates.oneAtATime(handle.containerId, () => createOnce(ctx, handle))
}

async function createOnce(ctx: VsphereContext, handle: Handle): Promise<ID> {
  const { factory, inventory } = ctx
  const id = handle.containerId
  const p = handle.pending
  const vmName = vmNameFor(ctx.settings, id)
  if (typeof p.name !== 'string') {
    throw new InvalidArgumentError(`container ${id}: a create-handle needs a name`, {
      backend: BACKEND,
      target: id,
    })
  }
  const main = p.mainProcess ? { processId: factory.newId(), ...p.mainProcess } : null
  const wantStart = p.runState === RunState.Running
  if (wantStart && !main) throw invalidState(`container ${id} cannot run: it has no entry point`, id)
  // A second VM for this container is refused by vSphere itself (`DuplicateName`: the VM name
  // comes from the container ID), also for a retry after a lost answer; no lookup first. An
  // earlier commit this process knows of is refused without asking.
  if (ctx.directory.refOf(id) !== undefined) throw alreadyCreated(id)

  const prepared = await PreparedExtensions.prepare(ctx.extensions, handle, null, RunState.Created)
  const token = newToken()
  const files = lastCopyPerPath(p.files)
  const options: OptionValue[] = [
    option(Key.id, id),
    option(Key.name, p.name),
    option(Key.created, new Date().toISOString()),
    option(Key.rev, appendRev([], token)),
  ]
  if (p.limits) options.push(option(Key.limits, encodeLimits(p.limits)))
  if (main) options.push(option(Key.main, encodeMain(main)))
  if (wantStart) options.push(option(Key.mainState, encodeMainState(startingState(null, token))))

  let ref: MoRef | undefined
  const progress: StartProgress = { superseded: false }
  const steps: PlanStep[] = []
  // Files of a container that starts in this commit go straight into the guest; otherwise they
  // wait in the record (or on the datastore) for the first start.
  if (!wantStart && files.length > 0) {
    steps.push(stagingStep(ctx, id, [], files, options))
  }
  steps.push({
    name: `creating the VM of container ${id}`,
    run: async () => {
      const contribution = prepared.contribution()
      const limits = resolveLimits(p.limits, ctx.settings.defaultLimits)
      const config: VirtualMachineConfigSpec = {
        memoryMB: limits.memoryMb,
        cpuAllocation: { limit: limits.cpuMhz },
        extraConfig: [...options, ...contribution.options],
        ...(contribution.deviceChange.length > 0 ? { deviceChange: contribution.deviceChange } : {}),
      }
      ref = await createVm(ctx, id, vmName, config, inventory)
      ctx.directory.remember(id, ref)
      return undefined
    },
    landed: async () => {
      ref = await createdByThisCommit(ctx, id, token)
      if (ref) ctx.directory.remember(id, ref)
      return ref !== undefined
    },
    undo: async () => (ref ? destroyQuietly(ctx, id, ref, token) : true),
  })
  if (main && wantStart) {
    steps.push({
      name: `starting container ${id}`,
      run: async () => {
        if (!ref)
          throw new NotFoundError(`the VM of container ${id} is gone`, { backend: BACKEND, target: id })
        const input = {
          id,
          ref,
          main,
          run: token,
          recordedFiles: [],
          handleFiles: files,
          powerOffFirst: false,
          staged: false,
        }
        await startOrSuperseded(ctx, input, progress)
        return undefined
      },
    })
  }
  await settleExtensions(prepared, () => runPlan(steps, ctx.settings.reconcileTimeoutMs, id))
  if (ref) await afterStart(ctx, id, ref, progress)
  return id
}

/** Creates (or clones) the VM. */
async function createVm(
  ctx: VsphereContext,
  id: ID,
  vmName: string,
  config: VirtualMachineConfigSpec,
  inventory: Inventory,
): Promise<MoRef> {
  const { gateway } = ctx
  let info: Awaited<ReturnType<typeof runTask>>
  try {
    info = inventory.template
      ? await runTask(gateway, 'CloneVM_Task', {
          _this: inventory.template,
          folder: inventory.folder,
          name: vmName,
          spec: {
            location: { pool: inventory.pool, datastore: inventory.datastore },
            template: false,
            powerOn: false,
            config,
          },
        })
      : await runTask(gateway, 'CreateVM_Task', {
          _this: inventory.folder,
          config: {
            ...config,
            name: vmName,
            guestId: ctx.settings.guestId,
            numCPUs: 1,
            files: { vmPathName: `[${ctx.settings.datastore}]` },
          },
          pool: inventory.pool,
        })
  } catch (e) {
    if (faultOf(e) === 'DuplicateName') throw await duplicateName(ctx, id, e)
    throw e
  }
  const ref = isMoRef(info.result) ? info.result : await ctx.directory.lookup(id, true)
  if (!ref)
    throw new NotFoundError(`the VM of container ${id} was created but cannot be found`, { backend: BACKEND })
  return ref
}

/**
 * vSphere refused a second VM of this name. It is this container's (committed by another client
 * or an earlier commit of this handle): `CONFLICT`; a VM of that name that is not this container
 * is in the way: `INVALID_STATE`.
 */
async function duplicateName(ctx: VsphereContext, id: ID, cause: unknown): Promise<PortLayerError> {
  const ref = await ctx.directory.lookup(id, true).catch(() => undefined)
  const snap = ref ? await ctx.directory.readRef(ref).catch(() => undefined) : undefined
  if (!ref || snap?.record?.id === id) return alreadyCreated(id, cause)
  return new InvalidStateError(
    `container ${id}: the folder holds a VM of its name that is not this container`,
    { backend: BACKEND, target: id, detail: { fault: 'DuplicateName' }, cause },
  )
}

/** The VM this commit created, after its answer was lost; `undefined` when it made none. */
async function createdByThisCommit(ctx: VsphereContext, id: ID, token: string): Promise<MoRef | undefined> {
  // Not there yet is no proof: the create may still be queued at vSphere.
  const ref = await ctx.directory.lookup(id, true)
  if (!ref) throw new Undecided('a create')
  const snap = await ctx.directory.readRef(ref)
  if (snap?.record?.id !== id) throw new Undecided('a create')
  // Another commit of the same create-handle made it: this one did not land.
  if (!snap.record.revs.includes(token)) throw alreadyCreatedLanded(id)
  return ref
}

/** Destroys a VM this commit created, as the undo of a failed create+start. */
async function destroyQuietly(
  ctx: VsphereContext,
  id: ID,
  ref: MoRef,
  token: string,
): Promise<boolean | 'superseded'> {
  const { gateway } = ctx
  try {
    // Only a container no other commit built on is this commit's to take back; the claim makes
    // commits that read it before wait (see destroy.ts) instead of landing on a VM about to go.
    for (let attempt = 0; ; attempt++) {
      const now = await ctx.directory.readRef(ref)
      if (!now || now.record?.id !== id) break
      if (now.record.rev !== token) return 'superseded'
      try {
        await writeGuarded(ctx, now, [option(Key.destroying, token)])
      } catch (e) {
        if (isConflict(e) && attempt < 5) continue
        throw e
      }
      await powerOff(ctx, id, ref)
      await runTask(gateway, 'Destroy_Task', { _this: ref })
      break
    }
  } catch (e) {
    if (!isCode(e, 'NOT_FOUND', ['ManagedObjectNotFound'])) {
      ctx.settings.onBackgroundError(e)
      return false
    }
  }
  ctx.directory.forget(id)
  return true
}

/** A second commit of a create-handle (its VM exists already). */
function alreadyCreated(id: ID, cause?: unknown): ConcurrentModificationError {
  return new ConcurrentModificationError(
    `container ${id} was already created: a create-handle commits once`,
    {
      backend: BACKEND,
      target: id,
      detail: PortLayerError.isInstance(cause) ? cause.detail : undefined,
      cause,
    },
  )
}

/** Thrown from a lookup that found the create-handle committed by someone else. */
function alreadyCreatedLanded(id: ID): PortLayerError {
  return withOutcome(alreadyCreated(id), 'not-applied')
}

function isMoRef(value: unknown): value is MoRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MoRef).type === 'string' &&
    typeof (value as MoRef).value === 'string'
  )
}
