import type { ID } from './ids.js'
import type { ProcessStatus, RunState } from './states.js'

/** Memory in MiB and CPU in MHz. Always positive integers once resolved by a backend. */
export interface ResourceLimits {
  memoryMb: number
  cpuMhz: number
}

/** How a process is started: working directory, program path and its argument string. */
export interface ProcessConfig {
  processId: ID
  workDir: string
  execPath: string
  /** One string, split on white space with POSIX-shell single/double quotes. */
  execArgs: string
}

/** The configuration of a committed container. */
export interface ContainerConfig {
  /** Constant: fixed when the create-handle was made. */
  containerId: ID
  /** Constant: when the container was first committed. */
  created: Date
  name: string
  /** Resolved limits (backend defaults filled in); never `-1`. */
  limits: ResourceLimits
  /** `null` until an entry point is set. */
  mainProcess: ProcessConfig | null
  execdProcs: ProcessConfig[]
}

/** The observed state of one process. */
export interface ProcessState {
  processId: ID
  status: ProcessStatus
  /** Positive and unique within the container once started; 0 before. */
  guestPid: number
  /** Meaningful once `status` is `exited`; `128 + n` when ended by signal `n`. */
  exitCode: number
  /** Empty unless the process exited with a message (e.g. program not found). */
  exitMsg: string
  startedAt: Date | null
  finishedAt: Date | null
}

/** The observed state of a committed container. */
export interface ContainerState {
  status: RunState
  mainProcess: ProcessState | null
  execdProcs: ProcessState[]
}
