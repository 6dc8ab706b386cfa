import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { gatewayError } from './errors.js'
import { type Invoker, newTrace, type Trace } from './invocation.js'
import { isCredentialFault, LoginBackoff } from './login-backoff.js'
import type { Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import { CallScope } from './scope.js'
import { toSoapArgs } from './serialize.js'
import { isSessionLost } from './session-lost.js'
import type { ResolvedSettings } from './settings.js'
import type { Transport } from './transport.js'
import { errorText, SERVICE_INSTANCE } from './values.js'

const LOGOUT_TIMEOUT_MS = 5_000

export interface SessionDeps {
  readonly settings: ResolvedSettings
  readonly redactor: Redactor
  /** Holds the session cookie. */
  readonly transport: Transport
  /** Sends the requests, with no session handling of its own. */
  readonly invoker: Invoker
}

/**
 * The vSphere session of one gateway: the first `Login`, one shared re-login per lost session
 * (whichever form the loss took), the login back-off after refused credentials, the keepalive and
 * the `Logout`. Every request is sent under a session generation; callers that saw
 * `NotAuthenticated` under the same generation share one `Login`, and a caller whose generation is
 * already stale simply sends again. Holds the credentials in true privacy: nothing of it is
 * reachable from outside.
 */
export class Session {
  readonly #deps: SessionDeps
  readonly #backoff: LoginBackoff
  #sessionManager: MoRef | undefined
  #generation = 0
  #relogin: Promise<void> | undefined
  #loggedIn = false
  #logins = 0
  #keepAlive: NodeJS.Timeout | undefined

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

  /** The first Login, on connecting; the keepalive starts after it. */
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
    const session = (await this.#deps.invoker.send(op, toSoapArgs(op, args), scope)) as { key?: string }
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
      const { invoker, settings, transport } = this.#deps
      invoker.log(
        'info',
        this.#backoff.refused
          ? 'vSphere login back-off over; logging in again'
          : 'vSphere session lost (NotAuthenticated); logging in again',
      )
      transport.clearSession()
      // Without a cookie a Logout could end no session, so close() skips it until a login succeeds.
      this.#loggedIn = false
      const loginScope = invoker.scope('Login', settings.timeoutMs)
      this.#relogin = this.#login(loginScope)
        .then(() => {
          this.#backoff.clear()
          this.#generation++
        })
        .catch((error: unknown) => {
          const fault = PortLayerError.isInstance(error) ? error.detail?.fault : undefined
          if (isCredentialFault(fault)) {
            const refused = this.#backoff.refuse(fault, error)
            invoker.log('warn', refused.message)
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

  /**
   * A call under the session: wait for a re-login in progress; on NotAuthenticated as a fault
   * (the call was refused) or a missingSet entry of a read, one shared re-login and one more send.
   * A paging continuation is not sent again: its token died with the session, so the lost session
   * is reported (after the re-login) for the caller to resume. `trace.generation` says which
   * session the call was last sent under.
   */
  async call(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    const { invoker } = this.#deps
    const generation = await this.current(scope)
    trace.generation = generation
    try {
      return await invoker.sendChecked(op, soapArgs, scope, trace)
    } catch (error) {
      if (!isSessionLost(error) || op.name === 'Login' || op.name === 'Logout' || invoker.closing.aborted)
        throw error
      await this.restore(generation, scope)
      if (op.name === 'ContinueRetrievePropertiesEx' || op.name === 'CancelRetrievePropertiesEx') throw error
      trace.generation = this.#generation
      try {
        return await invoker.sendChecked(op, soapArgs, scope, trace)
      } catch (again) {
        if (!isSessionLost(again)) throw again
        throw gatewayError(
          ErrorCode.Unavailable,
          `vSphere ${op.name}: session lost again right after logging in`,
          { method: op.name, fault: 'NotAuthenticated' },
          again,
        )
      }
    }
  }

  /** Sends a `CurrentTime` after `keepAliveMs` without a request, so the server keeps the session. */
  startKeepAlive(): void {
    const every = this.#deps.settings.keepAliveMs
    if (every <= 0) return
    this.#keepAlive = setInterval(() => void this.#ping(), Math.max(1, Math.floor(every / 2)))
    this.#keepAlive.unref()
  }

  async #ping(): Promise<void> {
    const { invoker, settings } = this.#deps
    if (invoker.closing.aborted || invoker.idleMs() < settings.keepAliveMs) return
    // There is no session to keep alive, and retrying refused credentials is left to the calls that
    // need them: an idle gateway never adds failed logins on its own.
    if (this.refused) return
    const op = OPS.get('CurrentTime') as Operation
    const scope = invoker.scope('CurrentTime', settings.timeoutMs)
    try {
      await this.call(op, toSoapArgs(op, { _this: SERVICE_INSTANCE }), scope, newTrace())
      invoker.log('debug', 'keepalive sent')
    } catch (error) {
      if (!invoker.closing.aborted) invoker.log('warn', `keepalive failed: ${errorText(error)}`)
    } finally {
      scope.dispose()
    }
  }

  /** Stops the keepalive: the gateway is closing. */
  stopKeepAlive(): void {
    if (this.#keepAlive) clearInterval(this.#keepAlive)
  }

  /**
   * Ends the session (on close): a `Logout` if a session may be open, which the gateway's closing
   * does not stop, then the cookie is forgotten.
   */
  async logout(): Promise<void> {
    const { invoker } = this.#deps
    if (this.#sessionManager && this.#loggedIn) {
      const op = OPS.get('Logout') as Operation
      const scope = new CallScope('Logout', LOGOUT_TIMEOUT_MS, undefined, new AbortController().signal)
      try {
        await invoker.send(op, toSoapArgs(op, { _this: this.#sessionManager }), scope)
      } catch (error) {
        invoker.log('warn', `Logout failed: ${errorText(error)}`)
      } finally {
        scope.dispose()
      }
    }
    this.#deps.transport.clearSession()
    this.#loggedIn = false
  }
}
