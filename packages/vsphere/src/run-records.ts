import { exitedToDrop } from '@portlayer/backend-kit'
import type { GuestProcessInfo, OptionValue } from '@portlayer/contracts/vmomi'
import { GONE_MESSAGE, livenessOf, UNKNOWN_EXIT_CODE } from './container-status.js'
import { exitMessage, POWER_OFF_EXIT_CODE } from './exit-message.js'
import {
  type ContainerRecord,
  type ExecRecord,
  encodeExec,
  encodeMainState,
  execKey,
  Key,
  type MainStateRecord,
  option,
} from './extra-config.js'
import { DEFAULT_MAX_EXITED_EXECS } from './settings.js'

// The extraConfig changes that record a run's transitions. Pure: the callers decide when to apply.

const latest = (a: Date, startedAt: string | null): Date => {
  if (startedAt === null) return a
  const s = new Date(startedAt)
  return a < s ? s : a
}

/** The `starting` record a start writes before powering on: a new run, the previous run's fields kept. */
export function startingState(previous: MainStateRecord | null, run: string): MainStateRecord {
  return {
    phase: 'starting',
    run,
    pid: previous?.pid ?? 0,
    startedAt: previous?.startedAt ?? null,
    finishedAt: previous?.finishedAt ?? null,
    exitCode: previous?.exitCode ?? 0,
    exitMsg: previous?.exitMsg ?? '',
  }
}

/** The record of a main process that now runs as guest process `pid`. */
export function startedState(run: string, pid: number, startedAt: Date): MainStateRecord {
  return {
    phase: 'started',
    run,
    pid,
    startedAt: startedAt.toISOString(),
    finishedAt: null,
    exitCode: 0,
    exitMsg: '',
  }
}

/** The record of a main process that could not even start (its program does not exist). */
export function failedStartState(run: string, at: Date, exitCode: number, exitMsg: string): MainStateRecord {
  const iso = at.toISOString()
  return { phase: 'exited', run, pid: 0, startedAt: iso, finishedAt: iso, exitCode, exitMsg }
}

/**
 * What a stop records for a start that never recorded its process: the container is stopped (the
 * start had landed), its main process as the run before left it (not started when there was
 * none), under the stop's own token so a start still under way sees it was taken over.
 */
export function abandonedStart(starting: MainStateRecord, token: string): MainStateRecord {
  return { ...starting, phase: 'exited', run: token }
}

/** The `stopping` record a stop writes before signalling. */
export function stoppingState(current: MainStateRecord): MainStateRecord {
  return { ...current, phase: 'stopping' }
}

/** What {@link endOfRun} found. */
export interface EndOfRun {
  /** extraConfig entries recording every end found (empty when nothing ended). */
  readonly options: OptionValue[]
  /** True when the main process's run is over, so the VM is to be powered off. */
  readonly ended: boolean
  /** The main process's end, when `options` record it. */
  readonly mainState?: MainStateRecord
}

/**
 * Records the ends the guest reports in `procs`: the main process's exit (which ends the run:
 * exec'd processes still running are recorded as killed by the power-off that follows), and exec'd
 * processes that exited on their own. With `stopping`, the run ends now whatever the guest says:
 * a main process still running is recorded as killed. Exited exec'd processes past
 * `maxExitedExecs` are deleted in the same entries (see {@link dropOldExited}).
 */
export function endOfRun(
  record: ContainerRecord,
  procs: readonly GuestProcessInfo[],
  now: Date,
  stopping: boolean,
  maxExitedExecs = DEFAULT_MAX_EXITED_EXECS,
): EndOfRun {
  const options: OptionValue[] = []
  const state = record.mainState
  const main = record.main
  let ended = false
  let mainState: MainStateRecord | undefined
  if (state && (state.phase === 'started' || state.phase === 'stopping')) {
    const live = livenessOf(procs, state.pid)
    let exitCode: number | undefined
    let finishedAt = now
    if (live.kind === 'exited') {
      exitCode = live.exitCode
      finishedAt = live.finishedAt
    } else if (stopping) {
      exitCode = POWER_OFF_EXIT_CODE
    } else if (live.kind === 'gone') {
      exitCode = UNKNOWN_EXIT_CODE
    }
    if (exitCode !== undefined) {
      ended = true
      mainState = {
        phase: 'exited',
        run: state.run,
        pid: state.pid,
        startedAt: state.startedAt,
        finishedAt: latest(finishedAt, state.startedAt).toISOString(),
        exitCode,
        exitMsg:
          exitCode === UNKNOWN_EXIT_CODE
            ? GONE_MESSAGE
            : main
              ? exitMessage(main.execPath, main.execArgs, exitCode)
              : '',
      }
      options.push(option(Key.mainState, encodeMainState(mainState)))
    }
  } else if (stopping && state?.phase === 'exited') {
    ended = true
  }
  const run = state?.run ?? ''
  const execs: ExecRecord[] = []
  for (const exec of record.execs) {
    execs.push(exec)
    if (exec.exited || exec.run !== run) continue
    const live = livenessOf(procs, exec.pid)
    let exitCode: number | undefined
    let finishedAt = now
    if (live.kind === 'exited') {
      exitCode = live.exitCode
      finishedAt = live.finishedAt
    } else if (ended || stopping) {
      exitCode = POWER_OFF_EXIT_CODE
    } else if (live.kind === 'gone') {
      exitCode = UNKNOWN_EXIT_CODE
    }
    if (exitCode === undefined) continue
    const done: ExecRecord = {
      ...exec,
      finishedAt: latest(finishedAt, exec.startedAt).toISOString(),
      exitCode,
      exitMsg:
        exitCode === UNKNOWN_EXIT_CODE ? GONE_MESSAGE : exitMessage(exec.execPath, exec.execArgs, exitCode),
      exited: true,
    }
    execs[execs.length - 1] = done
    options.push(option(execKey(exec.processId), encodeExec(done)))
  }
  // Only a recorded exit can push the count past the bound, so only then is anything dropped.
  if (options.length > 0) options.push(...dropOldExited(execs, run, maxExitedExecs))
  return mainState ? { options, ended, mainState } : { options, ended }
}

/**
 * The deletions (empty values) that leave at most `max` exec'd processes that are over among
 * `execs` (a container's exec records as they will be, `run` its current run), by the shared
 * retention rule of `@portlayer/backend-kit`: those that finished first go; one of an earlier run
 * whose end was never recorded counts as ended when it started. Running processes always stay.
 * extraConfig holds every record and every listing reads them all, so without this a container
 * exec'd into by a health check would grow until vSphere refused its configuration.
 */
export function dropOldExited(execs: readonly ExecRecord[], run: string, max: number): OptionValue[] {
  const facts = (e: ExecRecord) => ({
    exited: e.exited || e.run !== run,
    finishedAt: e.finishedAt,
    startedAt: e.startedAt,
  })
  return exitedToDrop(execs, max, facts).map((e) => option(execKey(e.processId), ''))
}
