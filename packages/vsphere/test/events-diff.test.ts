import type { ContainerEvent, ID } from '@portlayer/contracts'
import type { ObjectUpdate, OptionValue, PropertyChange, UpdateSet } from '@portlayer/contracts/vmomi'
import { describe, expect, it } from 'vitest'
import { eventsBetween, viewOf } from '../src/events/update-diff.js'
import { VmUpdates } from '../src/events/vm-updates.js'
import { POWER_OFF_EXIT_CODE } from '../src/exit-message.js'
import {
  type ExecRecord,
  encodeExec,
  encodeMain,
  encodeMainState,
  encodePending,
  execKey,
  Key,
  type MainStateRecord,
} from '../src/extra-config.js'
import { failedStartState, startedState, startingState, stoppingState } from '../src/run-records.js'

// The rules that turn property-collector updates into events, on plain records: no server.

const ID_A = '0b8d3c2e-1f4a-4b6c-9d7e-8f9a0b1c2d3e'
const MAIN = '1c9e4d3f-2a5b-4c7d-8e9f-a0b1c2d3e4f5'
const EXEC = '2daf5e40-3b6c-4d8e-9fa0-b1c2d3e4f5a6'
const T0 = '2026-01-01T00:00:00.000Z'
const T1 = '2026-01-01T00:00:01.000Z'
const T2 = '2026-01-01T00:00:02.000Z'
const AT = new Date(T2)

interface VmSpec {
  id?: ID
  main?: boolean
  state?: MainStateRecord | null
  execs?: ExecRecord[]
  pending?: { token: string; undo: OptionValue[]; powerState: 'poweredOn' | 'poweredOff' }
  extra?: OptionValue[]
}

/** The extraConfig of a container as the backend writes it. */
function config(spec: VmSpec): OptionValue[] {
  const options: OptionValue[] = [{ key: 'govcsim', value: 'TRUE' }]
  if (spec.id === undefined) return options
  options.push(
    { key: Key.id, value: spec.id },
    { key: Key.name, value: 'web' },
    { key: Key.created, value: T0 },
  )
  if (spec.main !== false)
    options.push({
      key: Key.main,
      value: encodeMain({ processId: MAIN, workDir: '/', execPath: '/bin/sleep', execArgs: '100' }),
    })
  if (spec.state) options.push({ key: Key.mainState, value: encodeMainState(spec.state) })
  for (const exec of spec.execs ?? []) options.push({ key: execKey(exec.processId), value: encodeExec(exec) })
  if (spec.pending) options.push({ key: Key.pending, value: encodePending(spec.pending) })
  options.push(...(spec.extra ?? []))
  return options
}

const extra = (spec: VmSpec): PropertyChange => ({
  name: 'config.extraConfig',
  op: 'assign',
  val: config(spec),
})
const power = (on: boolean): PropertyChange => ({
  name: 'runtime.powerState',
  op: 'assign',
  val: on ? 'poweredOn' : 'poweredOff',
})
const enter = (vm: string, ...changeSet: PropertyChange[]): ObjectUpdate => ({
  kind: 'enter',
  obj: { type: 'VirtualMachine', value: vm },
  changeSet,
  missingSet: [],
})
const modify = (vm: string, ...changeSet: PropertyChange[]): ObjectUpdate => ({
  kind: 'modify',
  obj: { type: 'VirtualMachine', value: vm },
  changeSet,
  missingSet: [],
})
const leave = (vm: string): ObjectUpdate => ({
  kind: 'leave',
  obj: { type: 'VirtualMachine', value: vm },
  changeSet: [],
  missingSet: [],
})
const set = (...objectSet: ObjectUpdate[]): UpdateSet => ({
  version: '1',
  filterSet: [{ filter: { type: 'PropertyFilter', value: 'f' }, objectSet, missingSet: [] }],
})

/** Type, process and exit code of each event: what the rules decide. */
const brief = (events: readonly ContainerEvent[]) =>
  events.map((e) =>
    e.type === 'exited' ? `exited ${e.processId === MAIN ? 'main' : 'exec'} ${e.exitCode}` : e.type,
  )

const started = (run: string, pid = 10) => startedState(run, pid, new Date(T1))
const exited = (run: string, exitCode: number, pid = 10): MainStateRecord => ({
  phase: 'exited',
  run,
  pid,
  startedAt: T1,
  finishedAt: T2,
  exitCode,
  exitMsg: '',
})
const exec = (run: string, done?: number): ExecRecord => ({
  processId: EXEC,
  workDir: '/',
  execPath: '/bin/sh',
  execArgs: '-c "exit 4"',
  run,
  pid: 20,
  startedAt: T1,
  finishedAt: done === undefined ? null : T2,
  exitCode: done ?? 0,
  exitMsg: '',
  exited: done !== undefined,
})

/** A stream of updates over one VM that entered with `first` (no events for the baseline). */
function watched(...first: PropertyChange[]) {
  const vms = new VmUpdates()
  vms.apply(set(enter('vm-1', ...first)), AT)
  return (...updates: ObjectUpdate[]) => brief(vms.apply(set(...updates), AT))
}

