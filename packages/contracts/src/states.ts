/** The run state of a container. */
export const RunState = {
  Created: 'created',
  Running: 'running',
  Stopped: 'stopped',
} as const
export type RunState = (typeof RunState)[keyof typeof RunState]

/** The life of one process (main or exec'd). */
export const ProcessStatus = {
  NotStarted: 'not-started',
  Started: 'started',
  Exited: 'exited',
} as const
export type ProcessStatus = (typeof ProcessStatus)[keyof typeof ProcessStatus]

const RUN_STATES: ReadonlySet<string> = new Set(Object.values(RunState))

/** True when `value` is one of the {@link RunState} strings. */
export function isRunState(value: unknown): value is RunState {
  return typeof value === 'string' && RUN_STATES.has(value)
}
