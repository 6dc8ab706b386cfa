import {
  describeValue,
  type ID,
  type OutputChunk,
  type ProcessState,
  validateCallOptions,
  validateId,
} from '@portlayer/contracts'
import type { Call } from './call.js'
import { type Engine, processState } from './engine.js'
import { BACKEND, closed, invalidArgument, invalidState, notFound } from './errors.js'
import type { Faults } from './faults.js'
import { DESTROYED, EXITED, NOT_STARTED, type Proc, STARTED, watch } from './records.js'

// Waiting for exits and reading output. Both are woken by the process record (its watchers are
// told of every write, exit and restart) and by the end of its world (restore, close), never
// polled, so they cost nothing on the clock.

/** What waits and readers need of the simulator client that made them. */
export interface InteractionHost {
  /** The current world (restore replaces it). */
  currentEngine(): Engine
  readonly faults: Faults
}

/**
 * The process a call is about: a process ID, or a container ID for its main process. A container
 * whose main process never started gives `null` (no entry point: also `null`).
 */
function target(engine: Engine, id: ID): Proc | null {
  const c = engine.containers.get(id)
  if (c !== undefined) {
    const m = c.main
    return m === null || m.status === NOT_STARTED ? null : m
  }
  const p = engine.procs.get(id)
  if (p !== undefined) return p.status === NOT_STARTED ? null : p
  validateId(id, 'processOrContainerId', BACKEND)
  throw notFound(`no container or process ${id}`, id)
}

/**
 * Resolves with the state of `id`'s process once it has exited (see `Simulator.waitForExit`).
 * `call` carries the signal; an abort rejects with CANCELLED and leaves the process as it is.
 */
export function waitForExit(host: InteractionHost, id: ID, call: Call | undefined): Promise<ProcessState> {
  return new Promise((resolve, reject) => {
    let unwatchCall: () => void = noop
    let unwatchProc: () => void = noop
    let settled = false
    const fail = (e: unknown): void => {
      settled = true
      unwatchProc()
      unwatchCall()
      reject(e)
    }
    // Finds the process (again, after a restore) and either settles or waits for it to change.
    const attach = (): void => {
      let p: Proc | null
      try {
        if (host.faults.closed) throw closed('waitForExit', id)
        p = target(host.currentEngine(), id)
      } catch (e) {
        fail(e)
        return
      }
      if (p === null) {
        fail(invalidState(`the main process of container ${id} was never started`, id))
        return
      }
      const proc = p
      const check = (): void => {
        if (host.faults.closed) fail(closed('waitForExit', id))
        else if (proc.container.status === DESTROYED) {
          // The world was replaced (restore): the process may be there again, in another state.
          unwatchProc()
          attach()
        } else if (proc.status === EXITED) {
          settled = true
          unwatchProc()
          unwatchCall()
          resolve(processState(proc))
        }
      }
      if (proc.status === EXITED) {
        check()
        return
      }
      unwatchProc = watch(proc, check)
    }
    if (call !== undefined) unwatchCall = call.watch(fail)
    if (!settled) attach()
  })
}

/** `readOutput`'s options, read once: INVALID_ARGUMENT for anything malformed. */
export function readOutputOptions(options: unknown): { follow: boolean; signal: AbortSignal | undefined } {
  const signal = validateCallOptions(options, BACKEND)?.signal
  if (options === undefined) return { follow: false, signal }
  let follow: unknown
  try {
    follow = (options as { follow?: unknown }).follow
  } catch (e) {
    throw invalidArgument('options could not be read (a getter or proxy trap threw)', undefined, e)
  }
  if (follow !== undefined && typeof follow !== 'boolean')
    throw invalidArgument(`options.follow must be a boolean, got ${describeValue(follow)}`)
  return { follow: follow === true, signal }
}

/**
 * Reads what `id`'s process wrote (see `Simulator.readOutput`). Each iteration starts from the
 * beginning of what is kept; `makeCall` gives each one its cancellation.
 */
export function readOutput(
  host: InteractionHost,
  id: ID,
  follow: boolean,
  makeCall: () => Call | undefined,
): AsyncIterable<OutputChunk> {
  return {
    [Symbol.asyncIterator]: () => new OutputReader(host, id, follow, makeCall()),
  }
}

const DONE: IteratorResult<OutputChunk> = Object.freeze({ value: undefined, done: true })

class OutputReader implements AsyncIterableIterator<OutputChunk> {
  /** `undefined` until the first `next()` found the process; `null`: nothing to read. */
  private proc: Proc | null | undefined
  /** The run being read (a main process that starts again writes afresh). */
  private pid = 0
  private readonly pos: [number, number] = [0, 0]
  private done = false
  /** Ends a wait in progress (return). */
  private stopWaiting: (() => void) | null = null
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly host: InteractionHost,
    private readonly id: ID,
    private readonly follow: boolean,
    private readonly call: Call | undefined,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<OutputChunk> {
    return this
  }

  next(): Promise<IteratorResult<OutputChunk>> {
    // One at a time, in order, as an async generator would.
    const result = this.queue.then(() => this.step())
    this.queue = result.catch(noop)
    return result
  }

  return(): Promise<IteratorResult<OutputChunk>> {
    this.done = true
    this.stopWaiting?.()
    return Promise.resolve(DONE)
  }

  private async step(): Promise<IteratorResult<OutputChunk>> {
    if (this.done) return DONE
    try {
      return await this.read()
    } catch (e) {
      this.done = true
      throw e
    }
  }

  private async read(): Promise<IteratorResult<OutputChunk>> {
    const { host, id, call } = this
    call?.check()
    if (this.proc === undefined) {
      if (host.faults.armed) await host.faults.enter('readOutput', id, call)
      this.proc = target(host.currentEngine(), id)
      this.pid = this.proc?.pid ?? 0
    }
    for (;;) {
      if (this.done) return DONE
      if (host.faults.closed) throw closed('readOutput', id)
      const p = this.proc
      if (p === null) return this.finish()
      if (p.container.status === DESTROYED) {
        // Destroyed, or its world replaced by a restore: gone, or what this read is over.
        target(host.currentEngine(), id)
        return this.finish()
      }
      if (p.pid !== this.pid) return this.finish()
      const chunk = p.output?.next(this.pos)
      if (chunk !== undefined) return { value: chunk, done: false }
      if (!this.follow || p.status !== STARTED) return this.finish()
      await this.changeOf(p)
    }
  }

  private finish(): IteratorResult<OutputChunk> {
    this.done = true
    return DONE
  }

  /** Resolves when `p` writes, exits or its world ends; rejects on an abort. */
  private changeOf(p: Proc): Promise<void> {
    return new Promise((resolve, reject) => {
      let unwatchCall: () => void = noop
      const stop = (): void => {
        unwatchProc()
        unwatchCall()
        this.stopWaiting = null
        resolve()
      }
      const unwatchProc = watch(p, stop)
      this.stopWaiting = stop
      if (this.call !== undefined) {
        unwatchCall = this.call.watch((e) => {
          unwatchProc()
          this.stopWaiting = null
          reject(e)
        })
      }
    })
  }
}

/** Wakes every wait and reader of `engine`'s processes, so each looks again (restore, close). */
export function wakeAll(engine: Engine): void {
  for (const p of engine.procs.values()) {
    const watchers = p.watchers
    if (watchers !== null) for (const w of Array.from(watchers)) w()
  }
}

function noop(): void {}
