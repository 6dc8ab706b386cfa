import type { ID } from '@portlayer/contracts'
import type {
  GuestProcessInfo,
  MoRef,
  OptionValue,
  VirtualMachineConfigSpec,
} from '@portlayer/contracts/vmomi'
import type { VsphereContext } from './context.js'
import { faultOf, isOutcomeUnknown, wrap } from './errors.js'
import { Guest } from './guest.js'
import { runTask } from './vim-calls.js'
import type { VmSnapshot } from './vm-snapshot.js'

// The small actions on one container that stops, starts, destroys and reads share.

export async function powerOff(ctx: VsphereContext, id: ID, ref: MoRef): Promise<void> {
  try {
    await runTask(ctx.gateway, 'PowerOffVM_Task', { _this: ref })
  } catch (e) {
    if (faultOf(e) === 'InvalidPowerState') return
    throw wrap(e, `powering off the VM of container ${id}`, id)
  }
}

/** Records facts (process starts and ends) that do not depend on the version; retried once when the answer is lost. */
export async function recordFacts(ctx: VsphereContext, ref: MoRef, options: OptionValue[]): Promise<void> {
  const spec = { extraConfig: options }
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
): Promise<void> {
  const spec: VirtualMachineConfigSpec = { extraConfig: options }
  if (snap.version !== '') spec.changeVersion = snap.version
  await runTask(ctx.gateway, 'ReconfigVM_Task', { _this: snap.ref, spec })
}
