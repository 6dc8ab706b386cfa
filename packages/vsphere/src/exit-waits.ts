import type { ID, PortLayerEvent } from '@portlayer/contracts'
import { abortedError, scopeSignal, unscoped } from './call-scope.js'
import type { EventHub } from './events/index.js'

// Waiting for exits without a poll loop per caller: the waiters of one container share one loop
// of looks. A look asks vSphere (a property read and, while something runs, the guest's process
// list — which also records an exit it finds, for everyone). Between looks the loop sleeps until
// the event stream tells of a change to that container (another client recorded the exit, the
// background poll did, the container was stopped or destroyed, a resync) or, at the latest,
// `idleLookMs` passed: a process's end shows in vSphere's properties only once someone recorded it.

interface Waiter<S> {
  /** Takes a look's result; true when this waiter is done. */
  take(state: S): boolean
  fail(error: unknown): void
}

interface Loop<S> {
  readonly waiters: Set<Waiter<S>>
  wake?: () => void
}

/** The shared exit waits of one backend (one loop per container with waiters). */
export class ExitWaits {
  readonly #loops = new Map<ID, Loop<unknown>>()

  constructor(
    private readonly hub: EventHub,
    private readonly idleLookMs: number,
  ) {}

  /** How many containers are being waited for now (for tests). */
  get containers(): number {
    return this.#loops.size
  }

  /**
   * Resolves with `pick(look())` once it is defined, sharing the looks with every other waiter of
   * container `id` (the first waiter's `look` is the loop's). Rejects with what a look throws, or
   * with `CANCELLED` when the calling scope's signal aborts (the waits of others go on).
   */
  wait<S, T>(id: ID, look: () => Promise<S>, pick: (state: S) => T | undefined): Promise<T> {
    const signal = scopeSignal()
    return new Promise<T>((resolve, reject) => {
      let loop = this.#loops.get(id) as Loop<S> | undefined
      const waiter: Waiter<S> = {
        take: (state) => {
          let value: T | undefined
          try {
            value = pick(state)
          } catch (e) {
            // What this waiter makes of the state (e.g. no such process) is its own failure.
            finish()
            reject(e)
            return true
          }
          if (value === undefined) return false
          finish()
          resolve(value)
          return true
        },
        fail: (error) => {
          finish()
          reject(error)
        },
      }
      const onAbort = (): void => {
        finish()
        reject(abortedError(signal as AbortSignal))
      }
      const finish = (): void => {
        signal?.removeEventListener('abort', onAbort)
        loop?.waiters.delete(waiter)
        loop?.wake?.()
      }
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      if (!loop) {
        loop = { waiters: new Set() }
        this.#loops.set(id, loop as Loop<unknown>)
        loop.waiters.add(waiter)
        void unscoped(() => this.#run(id, loop as Loop<S>, look))
      } else loop.waiters.add(waiter)
    })
  }

  async #run<S>(id: ID, loop: Loop<S>, look: () => Promise<S>): Promise<void> {
    let changed = false
    const unsubscribe = this.hub.subscribe({
      deliver: (events: readonly PortLayerEvent[]) => {
        if (events.some((e) => e.type === 'resync' || e.containerId === id)) {
          changed = true
          loop.wake?.()
        }
      },
      watching: () => {},
      closed: () => loop.wake?.(),
    })
    try {
      while (loop.waiters.size > 0) {
        changed = false
        try {
          const state = await look()
          for (const w of [...loop.waiters]) w.take(state)
        } catch (e) {
          for (const w of [...loop.waiters]) w.fail(e)
        }
        if (loop.waiters.size === 0) break
        if (!changed) await this.#sleep(loop)
      }
    } finally {
      unsubscribe()
      this.#loops.delete(id)
    }
  }

  #sleep<S>(loop: Loop<S>): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.idleLookMs)
      function done(): void {
        clearTimeout(timer)
        loop.wake = undefined
        resolve()
      }
      loop.wake = done
    })
  }
}
