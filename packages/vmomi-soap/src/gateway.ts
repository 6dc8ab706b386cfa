import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type {
  HttpTransferRequest,
  HttpTransferResponse,
  MoRef,
  ServiceContent,
  TaskInfo,
  VimArgs,
  VimMethodName,
  VimResult,
  VmomiCallOptions,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { GatewayCause, gatewayError } from './errors.js'
import { Invoker, newTrace, readOptions } from './invocation.js'
import { PagedReads } from './paging.js'
import { collectSecrets, Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import { toSoapArgs } from './serialize.js'
import { Session } from './session.js'
import { type ResolvedSettings, resolveSettings, type SoapGatewaySettings } from './settings.js'
import { createVimSoapClient, type VimSoapClient } from './soap-client.js'
import { TaskWaits } from './task-waits.js'
import { Transport, toTransportError } from './transport.js'
import { isRecord, SERVICE_INSTANCE } from './values.js'

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
  /** Counters since the gateway was created (a copy; it does not change afterwards). */
  stats(): SoapGatewayStats
  /** Same as `close()`: `await using gateway = await createSoapGateway(…)` logs out at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * The facade: wires the invoker (requests), the session, task waits and paged reads, and owns
 * what belongs to the gateway as a whole (the service content, being closed).
 */
class SoapGatewayImpl implements SoapGateway {
  readonly url: string
  #serviceContent: ServiceContent | undefined
  readonly #settings: ResolvedSettings
  readonly #redactor: Redactor
  readonly #transport: Transport
  readonly #invoker: Invoker
  readonly #session: Session
  readonly #tasks: TaskWaits
  readonly #paging: PagedReads
  #closed: Promise<void> | undefined

  constructor(settings: ResolvedSettings, redactor: Redactor, transport: Transport, client: VimSoapClient) {
    this.#settings = settings
    this.#redactor = redactor
    this.#transport = transport
    this.url = settings.url.href
    const invoker = new Invoker({ settings, redactor, transport, client })
    const session = new Session({ settings, redactor, transport, invoker })
    this.#invoker = invoker
    this.#session = session
    this.#tasks = new TaskWaits({
      settings,
      redactor,
      invoker,
      session,
      propertyCollector: () => this.serviceContent.propertyCollector,
    })
    this.#paging = new PagedReads({ invoker, session })
  }

  get serviceContent(): ServiceContent {
    if (this.#serviceContent === undefined)
      throw gatewayError(ErrorCode.Unavailable, 'vSphere gateway not connected')
    return this.#serviceContent
  }

  stats(): SoapGatewayStats {
    return { ...this.#invoker.counts(), logins: this.#session.logins }
  }

  /** RetrieveServiceContent + Login; called once by createSoapGateway. */
  async connect(): Promise<void> {
    const scope = this.#invoker.scope('connect', this.#settings.timeoutMs)
    try {
      const op = OPS.get('RetrieveServiceContent') as Operation
      const content = await this.#invoker.send(op, toSoapArgs(op, { _this: SERVICE_INSTANCE }), scope)
      this.#serviceContent = content as ServiceContent
      await this.#session.login(this.#serviceContent.sessionManager, scope)
    } catch (error) {
      if (scope.stopped) throw scope.error({ method: 'connect' })
      throw error
    } finally {
      scope.dispose()
    }
    const about = this.#serviceContent.about
    this.#invoker.log('info', `connected to ${this.url} (${about.fullName}, API ${about.apiVersion})`)
    this.#session.startKeepAlive()
  }

  #ensureOpen(what: string): void {
    if (this.#closed)
      throw gatewayError(ErrorCode.Unavailable, `vSphere ${what}: the gateway is closed`, { closed: true })
  }

  async call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    this.#ensureOpen(typeof method === 'string' ? method : `(${typeof method})`)
    const op = this.#invoker.operation(method)
    const { signal, timeoutMs } = readOptions(options, op.name)
    const soapArgs = this.#invoker.encode(op, args)
    const scope = this.#invoker.scope(
      op.name,
      timeoutMs === undefined ? this.#settings.timeoutMs : timeoutMs,
      signal,
    )
    try {
      if (PagedReads.handles(op, soapArgs.token)) {
        return (await this.#paging.follow(op, soapArgs.token, scope)) as VimResult<M>
      }
      const trace = newTrace()
      const result = await this.#session.call(op, soapArgs, scope, trace)
      if (op.name === 'Login') collectSecrets(result, this.#redactor)
      if (op.name === 'RetrievePropertiesEx') this.#paging.opened(soapArgs, result, trace)
      if (op.name.endsWith('_Task') && isRecord(result))
        this.#tasks.started(result as unknown as MoRef, op.name, soapArgs, trace.generation)
      return result as VimResult<M>
    } finally {
      scope.dispose()
    }
  }

  async waitForTask(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo> {
    this.#ensureOpen('waitForTask')
    return this.#tasks.wait(task, options)
  }

  async transfer(request: HttpTransferRequest, options?: VmomiCallOptions): Promise<HttpTransferResponse> {
    this.#ensureOpen('transfer')
    return this.#invoker.transfer(request, readOptions(options, 'transfer'), this.#session)
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown()
    return this.#closed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #shutdown(): Promise<void> {
    this.#session.stopKeepAlive()
    // Calls still running are abandoned first, so none of them can log in again after Logout.
    this.#invoker.abortAll()
    await this.#session.logout()
    this.#transport.close()
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
  const transport = new Transport(resolved.url, resolved.tls, resolved.maxSockets, redactor)
  let gateway: SoapGatewayImpl | undefined
  try {
    const client = await createVimSoapClient(transport, redactor, resolved.apiVersion)
    gateway = new SoapGatewayImpl(resolved, redactor, transport, client)
    await gateway.connect()
    return gateway
  } catch (error) {
    if (gateway) await gateway.close().catch(() => undefined)
    else transport.close()
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
