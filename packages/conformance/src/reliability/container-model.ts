import type { ID } from '@portlayer/contracts'
import type { HistoryEvent, OpInput, OpResult } from './history.js'
import {
  checkLinearizable,
  type LinearizabilityResult,
  type SequentialModel,
  type TimedOperation,
} from './linearizability.js'

/** The status a container can be in, as the sequential model sees it. */
type Status = 'created' | 'running' | 'stopped'

/**
 * One container of a port layer as a sequential object. Versions are opaque strings: a version
 * read by `getHandle` is bound to the state it was read in ("current"); every change that lands
 * makes all current versions stale, and a stale version never comes back. A commit on a current
 * version must land; one on a stale version must fail with CONFLICT.
 */
export interface ContainerModelState {
  readonly phase: 'absent' | 'live' | 'gone'
  readonly status: Status
  readonly memoryMb: number
  readonly cpuMhz: number
  readonly current: readonly string[]
  readonly stale: readonly string[]
}

/** One operation of one container's history (a list is split into one `listed` per container). */
export type ContainerOp = (
  | Exclude<OpInput, { kind: 'list' }>
  | { readonly kind: 'listed'; readonly id: ID; readonly present: boolean }
) & { readonly result: OpResult }

const INFRA = new Set(['UNAVAILABLE', 'TIMEOUT', 'CANCELLED'])
const ABSENT: ContainerModelState = {
  phase: 'absent',
  status: 'created',
  memoryMb: 0,
  cpuMhz: 0,
  current: [],
  stale: [],
}

/** The sequential specification of one container. */
export const containerModel: SequentialModel<ContainerModelState, ContainerOp> = {
  init: () => ABSENT,
  step,
  key: (s) => `${s.phase}/${s.status}/${s.memoryMb}/${s.cpuMhz}/${s.current.join(',')}/${s.stale.join(',')}`,
  tokens: (op) =>
    op.kind === 'commit'
      ? [op.base]
      : op.kind === 'getHandle' && op.result.ok
        ? [String(op.result.value)]
        : [],
  prune(s, live) {
    const current = s.current.filter(live)
    const stale = s.stale.filter(live)
    return current.length === s.current.length && stale.length === s.stale.length
      ? s
      : { ...s, current, stale }
  },
  describe: describeOp,
  describeState: (s) =>
    s.phase === 'live'
      ? `live ${s.status} memoryMb=${s.memoryMb} cpuMhz=${s.cpuMhz} current=[${s.current.map(short)}] stale=[${s.stale.map(short)}]`
      : s.phase,
}

function short(v: string): string {
  return v.length > 10 ? `…${v.slice(-8)}` : v
}

/** One recorded operation and its result, as a failure message shows it. */
export function describeOp(op: ContainerOp): string {
  const r = op.result
  const res = r.ok
    ? `ok${r.value === undefined ? '' : ` ${JSON.stringify(r.value)}`}`
    : `${r.code}${r.outcome === 'unknown' ? ' (outcome unknown)' : ''}`
  const id = op.id.slice(0, 8)
  switch (op.kind) {
    case 'create':
      return `create ${id} limits=${op.limits.join('/')}${op.run ? ' running' : ''} → ${res}`
    case 'commit': {
      const parts = [
        op.limits ? `limits=${op.limits.join('/')}` : '',
        op.runState ? `runState=${op.runState}` : '',
      ].filter(Boolean)
      return `commit ${id}@${short(op.base)} ${parts.join(' ')} → ${res}`
    }
    case 'listed':
      return `list shows ${id}: ${op.present}`
    default:
      return `${op.kind} ${id} → ${res}`
  }
}

/** Every later version check sees a change: all current versions become stale. */
function bump(s: ContainerModelState, change: Partial<ContainerModelState>): ContainerModelState {
  return { ...s, ...change, current: [], stale: [...s.stale, ...s.current].sort() }
}

/** What the operation does when it lands; `undefined` when it cannot land in `s`. */
function effect(s: ContainerModelState, op: ContainerOp): ContainerModelState[] | undefined {
  switch (op.kind) {
    case 'create':
      if (s.phase !== 'absent') return undefined
      return [
        {
          phase: 'live',
          status: op.run ? 'running' : 'created',
          memoryMb: op.limits[0],
          cpuMhz: op.limits[1],
          current: [],
          stale: [],
        },
      ]
    case 'commit': {
      if (s.phase !== 'live' || !s.current.includes(op.base)) return undefined
      const running = s.status === 'running'
      // New limits on a running container are ignored (the rest of the handle applies).
      const limits =
        op.limits && !running
          ? { memoryMb: op.limits[0], cpuMhz: op.limits[1] }
          : { memoryMb: s.memoryMb, cpuMhz: s.cpuMhz }
      let status = s.status
      if (op.runState === 'running') status = 'running'
      else if (op.runState === 'stopped' && running) status = 'stopped'
      const after = bump(s, { ...limits, status })
      // A commit whose every change is ignored (start a running container, stop one that is not
      // running, limits of a running one) may or may not move the version: backends differ.
      const ignored = status === s.status && (op.limits === undefined || running)
      return ignored ? [after, s] : [after]
    }
    case 'destroy':
      if (s.phase !== 'live' || s.status === 'running') return undefined
      return [{ ...ABSENT, phase: 'gone' }]
    default:
      return undefined
  }
}

