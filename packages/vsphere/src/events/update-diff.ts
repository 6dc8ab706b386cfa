import { type ContainerEvent, type ID, ProcessStatus } from '@portlayer/contracts'
import type { MoRef, ObjectContent, OptionValue, PropertyChange } from '@portlayer/contracts/vmomi'
import { execProcessState, mainProcessState, UNKNOWN_EXIT_CODE } from '../container-status.js'
import { POWER_OFF_EXIT_CODE } from '../exit-message.js'
import { type ContainerRecord, KEY_PREFIX, type MainStateRecord } from '../extra-config.js'
import { type PowerState, snapshotOf, type VmSnapshot, visibleOf } from '../vm-snapshot.js'

// What the event stream derives from the property collector's updates. Pure, so the rules can be
// tested with plain records: a VM's properties as last seen, the container readers would see in
// them (`visibleOf`: a staged start is invisible until it takes effect), and the events that lead
// from one such view to the next.
//
// Updates may coalesce several changes (vCenter keeps the latest value of a property; a batch may
// cover a stop and the next start), so events are derived from what must have happened between
// two views, not from single transitions: a new run token means the previous run ended.

/** The properties the stream watches on every VM of the folder. */
export const WATCHED_PROPERTIES: readonly string[] = Object.freeze([
  'config.extraConfig',
  'runtime.powerState',
  // Not for events: the background exit poll acts on the hub's view, guarded by this version.
  'config.changeVersion',
])

const EXTRA_CONFIG = 'config.extraConfig'
const POWER_STATE = 'runtime.powerState'
const CHANGE_VERSION = 'config.changeVersion'
/** `config.extraConfig["key"]`: how a server may report one entry when it reports nested changes. */
const KEYED_ENTRY = /^config\.extraConfig\["(.*)"\]$/

/** A VM's watched properties as last seen. */
export interface VmProperties {
  readonly extraConfig: readonly OptionValue[]
  readonly powerState: unknown
  readonly changeVersion?: unknown
}

/** The container in a VM as readers see it; `undefined` when the VM is not a portlayer container. */
export interface ContainerView {
  readonly record: ContainerRecord
  readonly powerState: PowerState
}

export const NO_PROPERTIES: VmProperties = Object.freeze({ extraConfig: [], powerState: undefined })

/** The portlayer entries of an extraConfig list: all the rules read, and all a hub keeps per VM. */
function ours(list: unknown): OptionValue[] {
  if (!Array.isArray(list)) return []
  return (list as OptionValue[]).filter((o) => typeof o?.key === 'string' && o.key.startsWith(KEY_PREFIX))
}

/** `props` after the changes of one object update. */
export function applyChanges(props: VmProperties, changes: readonly PropertyChange[]): VmProperties {
  let { extraConfig, powerState, changeVersion } = props
  for (const change of changes) {
    const removed = change.op === 'remove' || change.op === 'indirectRemove'
    if (change.name === CHANGE_VERSION) {
      changeVersion = removed ? undefined : change.val
    } else if (change.name === EXTRA_CONFIG) {
      extraConfig = removed ? [] : ours(change.val)
    } else if (change.name === POWER_STATE) {
      powerState = removed ? undefined : change.val
    } else if (change.name === 'config') {
      extraConfig = removed ? [] : ours((change.val as { extraConfig?: unknown } | undefined)?.extraConfig)
    } else {
      const keyed = KEYED_ENTRY.exec(change.name)
      if (!keyed?.[1]?.startsWith(KEY_PREFIX)) continue
      const key = keyed[1] as string
      const rest = extraConfig.filter((o) => o?.key !== key)
      const value = (change.val as OptionValue | undefined)?.value
      extraConfig = removed || typeof value !== 'string' ? rest : [...rest, { key, value }]
    }
  }
  return { extraConfig, powerState, changeVersion }
}

/** The container readers would see in a VM with `props` (a staged start not yet taken effect is hidden). */
export function viewOf(props: VmProperties): ContainerView | undefined {
  const content: ObjectContent = {
    obj: { type: 'VirtualMachine', value: '' },
    propSet: [
      { name: EXTRA_CONFIG, val: props.extraConfig },
      { name: POWER_STATE, val: props.powerState },
    ],
  }
  // (The version plays no part in what readers see.)
  const visible = visibleOf(snapshotOf(content))
  return visible.record ? { record: visible.record, powerState: visible.powerState } : undefined
}

