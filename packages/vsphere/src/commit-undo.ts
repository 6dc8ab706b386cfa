import type { ID } from '@portlayer/contracts'
import type { MoRef, OptionValue, VirtualMachineConfigSpec } from '@portlayer/contracts/vmomi'
import type { VsphereContext } from './context.js'
import { isConflict, isOutcomeUnknown, wrap } from './errors.js'
import { Key, option } from './extra-config.js'
import { runTask } from './vim-calls.js'
import { type VmSnapshot, valueAt } from './vm-snapshot.js'

// A commit is one guarded VM reconfiguration followed, for a start, a stop or files into a running
// guest, by steps that can fail after it landed. Then the configuration it wrote is put back with
// a second reconfiguration, guarded by the version the first one produced: if anyone changed the
// container since, their change was made on top of this commit's and nothing is put back.

/** The configuration a compensating reconfiguration writes back. */
export interface Undo {
  /** The previous value of every key the commit wrote (`''` deletes a key it added). */
  readonly options: readonly OptionValue[]
  /** The VM's previous limits, when the commit changed them. */
  readonly memoryMb?: number
  readonly cpuMhz?: number
}

/**
 * What puts `keys` (and, with `limits`, the VM's memory and CPU limit) back to their values in
 * `before`. `overrides` give keys a value other than the one read, e.g. a run's end that the same
 * commit recorded and that must stay recorded.
 */
export function undoOf(
  before: VmSnapshot,
  keys: Iterable<string>,
  limits: boolean,
  overrides: ReadonlyMap<string, string> = new Map(),
): Undo {
  const seen = new Set<string>()
  // The commit tokens go back too: a commit put back leaves the version it found.
  const options: OptionValue[] = [option(Key.rev, valueAt(before, Key.rev))]
  seen.add(Key.rev)
  for (const key of keys) {
    if (seen.has(key)) continue
    seen.add(key)
    options.push(option(key, overrides.get(key) ?? valueAt(before, key)))
  }
  if (!limits) return { options }
  return {
    options,
    ...(before.memoryMb === undefined ? {} : { memoryMb: before.memoryMb }),
    ...(before.cpuLimitMhz === undefined ? {} : { cpuMhz: before.cpuLimitMhz }),
  }
}

const ATTEMPTS = 3

/**
 * What became of a commit's configuration: put back; superseded (another commit built on it, so it
 * landed for good); kept (putting it back failed); or gone with its VM (destroyed meanwhile).
 */
export type RestoreOutcome = 'restored' | 'kept' | 'superseded' | 'gone'

/**
 * Writes `undo` back, provided the last commit on the VM is still the one with token `token`.
 * Never throws: a failure is told to `onBackgroundError` and leaves the commit's configuration.
 */
export async function restore(
  ctx: VsphereContext,
  id: ID,
  ref: MoRef,
  token: string,
  undo: Undo,
): Promise<RestoreOutcome> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let sent = false
    try {
      const { gateway } = ctx
      const now = await ctx.directory.readRef(ref)
      if (!now || now.record?.id !== id) return 'gone'
      // Another commit built on this one: it is part of the container's history now.
      if (!now.record.revs.includes(token) || now.record.rev !== token) return 'superseded'
      if (undo.options.length === 0 && undo.memoryMb === undefined && undo.cpuMhz === undefined)
        return 'restored'
      const spec: VirtualMachineConfigSpec = { extraConfig: [...undo.options] }
      if (now.version !== '') spec.changeVersion = now.version
      if (undo.memoryMb !== undefined) spec.memoryMB = undo.memoryMb
      if (undo.cpuMhz !== undefined) spec.cpuAllocation = { limit: undo.cpuMhz }
      sent = true
      ctx.directory.changing(ref)
      await runTask(gateway, 'ReconfigVM_Task', { _this: ref, spec })
      return 'restored'
    } catch (e) {
      // A recorded fact (an exec, an exit) moved the version without a commit: look again.
      if (isConflict(e)) continue
      if (sent && isOutcomeUnknown(e)) {
        // The commit's token is gone exactly when the put-back landed (nothing else removes it).
        const after = await ctx.directory.readRef(ref).catch(() => undefined)
        if (after?.record && !after.record.revs.includes(token)) return 'restored'
      }
      ctx.settings.onBackgroundError(wrap(e, `putting back the configuration of container ${id}`, id))
      return 'kept'
    }
  }
  return 'kept'
}
