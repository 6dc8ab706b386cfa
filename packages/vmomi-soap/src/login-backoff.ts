import { ErrorCode, type PortLayerError } from '@portlayer/contracts'
import { gatewayError } from './errors.js'
import { ancestry } from './schema/registry.js'

/** True for `InvalidLogin` and its subtypes (`PasswordExpired`, `InvalidClientCertificate`). */
export function isCredentialFault(fault: unknown): fault is string {
  return typeof fault === 'string' && ancestry(fault).includes('InvalidLogin')
}

interface Refusal {
  readonly fault: string
  /** Monotonic time (performance.now) before which no Login may be sent. */
  readonly until: number
  /** The same moment on the wall clock, for messages. */
  readonly retryAt: Date
  readonly cause: unknown
}

function wait(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Math.ceil(ms / 1_000)} s`
}

/**
 * Account-lockout protection. vCenter SSO locks an account after a few failed logins, and a caller
 * polling every few seconds would reach that quickly if each call logged in again with a refused
 * password. Once the server refuses the credentials, no Login is sent until the period has passed.
 * Measured on the monotonic clock, so a wall-clock step neither ends nor stretches the pause.
 */
export class LoginBackoff {
  #refusal: Refusal | undefined

  constructor(
    readonly periodMs: number,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** The credentials were refused with `fault`; returns the error to give the callers that waited. */
  refuse(fault: string, cause: unknown): PortLayerError {
    const refusal: Refusal = {
      fault,
      until: this.now() + this.periodMs,
      retryAt: new Date(Date.now() + this.periodMs),
      cause,
    }
    this.#refusal = refusal
    return this.#error(
      `vSphere session lost and logging in again failed: the credentials were refused (${fault})`,
      refusal,
      this.periodMs,
    )
  }

  /** A login succeeded. */
  clear(): void {
    this.#refusal = undefined
  }

  /** The last login was refused and none has succeeded since (the pause may be over). */
  get refused(): boolean {
    return this.#refusal !== undefined
  }

  /** The error for `what` while no Login may be sent; undefined once the pause is over. */
  check(what: string): PortLayerError | undefined {
    const refusal = this.#refusal
    const remaining = this.#remaining()
    if (refusal === undefined || remaining <= 0) return undefined
    return this.#error(
      `vSphere ${what} not sent: the credentials were refused (${refusal.fault}) when the lost session was renewed`,
      refusal,
      remaining,
    )
  }

  #remaining(): number {
    return this.#refusal === undefined ? 0 : Math.ceil(this.#refusal.until - this.now())
  }

  #error(lead: string, refusal: Refusal, remainingMs: number): PortLayerError {
    return gatewayError(
      ErrorCode.Unavailable,
      `${lead}; to keep the account from being locked, no login is tried again before ` +
        `${refusal.retryAt.toISOString()} (in ${wait(remainingMs)})`,
      {
        fault: 'NotAuthenticated',
        loginFault: refusal.fault,
        retryAt: refusal.retryAt.toISOString(),
        retryInMs: remainingMs,
      },
      refusal.cause,
    )
  }
}
