import {
  type ContainerConfig,
  type ContainerState,
  type ProcessConfig,
  type ProcessState,
  ProcessStatus,
  type ResourceLimits,
  RunState,
} from '@portlayer/contracts'
import type { GuestProcessInfo } from '@portlayer/contracts/vmomi'
import { exitMessage, POWER_OFF_EXIT_CODE } from './exit-message.js'
import type { ContainerRecord, ExecRecord, MainStateRecord } from './extra-config.js'
import type { PowerState, VmSnapshot } from './vm-snapshot.js'

// How a container's config and state are read from its VM: the recorded extraConfig, the power
// state, and (when the guest was asked) the guest's process list. Pure functions, so every
// interleaving of commits and observers reads coherently.

/** Exit code reported for a process whose end the guest no longer remembers. */
export const UNKNOWN_EXIT_CODE = -1
/** Exit message of a process whose end the guest no longer remembers. */
export const GONE_MESSAGE = 'exit status no longer reported by the guest'

/** What the guest says about one process. */
export type Liveness =
  | { readonly kind: 'running' }
  | { readonly kind: 'exited'; readonly exitCode: number; readonly finishedAt: Date }
  | { readonly kind: 'gone' }

/** The liveness of guest process `pid` in `procs`. */
export function livenessOf(procs: readonly GuestProcessInfo[], pid: number): Liveness {
  const info = procs.find((p) => p.pid === pid)
  if (!info) return { kind: 'gone' }
  if (info.endTime !== undefined || info.exitCode !== undefined) {
    return { kind: 'exited', exitCode: info.exitCode ?? 0, finishedAt: info.endTime ?? new Date() }
  }
  return { kind: 'running' }
}

/** Resolves requested limits (`-1` or unset means the default). */
export function resolveLimits(
  requested: { readonly memoryMb: number; readonly cpuMhz: number } | null | undefined,
  defaults: ResourceLimits,
): ResourceLimits {
  return {
    memoryMb: requested && requested.memoryMb > 0 ? requested.memoryMb : defaults.memoryMb,
    cpuMhz: requested && requested.cpuMhz > 0 ? requested.cpuMhz : defaults.cpuMhz,
  }
}

/** True when the recorded main state says its run has ended (recorded or observed). */
function mainEnded(state: MainStateRecord | null, procs: readonly GuestProcessInfo[] | undefined): boolean {
  if (!state) return false
  if (state.phase === 'exited') return true
  if ((state.phase === 'started' || state.phase === 'stopping') && procs) {
    return livenessOf(procs, state.pid).kind !== 'running'
  }
  return false
}

/** The run state of a container. */
export function statusOf(
  record: ContainerRecord,
  powerState: PowerState,
  procs?: readonly GuestProcessInfo[],
): RunState {
  const state = record.mainState
  // A commit of `running` takes effect when its reconfiguration lands (it writes `starting`): from
  // then on the container runs, also while the VM is still powering on. A start whose client died
  // stays `starting`; the next commit of `running` starts it again, a stop puts it back.
  if (state?.phase === 'starting') return RunState.Running
  // Likewise a stop takes effect when its reconfiguration lands (it writes `stopping`): stopped
  // from then on, while its process may still be given the grace period to exit.
  if (state?.phase === 'stopping') return RunState.Stopped
  if (powerState === 'poweredOn' && state !== null) {
    return mainEnded(state, procs) ? RunState.Stopped : RunState.Running
  }
  if (!state) return RunState.Created
  return RunState.Stopped
}

const time = (iso: string | null): Date | null => (iso === null ? null : new Date(iso))

function notStarted(processId: string): ProcessState {
  return {
    processId,
    status: ProcessStatus.NotStarted,
    guestPid: 0,
    exitCode: 0,
    exitMsg: '',
    startedAt: null,
    finishedAt: null,
  }
}

function recordedMain(processId: string, s: MainStateRecord, status: ProcessStatus): ProcessState {
  return {
    processId,
    status,
    guestPid: s.pid,
    exitCode: status === ProcessStatus.Exited ? s.exitCode : 0,
    exitMsg: status === ProcessStatus.Exited ? s.exitMsg : '',
    startedAt: time(s.startedAt),
    finishedAt: status === ProcessStatus.Exited ? time(s.finishedAt) : null,
  }
}