type Phase = 'none' | 'active' | 'ended'

/**
 * Where the main process's current run is. A run is over once its end is recorded or its VM is
 * off. `starting` stays active (a start whose client died still reads running, see statusOf), and
 * so does `stopping`: the stop reports the run's end, `exited` and then `stopped` (the order the
 * simulator reports them in), when it records it.
 */
function phaseOf(view: ContainerView): Phase {
  const state = view.record.mainState
  if (!state) return 'none'
  if (state.phase === 'exited') return 'ended'
  if (state.phase === 'started' && view.powerState !== 'poweredOn') return 'ended'
  return 'active'
}

/**
 * The view the rules read. A stop powers the VM off before it records the ends the guest reported
 * (stop.ts), so while `stopping` stands its power-off is not an end by itself: the processes end
 * with the codes the stop records.
 */
function asRead(view: ContainerView): ContainerView {
  if (view.record.mainState?.phase !== 'stopping' || view.powerState === 'poweredOn') return view
  return { ...view, powerState: 'poweredOn' }
}

interface Timed {
  readonly event: ContainerEvent
  readonly finishedAt: number
}

function exitedEvent(id: ID, processId: ID, exitCode: number, at: Date, finishedAt: Date | null): Timed {
  return {
    event: { type: 'exited', containerId: id, at, processId, exitCode },
    finishedAt: finishedAt ? finishedAt.getTime() : Number.POSITIVE_INFINITY,
  }
}

/** Exec'd processes that were running (or unknown) in `before` and have exited in `after`. */
function execExits(before: ContainerView | undefined, after: ContainerView, at: Date): Timed[] {
  const id = after.record.id
  const running = new Map<ID, boolean>()
  if (before) {
    for (const exec of before.record.execs) {
      const state = execProcessState(exec, before.record, before.powerState)
      running.set(exec.processId, state.status !== ProcessStatus.Exited)
    }
  }
  const exits: Timed[] = []
  for (const exec of after.record.execs) {
    const wasRunning = running.get(exec.processId)
    running.delete(exec.processId)
    if (wasRunning === false) continue
    const state = execProcessState(exec, after.record, after.powerState)
    if (state.status === ProcessStatus.Exited)
      exits.push(exitedEvent(id, exec.processId, state.exitCode, at, state.finishedAt))
  }
  // Only exited records are ever deleted: one that ran and is gone ended in between, code unknown.
  for (const [processId, wasRunning] of running) {
    if (wasRunning) exits.push(exitedEvent(id, processId, UNKNOWN_EXIT_CODE, at, null))
  }
  return exits
}

/** The main process's end as `after` reports it, when its run ran a process. */
function mainExit(after: ContainerView, at: Date): Timed[] {
  const main = after.record.main
  if (!main) return []
  const state = mainProcessState(after.record, after.powerState)
  if (state?.status !== ProcessStatus.Exited) return []
  return [exitedEvent(after.record.id, main.processId, state.exitCode, at, state.finishedAt)]
}

const byFinish = (a: Timed, b: Timed): number => a.finishedAt - b.finishedAt

/** True when the run recorded in `b` began after `a` and ran a process (or runs one now). */
function newRunStarted(a: MainStateRecord | null, b: MainStateRecord | null, bPhase: Phase): boolean {
  if (!b || b.run === a?.run) return false
  if (bPhase === 'active') return true
  // Ended already: a start that ran a program records its own start time. A stop that took over a
  // start which never ran (abandonedStart) keeps the previous run's time and is no start at all.
  if (b.phase === 'exited') return b.startedAt !== null && b.startedAt !== a?.startedAt
  return true
}

