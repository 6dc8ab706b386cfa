import {
  type EventFilter,
  type ID,
  type Interaction,
  PortLayerError,
  type PortLayerEvent,
} from '@portlayer/contracts'

/** Where the example prints; the default is stdout. */
export type Log = (line: string) => void

/** A stream being printed: `ready` once changes are watched, `done` with the count once it ends. */
export interface Watching {
  readonly ready: Promise<void>
  readonly done: Promise<number>
}

/** One line for an event, the way `docker events` prints them. */
export function describeEvent(e: PortLayerEvent): string {
  const time = e.at.toISOString().slice(11, 23)
  if (e.type === 'resync')
    return `${time}  resync     (events may have been missed: list the containers again)`
  const exit = e.type === 'exited' ? `  process ${short(e.processId)} exit code ${e.exitCode}` : ''
  return `${time}  ${e.type.padEnd(9)}  container ${short(e.containerId)}${exit}`
}

function short(id: ID | undefined): string {
  return id === undefined ? '-' : id.slice(0, 8)
}

/**
 * Prints every event of `pl` (any backend) from now on until the stream ends: `signal` aborts it
 * (a backend then finishes the stream or rejects with CANCELLED; both end the watch quietly), as
 * does the backend's `close()`.
 */
export function watchEvents(
  pl: Pick<Interaction, 'events'>,
  log: Log = console.log,
  options: { filter?: EventFilter; signal?: AbortSignal } = {},
): Watching {
  const stream = pl.events(options.filter, { signal: options.signal })
  const done = (async () => {
    let count = 0
    try {
      for await (const e of stream) {
        log(describeEvent(e))
        count++
      }
    } catch (e) {
      if (!PortLayerError.isInstance(e, 'CANCELLED')) throw e
    }
    return count
  })()
  return { ready: stream.ready, done }
}
