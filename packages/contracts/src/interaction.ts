import type { CallOptions } from './call-options.js'
import type { ContainerEvent, ContainerEventType } from './events.js'
import type { ID } from './ids.js'
import type { ProcessState } from './model.js'

/**
 * Told instead of events a stream may have missed (a lost session, a reconnect): a consumer
 * lists and reads again. Carries no container.
 */
export interface ResyncEvent {
  readonly type: 'resync'
  readonly at: Date
}

/** What {@link Interaction.events} yields: a container's change, or a {@link ResyncEvent}. */
export type PortLayerEvent = ContainerEvent | ResyncEvent

/** The type of a {@link PortLayerEvent}. */
export type PortLayerEventType = ContainerEventType | 'resync'

/** Which events a stream reports. Every stream, filtered or not, gets `resync` events. */
export interface EventFilter {
  /** Only these types (all when omitted). */
  readonly types?: readonly PortLayerEventType[]
  /** Only this container's events; it may not exist yet (to see its `created`). */
  readonly containerId?: ID
}

/**
 * The events from now on, made by any client, in the order they happened per container.
 * Breaking out of a `for await` loop, `return()`, the call's signal or the backend's `close()`
 * ends it.
 */
export interface EventStream extends AsyncIterableIterator<PortLayerEvent> {
  /** Resolves once changes are watched: every change that completes after it is reported. */
  readonly ready: Promise<void>
}

/** The stream a chunk of output was written to. */
export type OutputStreamName = 'stdout' | 'stderr'

/** A piece of what a process wrote. */
export interface OutputChunk {
  readonly stream: OutputStreamName
  readonly data: Uint8Array
  /**
   * Bytes of this stream dropped just before this chunk because the process wrote more than the
   * backend keeps (`outputLimitBytes` per stream); absent when none were.
   */
  readonly dropped?: number
}

/** Options of {@link Interaction.readOutput}. */
export interface ReadOutputOptions extends CallOptions {
  /**
   * Without it the output ends at what has been written so far; with it, once the process has
   * exited and its output is drained.
   */
  readonly follow?: boolean
}

/** How many bytes of each stream a backend keeps per process unless configured otherwise (1 MiB). */
export const DEFAULT_OUTPUT_LIMIT_BYTES = 1024 * 1024

/** Watching containers, waiting for processes and reading what they wrote (every backend). */
export interface Interaction {
  /**
   * The changes from now on, made by any client. `NOT_FOUND` never: a filter may name a
   * container that does not exist yet.
   * @throws InvalidArgumentError (from the call or the first `next()`) for a malformed filter.
   */
  events(filter?: EventFilter, options?: CallOptions): EventStream
  /**
   * The state of the process (the main process for a container ID) once it has exited; at once if
   * it already has. An aborted wait rejects with `CANCELLED` and leaves the process running.
   * @throws NotFoundError for an unknown ID; InvalidStateError for a container whose main process
   * was never started.
   */
  waitForExit(processOrContainerId: ID, options?: CallOptions): Promise<ProcessState>
  /**
   * What the process (the main process for a container ID) wrote, in order per stream. Readable
   * after it exited, while its container is stopped and after it starts again, until destroy.
   * @throws NotFoundError from the call or from the first `next()`.
   */
  readOutput(processOrContainerId: ID, options?: ReadOutputOptions): AsyncIterable<OutputChunk>
}
