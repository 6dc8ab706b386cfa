import type { ID } from '@portlayer/contracts'

/**
 * Commits of one create-handle in this process run one after another, so the second finds the
 * first's VM (across processes vSphere's `DuplicateName` does the same).
 */
export class CreateGuard {
  readonly #underWay = new Map<ID, Promise<ID>>()

  async oneAtATime(id: ID, create: () => Promise<ID>): Promise<ID> {
    const before = this.#underWay.get(id)
    const mine = (async () => {
      if (before) await before.catch(() => {})
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
