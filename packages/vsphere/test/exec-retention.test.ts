import type { GuestProcessInfo } from '@portlayer/contracts/vmomi'
import { describe, expect, it } from 'vitest'
import {
  applyOptions,
  type ContainerRecord,
  decodeRecord,
  type ExecRecord,
  encodeExec,
  execKey,
  Key,
} from '../src/extra-config.js'
import { dropOldExited, endOfRun } from '../src/run-records.js'

// The bound on recorded exited exec'd processes, as pure extraConfig changes.

const ID = '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f'
const MAIN = '1c8d2f5b-5a5f-4d9f-8e4c-3a2b7d6e8f90'
const pid = (n: number) => `2d9e3a6c-6b6a-4eaa-9f5d-4b3c8e7f9a${String(n).padStart(2, '0')}`
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString()

function exec(n: number, startedAt: number, finishedAt: number | null, run = 'run-2'): ExecRecord {
  return {
    processId: pid(n),
    workDir: '/',
    execPath: '/bin/true',
    execArgs: '',
    run,
    pid: 100 + n,
    startedAt: at(startedAt),
    finishedAt: finishedAt === null ? null : at(finishedAt),
    exitCode: 0,
    exitMsg: '',
    exited: finishedAt !== null,
  }
}

/** The recorded container with `execs`, decoded as a reader would see it. */
function recorded(execs: ExecRecord[]): { entries: Map<string, string>; record: ContainerRecord } {
  const entries = new Map<string, string>([
    [Key.id, ID],
    [Key.main, JSON.stringify({ processId: MAIN, workDir: '/', execPath: '/bin/sleep', execArgs: '100' })],
    [
      Key.mainState,
      JSON.stringify({
        phase: 'started',
        run: 'run-2',
        pid: 11,
        startedAt: at(0),
        finishedAt: null,
        exitCode: 0,
        exitMsg: '',
      }),
    ],
  ])
  for (const e of execs) entries.set(execKey(e.processId), encodeExec(e))
  return { entries, record: decodeRecord(entries) as ContainerRecord }
}

const deleted = (options: { key: string; value: string }[]) =>
  options.filter((o) => o.value === '').map((o) => o.key)

describe('dropOldExited', () => {
  it('deletes nothing within the bound', () => {
    expect(dropOldExited([exec(1, 1, 2), exec(2, 2, 3), exec(3, 3, null)], 'run-2', 2)).toEqual([])
  })

  it('deletes the first-finished exited records past the bound, never a running one', () => {
    const execs = [exec(1, 1, 9), exec(2, 2, 3), exec(3, 3, null), exec(4, 4, 5), exec(5, 5, 6)]
    expect(deleted(dropOldExited(execs, 'run-2', 2))).toEqual([execKey(pid(2)), execKey(pid(4))])
  })

  it('counts an earlier run’s processes as over, and of equal ends drops the earliest started', () => {
    const execs = [exec(1, 1, null, 'run-1'), exec(2, 3, 7), exec(3, 2, 7), exec(4, 8, null)]
    expect(deleted(dropOldExited(execs, 'run-2', 1))).toEqual([execKey(pid(1)), execKey(pid(3))])
  })
})

describe('endOfRun with a bound', () => {
  const exitedNow = (n: number): GuestProcessInfo => ({
    name: 'p',
    pid: 100 + n,
    owner: 'root',
    cmdLine: 'p',
    startTime: new Date(at(0)),
    endTime: new Date(at(20)),
    exitCode: 0,
  })
  const runningNow = (n: number): GuestProcessInfo => ({
    name: 'p',
    pid: 100 + n,
    owner: 'root',
    cmdLine: 'p',
    startTime: new Date(at(0)),
  })
  const mainRunning = { ...runningNow(0), pid: 11 }

  it('records the exits and deletes the oldest-finished records in the same entries', () => {
    const { entries, record } = recorded([exec(1, 1, 2), exec(2, 2, 3), exec(3, 3, null), exec(4, 4, null)])
    const procs = [mainRunning, exitedNow(3), runningNow(4)]
    const ending = endOfRun(record, procs, new Date(at(30)), false, 2)
    const after = decodeRecord(applyOptions(entries, ending.options)) as ContainerRecord
    expect(after.execs.map((e) => e.processId)).toEqual([pid(2), pid(3), pid(4)])
    expect(after.execs.map((e) => e.exited)).toEqual([true, true, false])
  })

  it('deletes nothing when nothing exited, whatever the count', () => {
    const { record } = recorded([exec(1, 1, 2), exec(2, 2, 3), exec(3, 3, 4)])
    expect(endOfRun(record, [mainRunning], new Date(at(30)), false, 1).options).toEqual([])
  })
})
