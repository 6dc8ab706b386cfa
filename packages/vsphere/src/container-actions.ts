import type { ID } from '@portlayer/contracts'
import type {
  GuestProcessInfo,
  MoRef,
  OptionValue,
  VirtualMachineConfigSpec,
} from '@portlayer/contracts/vmomi'
import type { VsphereContext } from './context.js'
import { faultOf, isConflict, isOutcomeUnknown, wrap } from './errors.js'
import { option } from './extra-config.js'
import { Guest } from './guest.js'
import { runTask, runTaskThenRead } from './vim-calls.js'
import { snapshotOf, VM_PROPERTIES, type VmSnapshot } from './vm-snapshot.js'

// The small actions on one container that stops, starts, destroys and reads share.

export async function powerOff(ctx: VsphereContext, id: ID, ref: MoRef): Promise<void> {
  try {
    ctx.directory.changing(ref)
    await runTask(ctx.gateway, 'PowerOffVM_Task', { _this: ref })
  } catch (e) {
    if (faultOf(e) === 'InvalidPowerState') return
    throw wrap(e, `powering off the VM of container ${id}`, id)
  }
}

/** Records facts (process starts and ends) that do not depend on the version; retried once when the answer is lost. */
export async function recordFacts(ctx: VsphereContext, ref: MoRef, options: OptionValue[]): Promise<void> {
  const spec = { extraConfig: options }
  ctx.directory.changing(ref)
  try {
    await runTask(ctx.gateway, 'ReconfigVM_Task', { _this: ref, spec })
  } catch (e) {
    if (!isOutcomeUnknown(e)) throw e
    await runTask(ctx.gateway, 'ReconfigVM_Task', { _this: ref, spec })
  }
  ctx.directory.forgetDeleted(options)
}

/** The guest's processes, or `undefined` when the guest cannot answer now. */
export async function listProcessesQuietly(
  ctx: VsphereContext,
  ref: MoRef,
  id: ID,
): Promise<readonly GuestProcessInfo[] | undefined> {
  try {
    return await ctx.guest.listProcesses(ref)
  } catch (e) {
    if (Guest.notReady(e)) return undefined
    throw wrap(e, `listing the processes of container ${id}`, id)
  }
}

/**
 * Writes extraConfig `options` onto the VM of `snap`, guarded by the `changeVersion` it was read
 * at: vSphere refuses it (`ConcurrentAccess`) when anything changed the VM since.
 */
export async function writeGuarded(
  ctx: VsphereContext,
  snap: VmSnapshot,
  options: OptionValue[],
  { readBack = false }: { readBack?: boolean } = {},
): Promise<void> {
  const spec: VirtualMachineConfigSpec = { extraConfig: options }
  if (snap.version !== '') spec.changeVersion = snap.version
  ctx.directory.changing(snap.ref)
  if (!readBack) {
    await runTask(ctx.gateway, 'ReconfigVM_Task', { _this: snap.ref, spec })
    return
  }
  // The VM as this write left it, read in the call that learns the write's end: the base of the
  // next change this process makes (see ContainerDirectory.takeRecent).
  const since = ctx.directory.changesTo(snap.ref)
  const content = await runTaskThenRead(
    ctx.gateway,
    'ReconfigVM_Task',
    { _this: snap.ref, spec },
    { type: 'VirtualMachine', obj: snap.ref, paths: VM_PROPERTIES },
  )
  if (content) ctx.directory.noteRead(snapshotOf(content), since)
}

/**
 * Clears claim `key` if it still holds `token` (a claim this process wrote), guarded by a fresh
 * read, so a claim that was taken over since is left alone; reads again (up to `attempts` times)
 * when something else moved the version meanwhile.
 * @returns false when the version kept moving and the claim still stands
 */
export async function releaseClaim(
  ctx: VsphereContext,
  ref: MoRef,
  key: string,
  token: string,
  attempts = 5,
): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const now = await ctx.directory.readRef(ref)
    if (now === undefined || now.entries.get(key) !== token) return true
    try {
      await writeGuarded(ctx, now, [option(key, '')])
      return true
    } catch (e) {
      if (!isConflict(e)) throw e
    }
  }
  return false
}
