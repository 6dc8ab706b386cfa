import { setMaxListeners } from 'node:events'
import {
  ErrorCode,
  type HttpTransferRequest,
  type HttpTransferResponse,
  type MoRef,
  PortLayerError,
  type ServiceContent,
  type TaskInfo,
  type VimArgs,
  type VimMethodName,
  type VimResult,
  type VmomiCallOptions,
  type VmomiGateway,
} from '@portlayer/contracts'
import { GatewayCause, gatewayError } from './errors.js'
import { type FaultContext, faultError, faultFromSoapError } from './faults.js'
import { isCredentialFault, LoginBackoff } from './login-backoff.js'
import { normalizeField } from './normalize.js'
import { collectSecrets, Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import { CallScope, sleep } from './scope.js'
import { toSoapArgs } from './serialize.js'
import { type ResolvedSettings, resolveSettings, type SoapGatewaySettings } from './settings.js'
import { createVimSoapClient, type VimSoapClient } from './soap-client.js'
import { pollTask } from './tasks.js'
import { createAgents } from './tls.js'
import { performTransfer } from './transfer.js'
import {
  isTransientStatus,
  isTransientTransportError,
  Transport,
  TransportError,
  toTransportError,
  transportFailure,
} from './transport.js'

/** Counters of one gateway, for tests and diagnostics. */
export interface SoapGatewayStats {
  /** SOAP requests sent, retries and internal calls (task polls, keepalives, logins) included. */
  readonly requests: number
  /** Requests by vim25 method. */
  readonly requestsByMethod: Readonly<Record<string, number>>
  /** Successful `Login`s: 1 after connecting, +1 per session restored. */
  readonly logins: number
  /** Re-sent requests after a transient network error. */
  readonly retries: number
  /** HTTP transfers attempted. */
  readonly transfers: number
}

/** The node-soap `VmomiGateway`, already logged in. */
export interface SoapGateway extends VmomiGateway {
  /** The SDK endpoint this gateway talks to. */
  readonly url: string
  stats(): SoapGatewayStats
}

const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' }
const LOGOUT_TIMEOUT_MS = 5_000
const CANCEL_TIMEOUT_MS = 10_000
const TASK_NAMES_KEPT = 1_000

/** An HTTP status without a SOAP body (e.g. a proxy's 503). */
class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP status ${status}`)
  }
}

function isTransient(error: unknown): boolean {
  if (error instanceof TransportError) return isTransientTransportError(error)
  return error instanceof HttpStatusError && isTransientStatus(error.status)
}

function isNotAuthenticated(error: unknown): boolean {
  return PortLayerError.isInstance(error) && error.detail?.fault === 'NotAuthenticated'
}

function httpStatusOf(error: unknown): number | undefined {
  const e = error as { response?: { status?: unknown } } | null
  return typeof e?.response?.status === 'number' ? e.response.status : undefined
}

class SoapGatewayImpl implements SoapGateway {
  readonly url: string
  #serviceContent: ServiceContent | undefined
  readonly #settings: ResolvedSettings
  readonly #redactor: Redactor
  readonly #transport: Transport
  readonly #client: VimSoapClient
  readonly #closing = new AbortController()
  #closed: Promise<void> | undefined
  #generation = 0
  #relogin: Promise<void> | undefined
  readonly #loginBackoff: LoginBackoff
  #keepAlive: NodeJS.Timeout | undefined
  #lastActivity = Date.now()
  #inFlight = 0
  #loggedIn = false
  readonly #taskMethods = new Map<string, string>()
  readonly #stats = { requests: 0, logins: 0, retries: 0, transfers: 0 }
  readonly #byMethod: Record<string, number> = {}

  constructor(settings: ResolvedSettings, redactor: Redactor, transport: Transport, client: VimSoapClient) {
    this.#settings = settings
    this.#redactor = redactor
    this.#transport = transport
    this.#client = client
    this.url = settings.url.href
    this.#loginBackoff = new LoginBackoff(settings.loginRetryBackoffMs)
    // Every operation in flight listens for the gateway closing; many at once is normal here.
    setMaxListeners(0, this.#closing.signal)
  }

  get serviceContent(): ServiceContent {
    if (this.#serviceContent === undefined)
      throw gatewayError(ErrorCode.Unavailable, 'vSphere gateway not connected')
    return this.#serviceContent
  }

  stats(): SoapGatewayStats {
    return { ...this.#stats, requestsByMethod: { ...this.#byMethod } }
  }

  #log(level: 'debug' | 'info' | 'warn', message: string): void {
    try {
      this.#settings.logger[level]?.(this.#redactor.text(message))
    } catch {
      // A failing logger must not fail the call it reports on.
    }
  }

  /** RetrieveServiceContent + Login; called once by createSoapGateway. */
  async connect(): Promise<void> {
    const scope = new CallScope('connect', this.#settings.timeoutMs, undefined, this.#closing.signal)
    try {
      const op = OPS.get('RetrieveServiceContent') as Operation
      const content = await this.#sendWithRetries(op, toSoapArgs(op, { _this: SERVICE_INSTANCE }), scope)
      this.#serviceContent = content as ServiceContent
      await this.#login(scope)
    } catch (error) {
      if (scope.stopped) throw scope.error({ method: 'connect' })
      throw error
    } finally {
      scope.dispose()
    }
    const about = this.#serviceContent.about
    this.#log('info', `connected to ${this.url} (${about.fullName}, API ${about.apiVersion})`)
    this.#startKeepAlive()
  }

  async #login(scope: CallScope): Promise<void> {
    const sessionManager = this.serviceContent.sessionManager
    if (!sessionManager) throw gatewayError(ErrorCode.Unsupported, 'vSphere endpoint has no session manager')
    this.#redactor.add(this.#settings.password)
    const args: Record<string, unknown> = {
      _this: sessionManager,
      userName: this.#settings.username,
      password: this.#settings.password,
    }
    if (this.#settings.locale !== undefined) args.locale = this.#settings.locale
    const op = OPS.get('Login') as Operation
    const session = (await this.#sendWithRetries(op, toSoapArgs(op, args), scope)) as { key?: string }
    this.#redactor.add(session.key)
    this.#loggedIn = true
    this.#stats.logins++
  }

  /**
   * One shared re-login per lost session: callers that saw the same generation share it. After the
   * credentials were refused, no Login is sent until the back-off has passed.
   */
  #restoreSession(generation: number, scope: CallScope): Promise<void> {
    if (generation !== this.#generation) return Promise.resolve()
    if (this.#relogin === undefined) {
      const refused = this.#loginBackoff.check(scope.what)
      if (refused) return Promise.reject(refused)
      this.#log(
        'info',
        this.#loginBackoff.refused
          ? 'vSphere login back-off over; logging in again'
          : 'vSphere session lost (NotAuthenticated); logging in again',
      )
      this.#transport.clearSession()
      // Without a cookie a Logout could end no session, so close() skips it until a login succeeds.
      this.#loggedIn = false
      const loginScope = new CallScope('Login', this.#settings.timeoutMs, undefined, this.#closing.signal)
      this.#relogin = this.#login(loginScope)
        .then(() => {
          this.#loginBackoff.clear()
          this.#generation++
        })
        .catch((error: unknown) => {
          const fault = PortLayerError.isInstance(error) ? error.detail?.fault : undefined
          if (isCredentialFault(fault)) {
            const refused = this.#loginBackoff.refuse(fault, error)
            this.#log('warn', refused.message)
            throw refused
          }
          throw gatewayError(
            ErrorCode.Unavailable,
            `vSphere session lost and logging in again failed${fault ? ` (${String(fault)})` : ''}`,
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
    // A caller that gives up stops waiting; the login itself carries on for the others.
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(scope.error())
      scope.signal.addEventListener('abort', onAbort, { once: true })
      shared.then(resolve, reject).finally(() => scope.signal.removeEventListener('abort', onAbort))
    })
  }

  #mapError(error: unknown, context: FaultContext): PortLayerError {
    if (PortLayerError.isInstance(error)) return error
    const fault = faultFromSoapError(error)
    if (fault) return faultError(fault, context, this.#redactor)
    const what = `vSphere ${context.method}`
    if (error instanceof TransportError) {
      return transportFailure(error, what, this.#settings.url.host, context.method)
    }
    const status = error instanceof HttpStatusError ? error.status : httpStatusOf(error)
    if (status !== undefined) {
      return gatewayError(
        ErrorCode.Unavailable,
        `${what}: HTTP status ${status} without a SOAP response`,
        { method: context.method, httpStatus: status },
        new GatewayCause(`HTTP status ${status}`),
      )
    }
    const message = error instanceof Error ? this.#redactor.text(error.message) : 'unreadable response'
    return gatewayError(
      ErrorCode.Unavailable,
      `${what}: unexpected response: ${message}`,
      { method: context.method },
      new GatewayCause(message),
    )
  }

  /** One call with bounded retries of idempotent reads after transient network errors; failures mapped. */
  async #sendWithRetries(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sendRaw(op, soapArgs, scope)
      } catch (error) {
        if (!op.idempotent || attempt >= this.#settings.retries || !isTransient(error) || scope.stopped) {
          throw this.#rethrow(error, op, soapArgs, scope)
        }
        this.#stats.retries++
        const delay = this.#settings.retryDelayMs * 2 ** attempt
        this.#log('warn', `vSphere ${op.name}: ${(error as Error).message}; retrying in ${delay} ms`)
        try {
          await sleep(delay, scope.signal)
        } catch {
          throw scope.error({ method: op.name })
        }
      }
    }
  }

  /** Sends one request and normalises its result; transport errors stay unmapped for the retry loop. */
  async #sendRaw(op: Operation, soapArgs: Record<string, unknown>, scope: CallScope): Promise<unknown> {
    scope.check()
    this.#stats.requests++
    this.#byMethod[op.name] = (this.#byMethod[op.name] ?? 0) + 1
    this.#inFlight++
    try {
      const raw = await this.#client.invoke(op.name, soapArgs, scope.signal)
      if (op.returns === undefined) return undefined
      const returnval = (raw as { returnval?: unknown } | null)?.returnval
      if (returnval === undefined && op.returns.array) return []
      if (returnval === undefined) {
        if (op.returns.optional) return undefined
        throw gatewayError(ErrorCode.Unavailable, `vSphere ${op.name} returned no result`, {
          method: op.name,
        })
      }
      return normalizeField(returnval, op.returns)
    } catch (error) {
      if (error instanceof TransportError || PortLayerError.isInstance(error)) throw error
      const status = httpStatusOf(error)
      if (status !== undefined && status >= 400 && faultFromSoapError(error) === undefined) {
        throw new HttpStatusError(status)
      }
      throw error
    } finally {
      this.#inFlight--
      this.#lastActivity = Date.now()
    }
  }

  #rethrow(
    error: unknown,
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
  ): PortLayerError {
    if (scope.stopped) return scope.error({ method: op.name })
    const object = soapArgs._this as { $value?: string; attributes?: { type?: string } } | undefined
    const ref =
      object?.attributes?.type !== undefined && object.$value !== undefined
        ? { type: object.attributes.type, value: object.$value }
        : undefined
    return this.#mapError(error, ref ? { method: op.name, object: ref } : { method: op.name })
  }

  /**
   * The session generation a request is sent under. A request sent while a re-login is in progress
   * would carry no cookie, so it waits for the new session first. While refused credentials keep
   * the gateway from logging in, the request is not sent at all: it could only be refused. Once the
   * back-off is over, the first caller logs in before sending and the others share that login.
   */
  async #sessionGeneration(scope: CallScope): Promise<number> {
    const refused = this.#loginBackoff.check(scope.what)
    if (refused) throw refused
    if (this.#relogin || this.#loginBackoff.refused) await this.#restoreSession(this.#generation, scope)
    return this.#generation
  }

  /** A call with the session handling: wait for a re-login in progress; on NotAuthenticated, one
   *  shared re-login and one retry. */
  async #callOp(op: Operation, soapArgs: Record<string, unknown>, scope: CallScope): Promise<unknown> {
    const generation = await this.#sessionGeneration(scope)
    try {
      return await this.#sendWithRetries(op, soapArgs, scope)
    } catch (error) {
      if (!isNotAuthenticated(error) || op.name === 'Login' || op.name === 'Logout' || this.#closed)
        throw error
      await this.#restoreSession(generation, scope)
      try {
        return await this.#sendWithRetries(op, soapArgs, scope)
      } catch (again) {
        if (!isNotAuthenticated(again)) throw again
        throw gatewayError(
          ErrorCode.Unavailable,
          `vSphere ${op.name}: session lost again right after logging in`,
          { method: op.name, fault: 'NotAuthenticated' },
          again,
        )
      }
    }
  }

  #operation(method: string): Operation {
    const op = typeof method === 'string' ? OPS.get(method) : undefined
    if (!op) {
      throw gatewayError(
        ErrorCode.Unsupported,
        `vSphere method ${String(method)} is not in the gateway's vim25 table`,
        {
          method,
        },
      )
    }
    return op
  }

  #ensureOpen(what: string): void {
    if (this.#closed)
      throw gatewayError(ErrorCode.Unavailable, `vSphere ${what}: the gateway is closed`, { closed: true })
  }

  #withDefaultPage(op: Operation, args: unknown): unknown {
    if (op.name !== 'RetrievePropertiesEx' || typeof args !== 'object' || args === null) return args
    const a = args as Record<string, unknown>
    const options = (typeof a.options === 'object' && a.options !== null ? a.options : {}) as Record<
      string,
      unknown
    >
    const asked = typeof options.maxObjects === 'number' ? options.maxObjects : undefined
    // Parsing is synchronous: a page bounds how long one response can hold the event loop.
    const maxObjects =
      asked === undefined || asked <= 0 ? this.#settings.pageSize : Math.min(asked, this.#settings.pageSize)
    return { ...a, options: { ...options, maxObjects } }
  }

  async call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options: VmomiCallOptions = {},
  ): Promise<VimResult<M>> {
    this.#ensureOpen(String(method))
    const op = this.#operation(method)
    // Passwords in the arguments (Login, guest authentication) are cut out of any error text.
    collectSecrets(args, this.#redactor)
    const soapArgs = toSoapArgs(op, this.#withDefaultPage(op, args))
    const scope = new CallScope(
      op.name,
      options.timeoutMs ?? this.#settings.timeoutMs,
      options.signal,
      this.#closing.signal,
    )
    try {
      const result = await this.#callOp(op, soapArgs, scope)
      if (op.name === 'Login') collectSecrets(result, this.#redactor)
      if (op.name.endsWith('_Task') && result && typeof result === 'object')
        this.#rememberTask(result as MoRef, op.name)
      return result as VimResult<M>
    } finally {
      scope.dispose()
    }
  }

  #rememberTask(task: MoRef, method: string): void {
    this.#taskMethods.set(task.value, method)
    if (this.#taskMethods.size > TASK_NAMES_KEPT) {
      const oldest = this.#taskMethods.keys().next().value
      if (oldest !== undefined) this.#taskMethods.delete(oldest)
    }
  }

  async waitForTask(task: MoRef, options: VmomiCallOptions = {}): Promise<TaskInfo> {
    this.#ensureOpen('waitForTask')
    // A malformed reference fails here, before any poll, as it would for the CancelTask an abort sends.
    toSoapArgs(OPS.get('CancelTask') as Operation, { _this: task })
    const method = this.#taskMethods.get(task.value) ?? 'task'
    const scope = new CallScope(
      `${method} (${task.value})`,
      options.timeoutMs ?? this.#settings.taskTimeoutMs,
      options.signal,
      this.#closing.signal,
    )
    try {
      return await pollTask(
        {
          propertyCollector: this.serviceContent.propertyCollector,
          initialMs: this.#settings.taskPollInitialMs,
          maxMs: this.#settings.taskPollMaxMs,
          pollTimeoutMs: this.#settings.timeoutMs,
          redactor: this.#redactor,
          send: (op, soapArgs, s) => this.#callOp(op, soapArgs, s),
          onStalledPoll: (message) => {
            this.#stats.retries++
            this.#log('warn', message)
          },
        },
        task,
        method,
        scope,
      )
    } catch (error) {
      if (!scope.stopped) throw error
      if (scope.stopped === 'closed') throw scope.error({ task })
      const cancel = await this.#cancelTask(task)
      throw scope.error({
        task,
        method,
        cancelRequested: cancel.ok,
        ...(cancel.fault ? { cancelFault: cancel.fault } : {}),
      })
    } finally {
      scope.dispose()
      this.#taskMethods.delete(task.value)
    }
  }

  async #cancelTask(task: MoRef): Promise<{ ok: boolean; fault?: unknown }> {
    const op = OPS.get('CancelTask') as Operation
    const scope = new CallScope('CancelTask', CANCEL_TIMEOUT_MS, undefined, this.#closing.signal)
    try {
      await this.#callOp(op, toSoapArgs(op, { _this: task }), scope)
      this.#log('info', `cancelled task ${task.value} after its wait was given up`)
      return { ok: true }
    } catch (error) {
      const fault = PortLayerError.isInstance(error) ? (error.detail?.fault ?? error.code) : undefined
      this.#log('warn', `could not cancel task ${task.value}: ${error instanceof Error ? error.message : ''}`)
      return { ok: false, fault }
    } finally {
      scope.dispose()
    }
  }

  async transfer(
    request: HttpTransferRequest,
    options: VmomiCallOptions = {},
  ): Promise<HttpTransferResponse> {
    this.#ensureOpen('transfer')
    this.#stats.transfers++
    const scope = new CallScope(
      `transfer ${typeof request?.method === 'string' ? request.method : ''}`.trim(),
      options.timeoutMs ?? this.#settings.transferTimeoutMs,
      options.signal,
      this.#closing.signal,
    )
    this.#inFlight++
    try {
      return await performTransfer(request, {
        transport: this.#transport,
        redactor: this.#redactor,
        scope,
        retries: this.#settings.retries,
        retryDelayMs: this.#settings.retryDelayMs,
        onRetry: (message) => {
          this.#stats.retries++
          this.#log('warn', message)
        },
        sessionGeneration: () => this.#sessionGeneration(scope),
        restoreSession: (generation) => this.#restoreSession(generation, scope),
      })
    } finally {
      this.#inFlight--
      this.#lastActivity = Date.now()
      scope.dispose()
    }
  }

  #startKeepAlive(): void {
    const every = this.#settings.keepAliveMs
    if (every <= 0) return
    this.#keepAlive = setInterval(() => void this.#ping(), Math.max(1, Math.floor(every / 2)))
    this.#keepAlive.unref()
  }

  async #ping(): Promise<void> {
    if (this.#closed || this.#inFlight > 0 || Date.now() - this.#lastActivity < this.#settings.keepAliveMs)
      return
    // There is no session to keep alive, and retrying refused credentials is left to the calls that
    // need them: an idle gateway never adds failed logins on its own.
    if (this.#loginBackoff.refused) return
    const op = OPS.get('CurrentTime') as Operation
    const scope = new CallScope('CurrentTime', this.#settings.timeoutMs, undefined, this.#closing.signal)
    try {
      await this.#callOp(op, toSoapArgs(op, { _this: SERVICE_INSTANCE }), scope)
      this.#log('debug', 'keepalive sent')
    } catch (error) {
      if (!this.#closed) this.#log('warn', `keepalive failed: ${error instanceof Error ? error.message : ''}`)
    } finally {
      scope.dispose()
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown()
    return this.#closed
  }

  async #shutdown(): Promise<void> {
    if (this.#keepAlive) clearInterval(this.#keepAlive)
    // Calls still running are abandoned first, so none of them can log in again after Logout.
    this.#closing.abort()
    const sessionManager = this.#serviceContent?.sessionManager
    if (sessionManager && this.#loggedIn) {
      const op = OPS.get('Logout') as Operation
      const scope = new CallScope('Logout', LOGOUT_TIMEOUT_MS, undefined, new AbortController().signal)
      try {
        await this.#sendWithRetries(op, toSoapArgs(op, { _this: sessionManager }), scope)
      } catch (error) {
        this.#log('warn', `Logout failed: ${error instanceof Error ? error.message : ''}`)
      } finally {
        scope.dispose()
      }
    }
    this.#transport.clearSession()
    this.#transport.agents.destroy()
  }
}

/**
 * Connects to a vSphere SDK endpoint (`RetrieveServiceContent` + `Login`) and returns a logged-in
 * gateway. Fails with `INVALID_ARGUMENT` for bad settings or a refused login (`detail.fault`
 * `InvalidLogin`), `UNAVAILABLE` when the endpoint cannot be reached or its certificate is
 * refused (`detail.tls`), `TIMEOUT` past `settings.timeoutMs`. Errors never include the password.
 */
export async function createSoapGateway(settings: SoapGatewaySettings): Promise<SoapGateway> {
  const resolved = resolveSettings(settings)
  const redactor = new Redactor()
  redactor.add(resolved.password)
  const agents = createAgents(resolved.tls, resolved.maxSockets)
  const transport = new Transport(resolved.url, agents, redactor)
  let gateway: SoapGatewayImpl | undefined
  try {
    const client = await createVimSoapClient(transport, redactor, resolved.apiVersion)
    gateway = new SoapGatewayImpl(resolved, redactor, transport, client)
    await gateway.connect()
    return gateway
  } catch (error) {
    if (gateway) await gateway.close().catch(() => undefined)
    else agents.destroy()
    if (PortLayerError.isInstance(error)) throw error
    const e = toTransportError(error, redactor)
    throw gatewayError(
      ErrorCode.Unavailable,
      `vSphere connect to ${resolved.url.host} failed: ${e.message}`,
      { network: e.code },
      new GatewayCause(e.message, e.code),
    )
  }
}
