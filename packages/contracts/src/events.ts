import type { ID } from './ids.js'

/** The kinds of container event a backend can report. */
export const ContainerEventType = {
  Created: 'created',
  Started: 'started',
  Exited: 'exited',
  Stopped: 'stopped',
  Destroyed: 'destroyed',
} as const
export type ContainerEventType = (typeof ContainerEventType)[keyof typeof ContainerEventType]

/** A change in a container's life. `exited` is about one process, given by `processId`. */
export interface ContainerEvent {
  readonly type: ContainerEventType
  readonly containerId: ID
  readonly at: Date
  /** For `exited`: the process that exited (the main process or an exec'd one). */
  readonly processId?: ID
  /** For `exited`: its exit code. */
  readonly exitCode?: number
}
