import type { GuestProcessInfo } from '@portlayer/contracts/vmomi'
import { describe, expect, it } from 'vitest'
import { configOf, stateOf, statusOf, UNKNOWN_EXIT_CODE } from '../src/container-status.js'
import type { ContainerRecord, ExecRecord, MainStateRecord, RunPhase } from '../src/extra-config.js'
import { applyOptions, decodeRecord } from '../src/extra-config.js'
import { endOfRun, startedState, startingState } from '../src/run-records.js'
import type { PowerState, VmSnapshot } from '../src/vm-snapshot.js'

const ID = '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f'
const MAIN = '1c8d2f5b-5a5f-4d9f-8e4c-3a2b7d6e8f90'
const EXEC = '2d9e3a6c-6b6a-4eaa-9f5d-4b3c8e7f9a01'
const T0 = '2026-01-01T00:00:00.000Z'
const T1 = '2026-01-01T00:00:01.000Z'

function state(phase: RunPhase, extra: Partial<MainStateRecord> = {}): MainStateRecord {
  return { phase, run: 'run-2', pid: 11, startedAt: T0, finishedAt: null, exitCode: 0, exitMsg: '', ...extra }
}

function exec(extra: Partial<ExecRecord> = {}): ExecRecord {
  return {
    processId: EXEC,
    workDir: '/',
    execPath: '/bin/sleep',
    execArgs: '100',
    run: 'run-2',
    pid: 12,
    startedAt: T0,
    finishedAt: null,
    exitCode: 0,
    exitMsg: '',
    exited: false,
    ...extra,
  }
}

function record(mainState: MainStateRecord | null, execs: ExecRecord[] = []): ContainerRecord {
  return {
    id: ID,
    name: 'c',
    created: new Date(T0),
    limits: null,
    main: { processId: MAIN, workDir: '/', execPath: '/bin/sleep', execArgs: '100' },
    mainState,
    execs,
    files: [],
    extensions: new Map(),
    rev: null,
    revs: [],
    destroying: null,
    pending: null,
    poweringOff: null,
  }
}

const running = (pid: number): GuestProcessInfo => ({
  name: 'p',
  pid,
  owner: 'root',
  cmdLine: 'p',
  startTime: new Date(T0),
})
const exited = (pid: number, exitCode: number): GuestProcessInfo => ({
  ...running(pid),
  endTime: new Date(T1),
  exitCode,
})

describe('statusOf', () => {
  it.each<[string, MainStateRecord | null, PowerState, GuestProcessInfo[] | undefined, string]>([
    ['never started', null, 'poweredOff', undefined, 'created'],
    // A commit of `running` takes effect when it lands: running from then on, also while the VM
    // powers on (a start that fails is put back; one whose client died stays until restarted).
    [
      'being started, still off',
      state('starting', { startedAt: null, pid: 0 }),
      'poweredOff',
      undefined,
      'running',
    ],
    ['being restarted, still off', state('starting'), 'poweredOff', undefined, 'running'],
    ['being restarted', state('starting'), 'poweredOn', undefined, 'running'],
    [
      'being started the first time',
      state('starting', { startedAt: null, pid: 0 }),
      'poweredOn',
      undefined,
      'running',
    ],
    ['powered on by someone else, never started', null, 'poweredOn', undefined, 'created'],
    ['running', state('started'), 'poweredOn', undefined, 'running'],
    ['running, guest agrees', state('started'), 'poweredOn', [running(11)], 'running'],
    ['exited, not yet recorded', state('started'), 'poweredOn', [exited(11, 0)], 'stopped'],
    ['exited, no longer listed by the guest', state('started'), 'poweredOn', [], 'stopped'],
    ['being stopped', state('stopping'), 'poweredOn', undefined, 'stopped'],
    ['being stopped, main process still running', state('stopping'), 'poweredOn', [running(11)], 'stopped'],
    [
      'being stopped, main process exited on SIGTERM',
      state('stopping'),
      'poweredOn',
      [exited(11, 143)],
      'stopped',
    ],
    ['exit recorded, power-off pending', state('exited'), 'poweredOn', undefined, 'stopped'],
    ['stopped', state('exited'), 'poweredOff', undefined, 'stopped'],
    ['powered off behind our back', state('started'), 'poweredOff', undefined, 'stopped'],
  ])('%s', (_label, mainState, power, procs, expected) => {
    expect(statusOf(record(mainState), power, procs)).toBe(expected)
  })
})