function ended(
  config: ProcessConfig,
  pid: number,
  startedAt: Date | null,
  exitCode: number,
  finishedAt: Date | null,
  message?: string,
): ProcessState {
  return {
    processId: config.processId,
    status: ProcessStatus.Exited,
    guestPid: pid,
    exitCode,
    exitMsg: message ?? exitMessage(config.execPath, config.execArgs, exitCode),
    startedAt,
    // Guest and client clocks may differ; an end never precedes its start.
    finishedAt: finishedAt && startedAt && finishedAt < startedAt ? startedAt : finishedAt,
  }
}

/** The state of the main process. */
export function mainProcessState(
  record: ContainerRecord,
  powerState: PowerState,
  procs?: readonly GuestProcessInfo[],
): ProcessState | null {
  const main = record.main
  if (!main) return null
  const s = record.mainState
  if (!s) return notStarted(main.processId)
  const on = powerState === 'poweredOn'
  switch (s.phase) {
    case 'starting':
      if (on || !s.startedAt) return notStarted(main.processId)
      return recordedMain(main.processId, s, ProcessStatus.Exited)
    case 'exited':
      // A stop that cut off the first start: the container stopped before its process began.
      if (!s.startedAt) return notStarted(main.processId)
      return recordedMain(main.processId, s, ProcessStatus.Exited)
    default: {
      const startedAt = time(s.startedAt)
      if (!on) return ended(main, s.pid, startedAt, POWER_OFF_EXIT_CODE, null, 'container powered off')
      if (!procs) return recordedMain(main.processId, s, ProcessStatus.Started)
      const live = livenessOf(procs, s.pid)
      if (live.kind === 'running') return recordedMain(main.processId, s, ProcessStatus.Started)
      if (live.kind === 'exited') return ended(main, s.pid, startedAt, live.exitCode, live.finishedAt)
      return ended(main, s.pid, startedAt, UNKNOWN_EXIT_CODE, null, GONE_MESSAGE)
    }
  }
}

/** The state of an exec'd process. */
export function execProcessState(
  exec: ExecRecord,
  record: ContainerRecord,
  powerState: PowerState,
  procs?: readonly GuestProcessInfo[],
): ProcessState {
  const startedAt = new Date(exec.startedAt)
  if (exec.exited) return ended(exec, exec.pid, startedAt, exec.exitCode, time(exec.finishedAt), exec.exitMsg)
  // Its run ended with a power-off (or a new run began): the process went with it.
  if (powerState !== 'poweredOn' || (record.mainState?.run ?? '') !== exec.run) {
    return ended(exec, exec.pid, startedAt, POWER_OFF_EXIT_CODE, null, 'container powered off')
  }
  const live = procs ? livenessOf(procs, exec.pid) : ({ kind: 'running' } as const)
  if (live.kind === 'exited') return ended(exec, exec.pid, startedAt, live.exitCode, live.finishedAt)
  if (live.kind === 'gone') return ended(exec, exec.pid, startedAt, UNKNOWN_EXIT_CODE, null, GONE_MESSAGE)
  return {
    processId: exec.processId,
    status: ProcessStatus.Started,
    guestPid: exec.pid,
    exitCode: 0,
    exitMsg: '',
    startedAt,
    finishedAt: null,
  }
}

/** The container's configuration. Limits are the VM's own (memoryMB, CPU limit) when it reports them. */
export function configOf(
  snapshot: VmSnapshot,
  record: ContainerRecord,
  defaults: ResourceLimits,
): ContainerConfig {
  const resolved = resolveLimits(record.limits, defaults)
  return {
    containerId: record.id,
    created: record.created,
    name: record.name,
    limits: {
      memoryMb:
        snapshot.memoryMb !== undefined && snapshot.memoryMb > 0 ? snapshot.memoryMb : resolved.memoryMb,
      cpuMhz:
        snapshot.cpuLimitMhz !== undefined && snapshot.cpuLimitMhz > 0
          ? snapshot.cpuLimitMhz
          : resolved.cpuMhz,
    },
    mainProcess: record.main ? { ...record.main } : null,
    execdProcs: record.execs.map((e) => ({
      processId: e.processId,
      workDir: e.workDir,
      execPath: e.execPath,
      execArgs: e.execArgs,
    })),
  }
}

/** The container's state. */
export function stateOf(
  record: ContainerRecord,
  powerState: PowerState,
  procs?: readonly GuestProcessInfo[],
): ContainerState {
  return {
    status: statusOf(record, powerState, procs),
    mainProcess: mainProcessState(record, powerState, procs),
    execdProcs: record.execs.map((e) => execProcessState(e, record, powerState, procs)),
  }
}