describe('events from property-collector updates', () => {
  it('reports a VM that enters with a portlayer ID as created, and ignores VMs without one', () => {
    const vms = new VmUpdates()
    expect(vms.apply(set(enter('vm-0', extra({}), power(true))), AT)).toEqual([])
    const events = vms.apply(set(enter('vm-1', extra({ id: ID_A }), power(false))), AT)
    expect(events).toEqual([{ type: 'created', containerId: ID_A, at: AT }])
    // A VM that becomes a container later (vCenter may show it before its config is set).
    expect(brief(vms.apply(set(modify('vm-0', extra({ id: MAIN, main: false }))), AT))).toEqual(['created'])
  })

  it('follows a create+start through its exit to destroy', () => {
    const vms = new VmUpdates()
    const step = (...u: ObjectUpdate[]) => brief(vms.apply(set(...u), AT))
    expect(step(enter('vm-1', extra({ id: ID_A, state: startingState(null, 'r1') }), power(false)))).toEqual([
      'created',
      'started',
    ])
    expect(step(modify('vm-1', power(true)))).toEqual([])
    expect(step(modify('vm-1', extra({ id: ID_A, state: started('r1') })))).toEqual([])
    expect(step(modify('vm-1', extra({ id: ID_A, state: exited('r1', 3) })))).toEqual([
      'exited main 3',
      'stopped',
    ])
    expect(step(modify('vm-1', power(false)))).toEqual([])
    expect(step(leave('vm-1'))).toEqual(['destroyed'])
  })

  it('shows a staged start only when it takes effect', () => {
    const before = exited('r1', 0)
    const step = watched(extra({ id: ID_A, state: before }), power(false))
    const undo = [{ key: Key.mainState, value: encodeMainState(before) }]
    const pending = { token: 'r2', undo, powerState: 'poweredOff' as const }
    expect(step(modify('vm-1', extra({ id: ID_A, state: startingState(before, 'r2'), pending })))).toEqual([])
    expect(step(modify('vm-1', power(true)))).toEqual([])
    expect(step(modify('vm-1', extra({ id: ID_A, state: started('r2', 11) })))).toEqual(['started'])
  })

  it('reports a taken-back staged start as nothing at all', () => {
    const before = exited('r1', 0)
    const step = watched(extra({ id: ID_A, state: before }), power(false))
    const pending = {
      token: 'r2',
      undo: [{ key: Key.mainState, value: encodeMainState(before) }],
      powerState: 'poweredOff' as const,
    }
    expect(step(modify('vm-1', extra({ id: ID_A, state: startingState(before, 'r2'), pending })))).toEqual([])
    expect(step(modify('vm-1', power(true)))).toEqual([])
    expect(step(modify('vm-1', extra({ id: ID_A, state: before })))).toEqual([])
    expect(step(modify('vm-1', power(false)))).toEqual([])
  })

  it('reports a stop as exited then stopped once it records the end (it powers off first)', () => {
    const running = { id: ID_A, state: started('r1'), execs: [exec('r1')] }
    const step = watched(extra(running), power(true))
    const stopping = { ...running, state: stoppingState(started('r1')) }
    expect(step(modify('vm-1', extra(stopping)))).toEqual([])
    // stop.ts powers off, then records what the guest reported: the codes are the recorded ones.
    expect(step(modify('vm-1', power(false)))).toEqual([])
    const ended = { id: ID_A, state: exited('r1', 143), execs: [exec('r1', 6)] }
    expect(step(modify('vm-1', extra(ended)))).toEqual(['exited exec 6', 'exited main 143', 'stopped'])
  })

  it('ends a stop whose VM is destroyed before it recorded anything', () => {
    const step = watched(extra({ id: ID_A, state: stoppingState(started('r1')) }), power(false))
    expect(step(leave('vm-1'))).toEqual([`exited main ${POWER_OFF_EXIT_CODE}`, 'stopped', 'destroyed'])
  })

  it('reports a VM powered off under a running process (by anyone) as its exit', () => {
    const step = watched(extra({ id: ID_A, state: started('r1') }), power(true))
    expect(step(modify('vm-1', power(false)))).toEqual([`exited main ${POWER_OFF_EXIT_CODE}`, 'stopped'])
    // Recording the end afterwards reports nothing more.
    expect(step(modify('vm-1', extra({ id: ID_A, state: exited('r1', 0) })))).toEqual([])
  })

  it("reports exec'd processes that exit, before the main process when they finished first", () => {
    const step = watched(extra({ id: ID_A, state: started('r1') }), power(true))
    expect(step(modify('vm-1', extra({ id: ID_A, state: started('r1'), execs: [exec('r1')] })))).toEqual([])
    expect(step(modify('vm-1', extra({ id: ID_A, state: started('r1'), execs: [exec('r1', 4)] })))).toEqual([
      'exited exec 4',
    ])
    const mainLater = { ...exited('r1', 0), finishedAt: '2026-01-01T00:00:03.000Z' }
    expect(step(modify('vm-1', extra({ id: ID_A, state: mainLater, execs: [exec('r1', 4)] })))).toEqual([
      'exited main 0',
      'stopped',
    ])
  })

  it('reports an exec that started and exited between two updates', () => {
    const step = watched(extra({ id: ID_A, state: started('r1') }), power(true))
    expect(step(modify('vm-1', extra({ id: ID_A, state: started('r1'), execs: [exec('r1', 4)] })))).toEqual([
      'exited exec 4',
    ])
  })

  it('reports a run that ended and a new one that began within one update', () => {
    const step = watched(extra({ id: ID_A, state: started('r1') }), power(true))
    // The first run's end was overwritten in between: its code is unknown.
    expect(step(modify('vm-1', extra({ id: ID_A, state: started('r2', 11) })))).toEqual([
      'exited main -1',
      'stopped',
      'started',
    ])
  })

  it('takes the exit code of a run that ended from the next start, which keeps its fields', () => {
    const view = (state: MainStateRecord, on: boolean) =>
      viewOf({ extraConfig: config({ id: ID_A, state }), powerState: on ? 'poweredOn' : 'poweredOff' })
    const events = eventsBetween(
      view(started('r1'), true),
      view(startingState(exited('r1', 7), 'r2'), true),
      AT,
    )
    expect(brief(events)).toEqual(['exited main 7', 'stopped', 'started'])
  })

  it('reports a start whose program does not exist as started, exited and stopped', () => {
    const step = watched(extra({ id: ID_A, state: exited('r1', 0) }), power(false))
    const failed = failedStartState('r2', new Date('2026-01-01T00:00:05.000Z'), 127, 'not found')
    expect(step(modify('vm-1', extra({ id: ID_A, state: failed })))).toEqual([
      'started',
      'exited main 127',
      'stopped',
    ])
  })

  it('reports a stop that took over a create+start before its program ran as stopped only', () => {
    const vms = new VmUpdates()
    vms.apply(set(enter('vm-1', extra({ id: ID_A, state: startingState(null, 'r1') }), power(true))), AT)
    const abandoned: MainStateRecord = { ...startingState(null, 'r1'), phase: 'exited', run: 'stop-token' }
    expect(brief(vms.apply(set(modify('vm-1', extra({ id: ID_A, state: abandoned }))), AT))).toEqual([
      'stopped',
    ])
  })

  it('ends the run of a VM destroyed while it ran, then reports destroyed', () => {
    const step = watched(extra({ id: ID_A, state: started('r1'), execs: [exec('r1')] }), power(true))
    expect(step(leave('vm-1'))).toEqual([
      `exited exec ${POWER_OFF_EXIT_CODE}`,
      `exited main ${POWER_OFF_EXIT_CODE}`,
      'stopped',
      'destroyed',
    ])
  })

  it('reports an ID removed from a VM as destroyed', () => {
    const step = watched(extra({ id: ID_A, main: false }), power(false))
    expect(step(modify('vm-1', extra({})))).toEqual(['destroyed'])
  })

  it("takes a VM's entry in vcsim's form (newest state first, older changes after) in order", () => {
    const vms = new VmUpdates()
    // vcsim answers the entry with the state as it is now, then each change since with its value then.
    const events = vms.apply(
      set(
        enter('vm-1', extra({ id: ID_A, state: exited('r1', 5) }), power(false)),
        modify('vm-1', extra({ id: ID_A, state: startingState(null, 'r1') })),
        modify('vm-1', power(true)),
        modify('vm-1', extra({ id: ID_A, state: started('r1') })),
        modify('vm-1', extra({ id: ID_A, state: exited('r1', 5) })),
        modify('vm-1', power(false)),
      ),
      AT,
    )
    expect(brief(events)).toEqual(['created', 'started', 'exited main 5', 'stopped'])
  })

  it('applies keyed extraConfig changes, as a server reporting nested changes sends them', () => {
    const step = watched(extra({ id: ID_A, state: started('r1') }), power(true))
    const change: PropertyChange = {
      name: `config.extraConfig["${Key.mainState}"]`,
      op: 'assign',
      val: { key: Key.mainState, value: encodeMainState(exited('r1', 9)) },
    }
    expect(step(modify('vm-1', change))).toEqual(['exited main 9', 'stopped'])
    const removed: PropertyChange = { name: `config.extraConfig["${Key.id}"]`, op: 'remove' }
    expect(step(modify('vm-1', removed))).toEqual(['destroyed'])
  })

  it('reports what changed while it did not watch when a new baseline replaces the old', () => {
    const vms = new VmUpdates()
    vms.apply(set(enter('vm-1', extra({ id: ID_A, state: started('r1') }), power(true))), AT)
    const fresh = new VmUpdates()
    fresh.apply(
      set(
        enter('vm-1', extra({ id: ID_A, state: exited('r1', 2) }), power(false)),
        enter('vm-2', extra({ id: MAIN, main: false }), power(false)),
      ),
      AT,
    )
    expect(brief(vms.replaceWith(fresh, AT))).toEqual(['exited main 2', 'stopped', 'created'])
    expect(vms.size).toBe(2)
  })
})
