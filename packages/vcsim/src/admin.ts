import { InvalidArgumentError, UnavailableError } from '@portlayer/contracts'

/**
 * Fault injection for reliability tests, served by the harness on a loopback-only endpoint.
 * Method names are vim25 SOAP method names (`ReconfigVM_Task`, `RetrievePropertiesEx`, …);
 * fault names are vim25 fault types (`NotAuthenticated`, `ConcurrentAccess`, `InvalidState`, …).
 */
export interface VcsimAdmin {
  /** The next `count` (default 1) calls of `method` fail with a SOAP fault `fault` and change nothing. */
  failNext(method: string, fault: string, count?: number): Promise<void>
  /** Every later call of `method` waits `ms` before it is served; 0 removes the delay. */
  delay(method: string, ms: number): Promise<void>
  /**
   * The next `count` (default 1) calls of `method` are applied, but the connection is closed
   * without an answer: the client never hears that the call succeeded.
   */
  dropResponse(method: string, count?: number): Promise<void>
  /** Ends every session: the next call of each client fails with `NotAuthenticated`. */
  expireSessions(): Promise<void>
  /** Removes every pending fault, delay and drop, and zeroes the call counters. */
  reset(): Promise<void>
  /** SOAP calls served since start (or the last reset), by method name. */
  calls(): Promise<Record<string, number>>
}

/** An admin client for the harness listening at `adminUrl`. */
export function createAdmin(adminUrl: string): VcsimAdmin {
  const request = async (path: string, body?: Record<string, unknown>): Promise<unknown> => {
    let response: Response
    try {
      response = await fetch(`${adminUrl}/${path}`, {
        method: body === undefined && path === 'calls' ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (cause) {
      throw new UnavailableError(`vcsim harness admin endpoint ${adminUrl} is unreachable`, {
        backend: 'vcsim',
        cause,
      })
    }
    const text = await response.text()
    if (response.status === 400)
      throw new InvalidArgumentError(`vcsim admin ${path}: ${text.trim()}`, { backend: 'vcsim' })
    if (!response.ok) {
      throw new UnavailableError(`vcsim admin ${path} failed with HTTP ${response.status}: ${text.trim()}`, {
        backend: 'vcsim',
      })
    }
    return text ? JSON.parse(text) : undefined
  }
  const count = (n: number | undefined): number => {
    const value = n ?? 1
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidArgumentError(`count must be a positive integer, got ${n}`)
    return value
  }
  return {
    async failNext(method, fault, n) {
      await request('fail', { method, fault, count: count(n) })
    },
    async delay(method, ms) {
      if (!Number.isInteger(ms) || ms < 0)
        throw new InvalidArgumentError(`delay must be a non-negative integer, got ${ms}`)
      await request('delay', { method, ms })
    },
    async dropResponse(method, n) {
      await request('drop', { method, count: count(n) })
    },
    async expireSessions() {
      await request('expire-sessions', {})
    },
    async reset() {
      await request('reset', {})
    },
    async calls() {
      return (await request('calls')) as Record<string, number>
    },
  }
}
