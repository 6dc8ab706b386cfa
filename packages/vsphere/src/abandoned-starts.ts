/**
 * The staged starts this process gave up on with an unknown outcome (see staged-start.ts): the
 * next commit here that finds one still staged takes it back at once instead of waiting as long
 * as a start may take, since its owner is known to have stopped.
 */
export class AbandonedStarts {
  readonly #tokens = new Set<string>()

  add(token: string): void {
    this.#tokens.add(token)
  }

  has(token: string): boolean {
    return this.#tokens.has(token)
  }

  delete(token: string): void {
    this.#tokens.delete(token)
  }
}
