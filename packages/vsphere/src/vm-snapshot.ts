import type { MoRef, ObjectContent, OptionValue } from '@portlayer/contracts/vmomi'
import {
  applyOptions,
  type ContainerRecord,
  decodeRecord,
  KEY_PREFIX,
  Key,
  portlayerEntries,
} from './extra-config.js'

/** What one read of a container's VM fetches: everything commit and the queries need, in one call. */
export const VM_PROPERTIES: readonly string[] = Object.freeze([
  'config.changeVersion',
  'config.extraConfig',
  'config.hardware.memoryMB',
  'config.cpuAllocation.limit',
  'runtime.powerState',
])

/** What a listing fetches per VM: just enough to know the container and its run state. */
export const LIST_PROPERTIES: readonly string[] = Object.freeze(['config.extraConfig', 'runtime.powerState'])

export type PowerState = 'poweredOn' | 'poweredOff' | 'suspended'

/** One read of a VM. */
export interface VmSnapshot {
  readonly ref: MoRef
  /** `config.changeVersion`; empty when the server does not keep one. */
  readonly version: string
  readonly powerState: PowerState
  readonly memoryMb: number | undefined
  readonly cpuLimitMhz: number | undefined
  /** The portlayer extraConfig entries (last entry per key). */
  readonly entries: ReadonlyMap<string, string>
  /** The whole extraConfig as read (extensions' own keys too), for putting values back. */
  readonly extraConfig: readonly OptionValue[]
  /** `null` when the VM is not a portlayer container. */
  readonly record: ContainerRecord | null
}

function asPowerState(value: unknown): PowerState {
  return value === 'poweredOn' || value === 'suspended' ? value : 'poweredOff'
}

/** The snapshot of a VM from its property-collector content. */
export function snapshotOf(content: ObjectContent): VmSnapshot {
  const props = new Map<string, unknown>()
  for (const p of content.propSet ?? []) props.set(p.name, p.val)
  const raw = props.get('config.extraConfig')
  const extraConfig = Array.isArray(raw) ? (raw as OptionValue[]) : []
  const entries = portlayerEntries(extraConfig)
  const version = props.get('config.changeVersion')
  const memory = props.get('config.hardware.memoryMB')
  const cpu = props.get('config.cpuAllocation.limit')
  return {
    ref: content.obj,
    version: typeof version === 'string' ? version : '',
    powerState: asPowerState(props.get('runtime.powerState')),
    memoryMb: typeof memory === 'number' ? memory : undefined,
    cpuLimitMhz: typeof cpu === 'number' ? cpu : undefined,
    entries,
    extraConfig,
    record: decodeRecord(entries),
  }
}

/** The value extraConfig key `key` had in `snapshot`; `''` (which deletes) when it had none. */
export function valueAt(snapshot: VmSnapshot, key: string): string {
  if (key.startsWith(KEY_PREFIX)) return snapshot.entries.get(key) ?? ''
  let value = ''
  for (const o of snapshot.extraConfig) if (o?.key === key) value = typeof o.value === 'string' ? o.value : ''
  return value
}

/** The same VM with `entries` replaced (after a change this process applied itself). */
export function withEntries(snapshot: VmSnapshot, entries: ReadonlyMap<string, string>): VmSnapshot {
  return { ...snapshot, entries, record: decodeRecord(entries) }
}

/**
 * The version a handle carries: the last commit's token. Only commits move it (as on every
 * backend); facts the backend records (a process exec'd, an exit seen) move `config.changeVersion`
 * but not the version, so they never make a handle stale. Commits are still exclusive: each
 * reconfigures guarded by the `changeVersion` it read and, when only facts moved it, reads again.
 */
export function versionOf(snap: VmSnapshot): string {
  return visibleOf(snap).record?.rev ?? 'none'
}

/**
 * The container as readers see it: a start that has not taken effect yet (see staged-start.ts)
 * is shown as the container was before it (its keys' previous values, the power state and limits
 * then). The record keeps `pending`, so a read knows not to act on the VM meanwhile.
 */
export function visibleOf(snap: VmSnapshot): VmSnapshot {
  const pending = snap.record?.pending
  if (!pending) return snap
  const entries = applyOptions(snap.entries, [...pending.undo, { key: Key.pending, value: '' }])
  const record = decodeRecord(entries)
  return {
    ...snap,
    entries,
    powerState: pending.powerState,
    memoryMb: pending.memoryMb ?? snap.memoryMb,
    cpuLimitMhz: pending.cpuMhz ?? snap.cpuLimitMhz,
    record: record && { ...record, pending },
  }
}
