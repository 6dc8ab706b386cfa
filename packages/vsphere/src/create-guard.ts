import type { ID } from '@portlayer/contracts'
import { abortedError, scopeSignal, throwIfAborted } from './call-scope.js'

function untilSettledOrAborted(earlier: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  const settled = earlier.then(
    () => undefined,
    () => undefined,
  )
  if (!signal) return settled
  throwIfAborted()
  return new Promise((resolve, reject) => {
    // Listeners run outside the call's async context: the signal itself says why.
    const onAbort = () => reject(abortedError(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    settled.then(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    })
  })
}

/**
 * Commits of one create-handle in this process run one after another, so the second finds the
 * first's VM (across processes vSphere's `DuplicateName` does the same).
 */
export class CreateGuard {
  readonly #underWay = new Map<ID, Promise<ID>>()

  async oneAtATime(id: ID, create: () => Promise<ID>): Promise<ID> {
    const before = this.#underWay.get(id)
    const signal = scopeSignal()
    const mine = (async () => {
      // Waiting for the earlier commit follows this call's signal: an aborted wait applied nothing.
      if (before) await untilSettledOrAborted(before, signal)
      return create()
    })()
    this.#underWay.set(id, mine)
    try {
      return await mine
    } finally {
      if (this.#underWay.get(id) === mine) this.#underWay.delete(id)
    }
  }
}
