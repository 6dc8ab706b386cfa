import type { ID } from '@portlayer/contracts'
import { unscoped } from './call-scope.js'

/**
 * The containers seen running, and the background poll that looks at them for exits: one round
 * at a time, none after `stop`. What a round does is given (see `pollRound` in observe-exits.ts),
 * so the watcher holds only the state.
 */
export class ExitWatcher {
  readonly #watched = new Set<ID>()
  #timer: ReturnType<typeof setInterval> | undefined
  #round: Promise<void> | undefined
  #stopped = false

  constructor(
    private readonly pollRound: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  get stopped(): boolean {
    return this.#stopped
  }

  watch(id: ID): void {
    this.#watched.add(id)
  }

  unwatch(id: ID): void {
    this.#watched.delete(id)
  }

  isWatched(id: ID): boolean {
    return this.#watched.has(id)
  }

  /** The containers watched now (a copy: rounds unwatch while they go). */
  watchedIds(): ID[] {
    return [...this.#watched]
  }

  /** Polls every `intervalMs` outside any call's scope (a round serves no caller). */
  start(intervalMs: number): void {
    if (this.#stopped || this.#timer || intervalMs <= 0) return
    this.#timer = setInterval(() => void unscoped(() => this.poll()), intervalMs)
    this.#timer.unref?.()
  }

  /** Runs a round unless one is under way (then that one is awaited) or nothing is watched. */
  poll(): Promise<void> {
    if (this.#round || this.#stopped || this.#watched.size === 0) return this.#round ?? Promise.resolve()
    this.#round = this.pollRound()
      .catch((e) => this.onError(e))
      .finally(() => {
        this.#round = undefined
      })
    return this.#round
  }

  /** Stops the timer and waits for a round under way. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#round
  }
}
