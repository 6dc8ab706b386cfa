import { setMaxListeners } from 'node:events'
import {
  ErrorCode,
  type HttpTransferRequest,
  type HttpTransferResponse,
  type MoRef,
  type Outcome,
  PortLayerError,
  type RetrieveResult,
  type ServiceContent,
  type TaskInfo,
  type VimArgs,
  type VimMethodName,
  type VimResult,
  type VmomiCallOptions,
  type VmomiGateway,
} from '@portlayer/contracts'
import { GatewayCause, gatewayError, invalidArgument, withOutcome } from './errors.js'
import { type FaultContext, faultError, faultFromSoapError } from './faults.js'
import { normalizeField } from './normalize.js'
import { collectSecrets, Redactor } from './redact.js'
import { objectKey, type Retrieval, Retrievals } from './retrievals.js'
import { isSubtypeOf, OPS, type Operation } from './schema/registry.js'
import { CallScope, sleep } from './scope.js'
import { toSoapArgs } from './serialize.js'
import { Session } from './session.js'
import { type ResolvedSettings, resolveSettings, type SoapGatewaySettings } from './settings.js'
import { createVimSoapClient, type VimSoapClient } from './soap-client.js'
import { isTaskFault, pollTask, readTaskInfo, type TaskPolling } from './tasks.js'
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
import { isRecord } from './values.js'

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
/** How long an abandoned task wait may spend finding out how its task ended, after CancelTask. */
const LOOK_TIMEOUT_MS = 2_000
const TASK_NAMES_KEPT = 1_000
/** Task requests kept for a re-send after the task failed with NotAuthenticated (they can be large). */
const TASK_REQUESTS_KEPT = 64