/** Events between two views of the same container (`before` absent: it was just created). */
function runEvents(
  readBefore: ContainerView | undefined,
  readAfter: ContainerView,
  at: Date,
): ContainerEvent[] {
  const before = readBefore && asRead(readBefore)
  const after = asRead(readAfter)
  const id = after.record.id
  const a = before?.record.mainState ?? null
  const b = after.record.mainState
  const aPhase = before ? phaseOf(before) : 'none'
  const bPhase = phaseOf(after)
  const events: ContainerEvent[] = []
  const stopped = (): void => {
    events.push({ type: 'stopped', containerId: id, at })
  }
  if (a?.run === b?.run) {
    const exits = execExits(before, after, at)
    const ended = aPhase === 'active' && bPhase !== 'active'
    if (ended && (a?.phase === 'started' || a?.phase === 'stopping' || b?.startedAt !== a?.startedAt)) {
      exits.push(...mainExit(after, at))
    }
    events.push(...exits.sort(byFinish).map((t) => t.event))
    if (ended) stopped()
    return events
  }
  // A new run. The run before it, if it was still going, has ended in between; its exec'd
  // processes read as ended in `after` (recorded, or gone with the run).
  const run = b?.run
  if (before && aPhase === 'active') {
    const exits = execExits(
      before,
      withExecsOf(after, (r) => r !== run),
      at,
    )
    if (a && (a.phase === 'started' || a.phase === 'stopping') && before.record.main) {
      // A start keeps the previous run's fields: they carry its recorded end when there was one.
      const code = b && b.pid === a.pid && b.finishedAt !== null ? b.exitCode : UNKNOWN_EXIT_CODE
      const finished = b?.finishedAt ? new Date(b.finishedAt) : null
      exits.push(exitedEvent(id, before.record.main.processId, code, at, finished))
    }
    events.push(...exits.sort(byFinish).map((t) => t.event))
    stopped()
  }
  if (newRunStarted(a, b, bPhase)) {
    events.push({ type: 'started', containerId: id, at })
    const exits = execExits(
      undefined,
      withExecsOf(after, (r) => r === run),
      at,
    )
    if (bPhase === 'ended') exits.push(...mainExit(after, at))
    events.push(...exits.sort(byFinish).map((t) => t.event))
    if (bPhase === 'ended') stopped()
  }
  return events
}

/**
 * The events that lead from `before` to `after`, views of one VM (`undefined`: no container
 * there), in the order they happened: `created`; `started`; `exited` of exec'd and main
 * processes by finish time; `stopped`; `destroyed`.
 */
export function eventsBetween(
  before: ContainerView | undefined,
  after: ContainerView | undefined,
  at: Date,
): ContainerEvent[] {
  if (!before && !after) return []
  if (before && after && before.record.id !== after.record.id) {
    return [...eventsBetween(before, undefined, at), ...eventsBetween(undefined, after, at)]
  }
  if (!after) {
    const gone = before as ContainerView
    // A VM destroyed while it ran (by another client): its run ended with it.
    const off: ContainerView = { ...gone, powerState: 'poweredOff' }
    const ending = phaseOf(gone) === 'active' ? runEvents(gone, endRun(off), at) : []
    return [...ending, { type: 'destroyed', containerId: gone.record.id, at }]
  }
  const created: ContainerEvent[] = before ? [] : [{ type: 'created', containerId: after.record.id, at }]
  return [...created, ...runEvents(before, after, at)]
}

/** `view` with only the exec'd processes whose run `keep` accepts. */
function withExecsOf(view: ContainerView, keep: (run: string) => boolean): ContainerView {
  return { ...view, record: { ...view.record, execs: view.record.execs.filter((e) => keep(e.run)) } }
}

/** The same view with its run over, for a VM that is gone: a process still running went with it. */
function endRun(view: ContainerView): ContainerView {
  const state = view.record.mainState
  if (!state || state.phase === 'exited') return view
  const ended: MainStateRecord =
    state.phase === 'starting'
      ? { ...state, phase: 'exited' }
      : { ...state, phase: 'exited', exitCode: POWER_OFF_EXIT_CODE, finishedAt: null }
  return { ...view, record: { ...view.record, mainState: ended } }
}

/**
 * A VM read as the hub last saw it, for the background exit poll: its portlayer entries, power
 * state and `changeVersion` (what observing an exit needs; not limits or foreign keys).
 */
export function snapshotFromProps(ref: MoRef, props: VmProperties): VmSnapshot {
  return snapshotOf({
    obj: ref,
    propSet: [
      { name: EXTRA_CONFIG, val: props.extraConfig },
      { name: POWER_STATE, val: props.powerState },
      ...(typeof props.changeVersion === 'string'
        ? [{ name: CHANGE_VERSION, val: props.changeVersion }]
        : []),
    ],
  })
}