describe('stateOf', () => {
  it('reports a not-started main process before the first start', () => {
    const s = stateOf(record(null), 'poweredOff')
    expect(s.mainProcess).toEqual({
      processId: MAIN,
      status: 'not-started',
      guestPid: 0,
      exitCode: 0,
      exitMsg: '',
      startedAt: null,
      finishedAt: null,
    })
  })

  it('reads a restart under way with the previous run of its main process', () => {
    const previous = state('exited', { exitCode: 143, exitMsg: 'killed', finishedAt: T1 })
    const s = stateOf(record(startingState(previous, 'run-3')), 'poweredOff')
    expect(s.status).toBe('running')
    expect(s.mainProcess).toMatchObject({
      status: 'exited',
      exitCode: 143,
      guestPid: 11,
      finishedAt: new Date(T1),
    })
  })

  it('takes the exit of a running container from the guest when it was asked', () => {
    const s = stateOf(record(state('started')), 'poweredOn', [exited(11, 3)])
    expect(s.mainProcess).toMatchObject({
      status: 'exited',
      exitCode: 3,
      exitMsg: '',
      finishedAt: new Date(T1),
    })
  })

  it('never reports an end before its start when clocks differ', () => {
    const late = state('started', { startedAt: '2026-01-01T00:00:05.000Z' })
    const s = stateOf(record(late), 'poweredOn', [exited(11, 0)])
    expect(s.mainProcess?.finishedAt).toEqual(new Date('2026-01-01T00:00:05.000Z'))
  })

  it('reports exec’d processes of an earlier run, or of a powered-off VM, as killed', () => {
    const old = exec({ run: 'run-1' })
    const current = exec({ processId: '3eaf4b7d-7c7b-4fbb-8a6e-5c4d9f8a0b12' })
    const on = stateOf(record(state('started'), [old, current]), 'poweredOn', [running(12)])
    expect(on.execdProcs.map((p) => [p.status, p.exitCode])).toEqual([
      ['exited', 137],
      ['started', 0],
    ])
    const off = stateOf(record(state('exited'), [current]), 'poweredOff')
    expect(off.execdProcs[0]).toMatchObject({ status: 'exited', exitCode: 137 })
  })

  it('reports an exec’d process the guest forgot with an unknown exit code', () => {
    const s = stateOf(record(state('started'), [exec()]), 'poweredOn', [running(11)])
    expect(s.execdProcs[0]).toMatchObject({ status: 'exited', exitCode: UNKNOWN_EXIT_CODE })
  })
})

describe('configOf', () => {
  const snap = (memoryMb: number | undefined, cpuLimitMhz: number | undefined): VmSnapshot => ({
    ref: { type: 'VirtualMachine', value: 'vm-1' },
    version: '1',
    powerState: 'poweredOff',
    memoryMb,
    cpuLimitMhz,
    entries: new Map(),
    extraConfig: [],
    record: null,
  })

  it('reports the VM’s own memory and CPU limit', () => {
    const c = configOf(snap(300, 1100), record(null), { memoryMb: 512, cpuMhz: 1000 })
    expect(c.limits).toEqual({ memoryMb: 300, cpuMhz: 1100 })
  })

  it('falls back to the requested limits, then the defaults, when the VM reports none (-1 is unlimited)', () => {
    const r = { ...record(null), limits: { memoryMb: 256, cpuMhz: -1 } }
    expect(configOf(snap(undefined, -1), r, { memoryMb: 512, cpuMhz: 1000 }).limits).toEqual({
      memoryMb: 256,
      cpuMhz: 1000,
    })
  })
})

describe('endOfRun', () => {
  const decode = (r: ContainerRecord, options: ReturnType<typeof endOfRun>['options']) =>
    decodeRecord(
      applyOptions(
        new Map([
          ['guestinfo.portlayer.id', r.id],
          ['guestinfo.portlayer.main', JSON.stringify(r.main)],
        ]),
        options,
      ),
    )

  it('records nothing while everything runs', () => {
    expect(
      endOfRun(record(state('started'), [exec()]), [running(11), running(12)], new Date(T1), false),
    ).toEqual({
      options: [],
      ended: false,
    })
  })

  it('records an exec’d process that exited on its own, without ending the run', () => {
    const r = record(state('started'), [exec()])
    const result = endOfRun(r, [running(11), exited(12, 4)], new Date(T1), false)
    expect(result.ended).toBe(false)
    expect(decode(r, result.options)?.execs[0]).toMatchObject({ exited: true, exitCode: 4, finishedAt: T1 })
  })

  it('ends the run when the main process exited: its exec’d processes are recorded as killed', () => {
    const r = record(state('started'), [exec()])
    const result = endOfRun(r, [exited(11, 0), running(12)], new Date(T1), false)
    expect(result.ended).toBe(true)
    const after = decode(r, result.options)
    expect(after?.mainState).toMatchObject({ phase: 'exited', exitCode: 0, exitMsg: '', finishedAt: T1 })
    expect(after?.execs[0]).toMatchObject({ exited: true, exitCode: 137 })
  })

  it('when stopping, records a main process that ignored SIGTERM as killed', () => {
    const r = record(state('stopping'))
    const result = endOfRun(r, [running(11)], new Date(T1), true)
    expect(result.ended).toBe(true)
    expect(decode(r, result.options)?.mainState).toMatchObject({ phase: 'exited', exitCode: 137 })
  })

  it('when stopping, keeps the code of a main process that exited on SIGTERM', () => {
    const r = record(state('stopping'))
    const result = endOfRun(r, [exited(11, 143)], new Date(T1), true)
    expect(decode(r, result.options)?.mainState).toMatchObject({
      exitCode: 143,
      exitMsg: expect.stringContaining('SIGTERM'),
    })
  })

  it('leaves a started record alone for a run that is only starting', () => {
    expect(endOfRun(record(startingState(null, 'r')), [], new Date(T1), false).options).toEqual([])
    expect(startedState('r', 5, new Date(T0))).toMatchObject({
      phase: 'started',
      pid: 5,
      startedAt: T0,
      finishedAt: null,
    })
  })
})
