import type { MoRef, ObjectContent } from '@portlayer/contracts/vmomi'

const TOKEN_PREFIX = 'portlayer-retrieval-'
/** Most retrievals kept open at once; opening another forgets the one idle longest. */
const MAX_OPEN = 256
/** vCenter forgets an idle retrieval too; so does the gateway, after this long. */
const IDLE_MS = 30 * 60_000

/**
 * A paged `RetrievePropertiesEx` in progress. Its server token is good only in the session that
 * opened it, so the gateway hands its callers a token of its own and keeps what it needs to carry
 * on after the session was renewed: the original request, to read again, and the objects already
 * delivered, to leave out.
 */
export interface Retrieval {
  /** The property collector it runs on. */
  readonly collector: MoRef
  /** The `RetrievePropertiesEx` request (serialised), to read again under a new session. */
  readonly request: Record<string, unknown>
  /** `type:value` of every object delivered so far. */
  readonly delivered: Set<string>
  /** The server's token; undefined once it cannot be used (session renewed, answer lost). */
  serverToken: string | undefined
  /** The session generation the server token belongs to. */
  generation: number
  touched: number
}

export function objectKey(o: ObjectContent): string {
  return `${o.obj?.type}:${o.obj?.value}`
}

/** The gateway's open retrievals, by the token its callers hold. */
export class Retrievals {
  readonly #open = new Map<string, Retrieval>()
  #next = 0

  /** Files `retrieval` under a new caller token (a token is good for one continuation). */
  open(retrieval: Retrieval): string {
    const now = Date.now()
    retrieval.touched = now
    for (const [token, r] of this.#open) {
      // Insertion order is the order of last use: the first entries are the idlest.
      if (now - r.touched <= IDLE_MS && this.#open.size < MAX_OPEN) break
      this.#open.delete(token)
    }
    const token = `${TOKEN_PREFIX}${++this.#next}`
    this.#open.set(token, retrieval)
    return token
  }

  /** The retrieval of `token`, removed (its next page gets a new token); undefined if unknown. */
  take(token: unknown): Retrieval | undefined {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) return undefined
    const r = this.#open.get(token)
    this.#open.delete(token)
    return r
  }

  /** True for a token this gateway handed out (open or not). */
  static isOurs(token: unknown): boolean {
    return typeof token === 'string' && token.startsWith(TOKEN_PREFIX)
  }

  get size(): number {
    return this.#open.size
  }
}
