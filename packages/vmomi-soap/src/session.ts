import { ErrorCode, type MoRef, PortLayerError } from '@portlayer/contracts'
import { gatewayError } from './errors.js'
import { isCredentialFault, LoginBackoff } from './login-backoff.js'
import type { Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import { CallScope } from './scope.js'
import { toSoapArgs } from './serialize.js'
import type { ResolvedSettings } from './settings.js'
import type { Transport } from './transport.js'

export interface SessionDeps {
  readonly settings: ResolvedSettings
  readonly redactor: Redactor
  readonly transport: Transport
  /** Aborted when the gateway closes: a login in progress is given up. */
  readonly closing: AbortSignal
  /** Sends one request with the gateway's transient retries, failures mapped; no session handling. */
  send(op: Operation, soapArgs: Record<string, unknown>, scope: CallScope): Promise<unknown>
  log(level: 'info' | 'warn', message: string): void
}

/**
 * The vSphere session of one gateway: the first `Login`, and one shared re-login per lost session.
 * Every request is sent under a session generation; callers that saw `NotAuthenticated` under the
 * same generation share one `Login`, and a caller whose generation is already stale simply sends
 * again. Holds the credentials in true privacy: nothing of it is reachable from outside.
 */
export class Session {
  readonly #deps: SessionDeps
  readonly #backoff: LoginBackoff
  #sessionManager: MoRef | undefined
  #generation = 0
  #relogin: Promise<void> | undefined
  #loggedIn = false
  #logins = 0

  constructor(deps: SessionDeps) {
    this.#deps = deps
    this.#backoff = new LoginBackoff(deps.settings.loginRetryBackoffMs)
  }

  /** Increases each time the session is renewed. */
  get generation(): number {
    return this.#generation
  }

  /** A login succeeded and no session loss was seen since (a Logout could end a session). */
  get loggedIn(): boolean {
    return this.#loggedIn
  }

  /** Successful logins. */
  get logins(): number {
    return this.#logins
  }

  /** The credentials were refused and no login has succeeded since. */
  get refused(): boolean {
    return this.#backoff.refused
  }

  /** The first Login, on connecting. */
  async login(sessionManager: MoRef | undefined, scope: CallScope): Promise<void> {
    if (!sessionManager) throw gatewayError(ErrorCode.Unsupported, 'vSphere endpoint has no session manager')
    this.#sessionManager = sessionManager
    await this.#login(scope)
  }

  async #login(scope: CallScope): Promise<void> {
    const { settings, redactor } = this.#deps
    redactor.add(settings.password)
    const args: Record<string, unknown> = {
      _this: this.#sessionManager,
      userName: settings.username,
      password: settings.password,
    }
    if (settings.locale !== undefined) args.locale = settings.locale
    const op = OPS.get('Login') as Operation
    const session = (await this.#deps.send(op, toSoapArgs(op, args), scope)) as { key?: string }
    redactor.add(session.key)
    this.#loggedIn = true
    this.#logins++
  }

  /**
   * The session generation a request is sent under. A request sent while a re-login is in progress
   * would carry no cookie, so it waits for the new session first. While refused credentials keep
   * the gateway from logging in, the request is not sent at all: it could only be refused. Once the
   * back-off is over, the first caller logs in before sending and the others share that login.
   */
  async current(scope: CallScope): Promise<number> {
    const refused = this.#backoff.check(scope.what)
    if (refused) throw refused
    if (this.#relogin || this.#backoff.refused) await this.restore(this.#generation, scope)
    return this.#generation
  }

  /**
   * One shared re-login per lost session: callers that saw the same generation share it. After the
   * credentials were refused, no Login is sent until the back-off has passed. A caller that gives up
   * stops waiting (its scope's error, nothing sent); the login carries on for the others.
   */
  restore(generation: number, scope: CallScope): Promise<void> {
    if (generation !== this.#generation) return Promise.resolve()
    if (this.#relogin === undefined) {
      const refused = this.#backoff.check(scope.what)
      if (refused) return Promise.reject(refused)
      this.#deps.log(
        'info',
        this.#backoff.refused
          ? 'vSphere login back-off over; logging in again'
          : 'vSphere session lost (NotAuthenticated); logging in again',
      )
      this.#deps.transport.clearSession()
      // Without a cookie a Logout could end no session, so close() skips it until a login succeeds.
      this.#loggedIn = false
      const loginScope = new CallScope('Login', this.#deps.settings.timeoutMs, undefined, this.#deps.closing)
      this.#relogin = this.#login(loginScope)
        .then(() => {
          this.#backoff.clear()
          this.#generation++
        })
        .catch((error: unknown) => {
          const fault = PortLayerError.isInstance(error) ? error.detail?.fault : undefined
          if (isCredentialFault(fault)) {
            const refused = this.#backoff.refuse(fault, error)
            this.#deps.log('warn', refused.message)
            throw refused
          }
          throw gatewayError(
            ErrorCode.Unavailable,
            `vSphere session lost and logging in again failed${typeof fault === 'string' ? ` (${fault})` : ''}`,
            { fault: 'NotAuthenticated', loginFault: fault },
            error,
          )
        })
        .finally(() => {
          loginScope.dispose()
          this.#relogin = undefined
        })
    }
    const shared = this.#relogin
    if (scope.signal.aborted) return Promise.reject(scope.error())
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(scope.error())
      scope.signal.addEventListener('abort', onAbort, { once: true })
      shared.then(resolve, reject).finally(() => scope.signal.removeEventListener('abort', onAbort))
    })
  }

  /** Forgets the session (on close). */
  end(): void {
    this.#deps.transport.clearSession()
    this.#loggedIn = false
  }
}