/** An HTTP status without a SOAP body (e.g. a proxy's 503). */
class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP status ${status}`)
  }
}

/**
 * What one call's requests did. `acted`: the server may have acted on the last request sent (it
 * was written in full and no fault refused it). `generation`: the session it was sent under.
 */
interface Trace {
  acted: boolean
  generation: number
}

const newTrace = (): Trace => ({ acted: false, generation: -1 })

/** A task started through this gateway: enough to start it again if it failed for a lost session. */
interface StartedTask {
  readonly method: string
  readonly generation: number
}

/** Where a task wait is, for the outcome of its failure. */
interface TaskWait {
  /** The task waited for (a new one once a change was sent again); undefined while it is being sent. */
  task: MoRef | undefined
  phase: 'polling' | 'relogin' | 'resending'
  trace: Trace
}

function isTransient(error: unknown): boolean {
  if (error instanceof TransportError) return isTransientTransportError(error)
  return error instanceof HttpStatusError && isTransientStatus(error.status)
}

// Errors that say the server did not know the session: a NotAuthenticated SOAP fault, task
// fault or missingSet entry. Errors about a failed re-login carry the same fault name but are
// not in here, so they are never taken for a reason to log in again.
const sessionLost = new WeakSet<PortLayerError>()

function isSessionLost(error: unknown): error is PortLayerError {
  return PortLayerError.isInstance(error) && sessionLost.has(error)
}

function isNotAuthenticatedFault(name: unknown): boolean {
  return typeof name === 'string' && isSubtypeOf(name, 'NotAuthenticated')
}

function httpStatusOf(error: unknown): number | undefined {
  const e = error as { response?: { status?: unknown } } | null
  return typeof e?.response?.status === 'number' ? e.response.status : undefined
}

/** The object of a retrieve answer whose `missingSet` says the session was not known, if any. */
function sessionLostInAnswer(op: Operation, result: unknown): MoRef | undefined {
  if (op.name !== 'RetrievePropertiesEx' && op.name !== 'ContinueRetrievePropertiesEx') return undefined
  for (const object of (result as RetrieveResult | undefined)?.objects ?? []) {
    for (const missing of object.missingSet ?? []) {
      const fault = (missing.fault as { fault?: { _type?: unknown } } | undefined)?.fault
      if (isNotAuthenticatedFault(fault?._type)) return object.obj
    }
  }
  return undefined
}

function moRefOf(soap: unknown): MoRef | undefined {
  const object = soap as { $value?: string; attributes?: { type?: string } } | undefined
  return object?.attributes?.type !== undefined && object.$value !== undefined
    ? { type: object.attributes.type, value: object.$value }
    : undefined
}

/**
 * Reads the options argument of a gateway method. Any value: a non-object or one whose fields
 * cannot be read (a throwing proxy) is `INVALID_ARGUMENT`, never a `TypeError`.
 */
function readOptions(options: unknown, what: string): { signal?: AbortSignal; timeoutMs?: number } {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(`vSphere ${what}: options must be an object like { signal, timeoutMs }`)
  try {
    const { signal, timeoutMs } = options as VmomiCallOptions
    return { signal, timeoutMs }
  } catch {
    throw invalidArgument(`vSphere ${what}: options could not be read`)
  }
}

/** Runs `fn` on caller-supplied values: anything it throws other than a PortLayerError is INVALID_ARGUMENT. */
function reading<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (PortLayerError.isInstance(error)) throw error
    throw invalidArgument(`vSphere ${what}: the arguments could not be read`)
  }
}

function nameOf(method: unknown): string {
  return typeof method === 'string' ? method : `(${typeof method})`
}

class SoapGatewayImpl implements SoapGateway {
  readonly url: string
  #serviceContent: ServiceContent | undefined
  readonly #settings: ResolvedSettings
  readonly #redactor: Redactor
  readonly #transport: Transport
  readonly #client: VimSoapClient
  readonly #session: Session
  readonly #closing = new AbortController()
  #closed: Promise<void> | undefined
  #keepAlive: NodeJS.Timeout | undefined
  #lastActivity = Date.now()
  #inFlight = 0
  readonly #tasks = new Map<string, StartedTask>()
  readonly #taskRequests = new Map<string, Record<string, unknown>>()
  readonly #retrievals = new Retrievals()
  readonly #stats = { requests: 0, retries: 0, transfers: 0 }
  readonly #byMethod: Record<string, number> = {}

  constructor(settings: ResolvedSettings, redactor: Redactor, transport: Transport, client: VimSoapClient) {
    this.#settings = settings
    this.#redactor = redactor
    this.#transport = transport
    this.#client = client
    this.url = settings.url.href
    this.#session = new Session({
      settings,
      redactor,
      transport,
      closing: this.#closing.signal,
      send: (op, soapArgs, scope) => this.#sendWithRetries(op, soapArgs, scope, newTrace()),
      log: (level, message) => this.#log(level, message),
    })
    // Every operation in flight listens for the gateway closing; many at once is normal here.
    setMaxListeners(0, this.#closing.signal)
  }

  get serviceContent(): ServiceContent {
    if (this.#serviceContent === undefined)
      throw gatewayError(ErrorCode.Unavailable, 'vSphere gateway not connected')
    return this.#serviceContent
  }

  stats(): SoapGatewayStats {
    return { ...this.#stats, logins: this.#session.logins, requestsByMethod: { ...this.#byMethod } }
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
      const content = await this.#sendWithRetries(
        op,
        toSoapArgs(op, { _this: SERVICE_INSTANCE }),
        scope,
        newTrace(),
      )
      this.#serviceContent = content as ServiceContent
      await this.#session.login(this.#serviceContent.sessionManager, scope)
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

  #mapError(error: unknown, context: FaultContext, sent: boolean, outcome: Outcome): PortLayerError {
    if (PortLayerError.isInstance(error)) return withOutcome(error, outcome)
    const fault = faultFromSoapError(error)
    // A fault is the server refusing the call: nothing of it was applied.
    if (fault) return faultError(fault, context, this.#redactor)
    const what = `vSphere ${context.method}`
    if (error instanceof TransportError) {
      return transportFailure(error, what, this.#settings.url.host, context.method, { sent, outcome })
    }
    const status = error instanceof HttpStatusError ? error.status : httpStatusOf(error)
    if (status !== undefined) {
      return gatewayError(
        ErrorCode.Unavailable,
        `${what}: HTTP status ${status} without a SOAP response`,
        { method: context.method, httpStatus: status, sent },
        new GatewayCause(`HTTP status ${status}`),
        outcome,
      )
    }
    const message = error instanceof Error ? this.#redactor.text(error.message) : 'unreadable response'
    return gatewayError(
      ErrorCode.Unavailable,
      `${what}: unexpected response: ${message}`,
      { method: context.method, sent },
      new GatewayCause(message),
      outcome,
    )
  }

  /** One call with bounded retries of idempotent reads after transient network errors; failures mapped. */
  async #sendWithRetries(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sendRaw(op, soapArgs, scope, trace)
      } catch (error) {
        if (!op.idempotent || attempt >= this.#settings.retries || !isTransient(error) || scope.stopped) {
          throw this.#rethrow(error, op, soapArgs, scope, trace)
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

  /**
   * Sends one request and normalises its result; transport errors stay unmapped for the retry loop.
   * Records in `trace` whether the server may have acted on it.
   */
  async #sendRaw(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    trace.acted = false
    scope.check()
    this.#stats.requests++
    this.#byMethod[op.name] = (this.#byMethod[op.name] ?? 0) + 1
    this.#inFlight++
    try {
      const raw = await this.#client.invoke(op.name, soapArgs, scope.signal)
      trace.acted = true
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
      if (error instanceof TransportError) {
        // A SOAP call not written in full cannot have been acted on: the server needs the whole envelope.
        trace.acted = error.delivery === 'all'
        throw error
      }
      if (PortLayerError.isInstance(error)) throw error
      const fault = faultFromSoapError(error)
      trace.acted = fault === undefined
      const status = httpStatusOf(error)
      if (status !== undefined && status >= 400 && fault === undefined) throw new HttpStatusError(status)
      throw error
    } finally {
      this.#inFlight--
      this.#lastActivity = Date.now()
    }
  }

  /** The error a call ends with; its outcome is `unknown` only for a change the server may have acted on. */
  #rethrow(
    error: unknown,
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): PortLayerError {
    const outcome: Outcome = op.changes && trace.acted ? 'unknown' : 'not-applied'
    if (scope.stopped) return scope.error({ method: op.name, sent: trace.acted }, outcome)
    const object = moRefOf(soapArgs._this)
    const mapped = this.#mapError(
      error,
      object ? { method: op.name, object } : { method: op.name },
      trace.acted,
      outcome,
    )
    if (mapped.detail?.fault === 'NotAuthenticated') sessionLost.add(mapped)
    return mapped
  }

  /** {@link #sendWithRetries}, and an answer whose missingSet says the session was lost fails as such. */
  async #sendChecked(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    const result = await this.#sendWithRetries(op, soapArgs, scope, trace)
    const object = sessionLostInAnswer(op, result)
    if (object === undefined) return result
    const error = gatewayError(
      ErrorCode.Unavailable,
      `vSphere ${op.name}: the session is no longer valid (NotAuthenticated for ${object.type}:${object.value})`,
      { method: op.name, fault: 'NotAuthenticated', object, missingSet: true },
    )
    sessionLost.add(error)
    throw error
  }

  /**
   * A call with the session handling: wait for a re-login in progress; on NotAuthenticated in any
   * form (a fault, which means the call was refused, or a missingSet entry of a read), one shared
   * re-login and one more send. A paging continuation is not sent again: its token died with the
   * session, so the lost session is reported (after the re-login) for the caller to resume.
   */
  async #callOp(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    const generation = await this.#session.current(scope)
    trace.generation = generation
    try {
      return await this.#sendChecked(op, soapArgs, scope, trace)
    } catch (error) {
      if (!isSessionLost(error) || op.name === 'Login' || op.name === 'Logout' || this.#closed) throw error
      await this.#session.restore(generation, scope)
      if (op.name === 'ContinueRetrievePropertiesEx' || op.name === 'CancelRetrievePropertiesEx') throw error
      trace.generation = this.#session.generation
      try {
        return await this.#sendChecked(op, soapArgs, scope, trace)
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

  #operation(method: unknown): Operation {
    const op = typeof method === 'string' ? OPS.get(method) : undefined
    if (!op) {
      throw gatewayError(
        ErrorCode.Unsupported,
        `vSphere method ${nameOf(method)} is not in the gateway's vim25 table`,
        { method: nameOf(method) },
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
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    this.#ensureOpen(nameOf(method))
    const op = this.#operation(method)
    const { signal, timeoutMs } = readOptions(options, op.name)
    const soapArgs = reading(op.name, () => {
      // Passwords in the arguments (Login, guest authentication) are cut out of any error text.
      collectSecrets(args, this.#redactor)
      return toSoapArgs(op, this.#withDefaultPage(op, args))
    })
    const scope = new CallScope(
      op.name,
      timeoutMs === undefined ? this.#settings.timeoutMs : timeoutMs,
      signal,
      this.#closing.signal,
    )
    try {
      const token = soapArgs.token
      if (op.name === 'ContinueRetrievePropertiesEx' && Retrievals.isOurs(token)) {
        return (await this.#continueRetrieval(op, token, scope)) as VimResult<M>
      }
      if (op.name === 'CancelRetrievePropertiesEx' && Retrievals.isOurs(token)) {
        return (await this.#cancelRetrieval(op, token, scope)) as VimResult<M>
      }
      const trace = newTrace()
      const result = await this.#callOp(op, soapArgs, scope, trace)
      if (op.name === 'Login') collectSecrets(result, this.#redactor)
      if (op.name === 'RetrievePropertiesEx') this.#opened(soapArgs, result, trace)
      if (op.name.endsWith('_Task') && isRecord(result))
        this.#rememberTask(result as unknown as MoRef, op.name, soapArgs, trace.generation)
      return result as VimResult<M>
    } finally {
      scope.dispose()
    }
  }

  // Paged reads. Callers get tokens of the gateway's own; see Retrievals.

  #opened(request: Record<string, unknown>, result: unknown, trace: Trace): void {
    const page = result as RetrieveResult | undefined
    const collector = moRefOf(request._this)
    if (!page?.token || !collector) return
    const retrieval: Retrieval = {
      collector,
      request,
      delivered: new Set(page.objects.map(objectKey)),
      serverToken: page.token,
      generation: trace.generation,
      touched: 0,
    }
    page.token = this.#retrievals.open(retrieval)
  }

  async #continueRetrieval(op: Operation, token: unknown, scope: CallScope): Promise<RetrieveResult> {
    const retrieval = this.#retrievals.take(token)
    if (!retrieval) throw unknownToken(op.name)
    const trace = newTrace()
    let page: RetrieveResult | undefined
    if (retrieval.serverToken !== undefined && retrieval.generation === this.#session.generation) {
      try {
        page = (await this.#callOp(
          op,
          toSoapArgs(op, { _this: retrieval.collector, token: retrieval.serverToken }),
          scope,
          trace,
        )) as RetrieveResult
      } catch (error) {
        // The server's token is no good any more (session renewed, answer lost, retrieval
        // forgotten by the server): read again what is left instead.
        if (scope.stopped || !canResume(error)) throw error
        this.#log('info', `vSphere ${op.name}: resuming a paged read (${errorText(error)})`)
      }
    }
    if (page === undefined) {
      const resumed = await this.#resume(retrieval, scope)
      page = resumed.page
      trace.generation = resumed.generation
    }
    return this.#continued(retrieval, page, trace.generation)
  }

  /**
   * Reads a retrieval again from the start under the current session and returns its next page:
   * the first objects not delivered yet (objects that appeared meanwhile included), with the
   * server's token for the rest.
   */
  async #resume(r: Retrieval, scope: CallScope): Promise<{ page: RetrieveResult; generation: number }> {
    const read = OPS.get('RetrievePropertiesEx') as Operation
    const more = OPS.get('ContinueRetrievePropertiesEx') as Operation
    const trace = newTrace()
    let page = (await this.#callOp(read, r.request, scope, trace)) as RetrieveResult | undefined
    for (;;) {
      const objects = (page?.objects ?? []).filter((o) => !r.delivered.has(objectKey(o)))
      const token = page?.token
      if (objects.length > 0 || !token) {
        return { page: token ? { objects, token } : { objects }, generation: trace.generation }
      }
      page = (await this.#callOp(more, toSoapArgs(more, { _this: r.collector, token }), scope, trace)) as
        | RetrieveResult
        | undefined
    }
  }

  #continued(r: Retrieval, page: RetrieveResult, generation: number): RetrieveResult {
    for (const o of page.objects) r.delivered.add(objectKey(o))
    if (!page.token) return { objects: page.objects }
    r.serverToken = page.token
    r.generation = generation
    return { objects: page.objects, token: this.#retrievals.open(r) }
  }

  async #cancelRetrieval(op: Operation, token: unknown, scope: CallScope): Promise<undefined> {
    const retrieval = this.#retrievals.take(token)
    if (!retrieval) throw unknownToken(op.name)
    // A token of an earlier session died with it: there is nothing left to cancel.
    if (retrieval.serverToken === undefined || retrieval.generation !== this.#session.generation) return
    try {
      await this.#callOp(
        op,
        toSoapArgs(op, { _this: retrieval.collector, token: retrieval.serverToken }),
        scope,
        newTrace(),
      )
    } catch (error) {
      if (!isSessionLost(error)) throw error
    }
    return undefined
  }

  // Tasks.

  #rememberTask(task: MoRef, method: string, request: Record<string, unknown>, generation: number): void {
    const bounded = <V>(map: Map<string, V>, value: V, max: number): void => {
      map.set(task.value, value)
      if (map.size > max) {
        const oldest = map.keys().next().value
        if (oldest !== undefined) map.delete(oldest)
      }
    }
    bounded(this.#tasks, { method, generation }, TASK_NAMES_KEPT)
    bounded(this.#taskRequests, request, TASK_REQUESTS_KEPT)
  }

  #forgetTask(task: MoRef | undefined): void {
    if (!task) return
    this.#tasks.delete(task.value)
    this.#taskRequests.delete(task.value)
  }

  #polling(): TaskPolling {
    return {
      propertyCollector: this.serviceContent.propertyCollector,
      initialMs: this.#settings.taskPollInitialMs,
      maxMs: this.#settings.taskPollMaxMs,
      pollTimeoutMs: this.#settings.timeoutMs,
      redactor: this.#redactor,
      send: (op, soapArgs, s) => this.#callOp(op, soapArgs, s, newTrace()),
      onStalledPoll: (message) => {
        this.#stats.retries++
        this.#log('warn', message)
      },
    }
  }

  /**
   * Waits for a task. A task that ended in error did nothing (`not-applied`); one that ended with
   * NotAuthenticated is started once more after the re-login (it did nothing), and the new task's
   * info is returned. A wait that fails, stops or is aborted says `unknown` unless it learnt the
   * task did not run: the task carries on on the server without the wait.
   */
  async waitForTask(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo> {
    this.#ensureOpen('waitForTask')
    const { signal, timeoutMs } = readOptions(options, 'waitForTask')
    // A malformed reference fails here, before any poll, as it would for the CancelTask an abort sends.
    reading('waitForTask', () => toSoapArgs(OPS.get('CancelTask') as Operation, { _this: task }))
    const started = this.#tasks.get(task.value)
    const method = started?.method ?? 'task'
    const scope = new CallScope(
      `${method} (${task.value})`,
      timeoutMs === undefined ? this.#settings.taskTimeoutMs : timeoutMs,
      signal,
      this.#closing.signal,
    )
    const wait: TaskWait = { task, phase: 'polling', trace: newTrace() }
    try {
      return await this.#awaitTask(wait, started, method, scope)
    } catch (error) {
      if (scope.stopped) throw await this.#abandonedWait(wait, method, scope)
      // The task ran and failed, or a re-login or re-send failed with its own outcome.
      if (isTaskFault(error) || wait.phase !== 'polling' || !PortLayerError.isInstance(error)) throw error
      // The wait failed, not the task: it may still complete on the server.
      throw withOutcome(error, 'unknown')
    } finally {
      scope.dispose()
      this.#forgetTask(task)
      this.#forgetTask(wait.task)
    }
  }

  async #awaitTask(
    wait: TaskWait,
    started: StartedTask | undefined,
    method: string,
    scope: CallScope,
  ): Promise<TaskInfo> {
    const first = wait.task as MoRef
    try {
      return await pollTask(this.#polling(), first, method, scope)
    } catch (error) {
      if (!isTaskFault(error) || !isNotAuthenticatedFault(error.detail?.fault) || scope.stopped) throw error
      // The task ended because the server did not know the session: it did nothing. Log in again
      // (shared with every caller that met the same lost session) and start it once more.
      wait.phase = 'relogin'
      await this.#session.restore(started?.generation ?? this.#session.generation, scope)
      const request = this.#taskRequests.get(first.value)
      const op = OPS.get(method)
      if (!request || !op) throw error
      this.#log(
        'info',
        `vSphere task ${method} (${first.value}) failed with NotAuthenticated; starting it again`,
      )
      wait.phase = 'resending'
      wait.task = undefined
      const again = (await this.#callOp(op, request, scope, wait.trace)) as MoRef
      wait.task = again
      wait.phase = 'polling'
      try {
        return await pollTask(this.#polling(), again, method, scope)
      } catch (second) {
        if (!isTaskFault(second) || !isNotAuthenticatedFault(second.detail?.fault)) throw second
        wait.phase = 'resending'
        throw gatewayError(
          ErrorCode.Unavailable,
          `vSphere task ${method} (${again.value}): session lost again right after logging in`,
          { method, task: again, fault: 'NotAuthenticated' },
          second,
        )
      }
    }
  }

  /**
   * The error of a task wait that was aborted, passed its deadline or ended with the gateway. An
   * abort or deadline cancels the task and looks once at how it ended: only a task seen to end in
   * error is reported `not-applied`.
   */
  async #abandonedWait(wait: TaskWait, method: string, scope: CallScope): Promise<PortLayerError> {
    if (wait.phase === 'relogin') return scope.error({ method, task: wait.task })
    if (wait.task === undefined) {
      return scope.error({ method, sent: wait.trace.acted }, wait.trace.acted ? 'unknown' : 'not-applied')
    }
    const task = wait.task
    if (scope.stopped === 'closed') return scope.error({ task, method }, 'unknown')
    const end = await this.#cancelAndLook(task)
    return scope.error(
      {
        task,
        method,
        cancelRequested: end.cancelled,
        ...(end.cancelFault !== undefined ? { cancelFault: end.cancelFault } : {}),
        ...(end.state !== undefined ? { taskState: end.state } : {}),
      },
      end.state === 'error' ? 'not-applied' : 'unknown',
    )
  }

  async #cancelAndLook(task: MoRef): Promise<{ cancelled: boolean; cancelFault?: unknown; state?: string }> {
    const op = OPS.get('CancelTask') as Operation
    let cancelled = false
    let cancelFault: unknown
    const scope = new CallScope('CancelTask', CANCEL_TIMEOUT_MS, undefined, this.#closing.signal)
    try {
      await this.#callOp(op, toSoapArgs(op, { _this: task }), scope, newTrace())
      cancelled = true
      this.#log('info', `cancelled task ${task.value} after its wait was given up`)
    } catch (error) {
      cancelFault = PortLayerError.isInstance(error) ? (error.detail?.fault ?? error.code) : undefined
      this.#log('warn', `could not cancel task ${task.value}: ${errorText(error)}`)
    } finally {
      scope.dispose()
    }
    const look = new CallScope(`look at task ${task.value}`, LOOK_TIMEOUT_MS, undefined, this.#closing.signal)
    try {
      const info = await readTaskInfo(this.#polling(), task, look)
      return { cancelled, cancelFault, state: info.state }
    } catch {
      return { cancelled, cancelFault }
    } finally {
      look.dispose()
    }
  }

  async transfer(request: HttpTransferRequest, options?: VmomiCallOptions): Promise<HttpTransferResponse> {
    this.#ensureOpen('transfer')
    const { signal, timeoutMs } = readOptions(options, 'transfer')
    this.#stats.transfers++
    const method = reading('transfer', () =>
      typeof request?.method === 'string' && request.method.length <= 8 ? request.method : '',
    )
    const scope = new CallScope(
      `transfer ${method}`.trim(),
      timeoutMs === undefined ? this.#settings.transferTimeoutMs : timeoutMs,
      signal,
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
        sessionGeneration: () => this.#session.current(scope),
        restoreSession: (generation) => this.#session.restore(generation, scope),
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
    if (this.#session.refused) return
    const op = OPS.get('CurrentTime') as Operation
    const scope = new CallScope('CurrentTime', this.#settings.timeoutMs, undefined, this.#closing.signal)
    try {
      await this.#callOp(op, toSoapArgs(op, { _this: SERVICE_INSTANCE }), scope, newTrace())
      this.#log('debug', 'keepalive sent')
    } catch (error) {
      if (!this.#closed) this.#log('warn', `keepalive failed: ${errorText(error)}`)
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
    if (sessionManager && this.#session.loggedIn) {
      const op = OPS.get('Logout') as Operation
      const scope = new CallScope('Logout', LOGOUT_TIMEOUT_MS, undefined, new AbortController().signal)
      try {
        await this.#sendWithRetries(op, toSoapArgs(op, { _this: sessionManager }), scope, newTrace())
      } catch (error) {
        this.#log('warn', `Logout failed: ${errorText(error)}`)
      } finally {
        scope.dispose()
      }
    }
    this.#session.end()
    this.#transport.agents.destroy()
  }
}

function unknownToken(method: string): PortLayerError {
  return gatewayError(
    ErrorCode.InvalidArgument,
    `vSphere ${method}: the token names no open retrieval (used, cancelled or expired)`,
    { method, fault: 'InvalidArgument' },
  )
}

/** True when a failed continuation can be replaced by reading again: the server's token is no good. */
function canResume(error: unknown): boolean {
  if (isSessionLost(error)) return true
  if (!PortLayerError.isInstance(error)) return false
  return error.detail?.network !== undefined || error.detail?.fault === 'InvalidArgument'
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : ''
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