/** The error a non-landing operation must fail with in `s`; `undefined` if it must land. */
function expectedFailure(
  s: ContainerOp['kind'],
  st: ContainerModelState,
  op: ContainerOp,
): string | undefined {
  if (s === 'create') return st.phase === 'absent' ? undefined : 'CONFLICT'
  if (st.phase !== 'live') return 'NOT_FOUND'
  if (op.kind === 'commit') {
    if (st.stale.includes(op.base)) return 'CONFLICT'
    return undefined
  }
  if (op.kind === 'destroy') return st.status === 'running' ? 'INVALID_STATE' : undefined
  return undefined
}

function step(s: ContainerModelState, op: ContainerOp): readonly ContainerModelState[] {
  const r = op.result
  if (!r.ok && r.code === 'NOT_A_PORTLAYER_ERROR') return []
  switch (op.kind) {
    case 'listed':
      return op.present === (s.phase === 'live') ? [s] : []
    case 'getHandle':
    case 'config':
    case 'state': {
      if (!r.ok) {
        if (INFRA.has(r.code)) return [s]
        return r.code === 'NOT_FOUND' && s.phase !== 'live' ? [s] : []
      }
      if (s.phase !== 'live') return []
      if (op.kind === 'state') return r.value === s.status ? [s] : []
      if (op.kind === 'config') {
        const v = r.value as { memoryMb: number; cpuMhz: number }
        return v.memoryMb === s.memoryMb && v.cpuMhz === s.cpuMhz ? [s] : []
      }
      const version = String(r.value)
      if (s.current.includes(version)) return [s]
      if (s.stale.includes(version)) return []
      return [{ ...s, current: [...s.current, version].sort() }]
    }
    default: {
      // create, commit, destroy
      const landed = effect(s, op)
      if (r.ok) return landed ?? []
      if (INFRA.has(r.code)) {
        // 'not-applied' must have changed nothing; 'unknown' may have landed or not.
        return r.outcome === 'unknown' && landed ? [s, ...landed] : [s]
      }
      return expectedFailure(op.kind, s, op) === r.code ? [s] : []
    }
  }
}

/** The result of checking a whole recorded history, container by container. */
export interface HistoryCheck {
  readonly ok: boolean
  /** One line per container that failed (or whose check ran out of budget), with the explanation. */
  readonly failures: readonly string[]
  readonly containers: number
  readonly operations: number
  readonly explored: number
}

/**
 * Checks a recorded history for linearizability against the container model. Containers are
 * independent objects, so each one's operations are checked alone (P-compositionality); a list
 * is split into one "is it listed" read per container. Calls whose outcome is unknown get no
 * response time: they may take effect any time after they began, or never.
 */
export function checkHistory(
  events: readonly HistoryEvent[],
  options: { maxSteps?: number } = {},
): HistoryCheck {
  const byContainer = new Map<ID, TimedOperation<ContainerOp>[]>()
  const add = (id: ID, op: ContainerOp, e: HistoryEvent): void => {
    const response = !e.result.ok && e.result.outcome === 'unknown' ? Number.POSITIVE_INFINITY : e.response
    let list = byContainer.get(id)
    if (!list) {
      list = []
      byContainer.set(id, list)
    }
    list.push({ op, invoke: e.invoke, response })
  }
  for (const e of events) {
    if (e.input.kind === 'list') {
      if (!e.result.ok) continue
      const shown = new Set(e.result.value as ID[])
      for (const id of e.input.ids)
        add(id, { kind: 'listed', id, present: shown.has(id), result: e.result }, e)
    } else {
      add(e.input.id, { ...e.input, result: e.result }, e)
    }
  }
  const failures: string[] = []
  let explored = 0
  for (const [id, ops] of byContainer) {
    const verdict: LinearizabilityResult = checkLinearizable(containerModel, ops, options)
    explored += verdict.explored
    if (verdict.ok !== true) failures.push(`container ${id}: ${verdict.explanation}`)
  }
  return {
    ok: failures.length === 0,
    failures,
    containers: byContainer.size,
    operations: events.length,
    explored,
  }
}
