import { setMaxListeners } from 'node:events'
import { ErrorCode, type Outcome, PortLayerError } from '@portlayer/contracts'
import type {
  HttpTransferRequest,
  HttpTransferResponse,
  MoRef,
  VmomiCallOptions,
} from '@portlayer/contracts/vmomi'
import { GatewayCause, gatewayError, invalidArgument, withOutcome } from './errors.js'
import { type FaultContext, faultError, faultFromSoapError } from './faults.js'
import { normalizeField } from './normalize.js'
import { collectSecrets, type Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import { CallScope, sleep } from './scope.js'
import { toSoapArgs } from './serialize.js'
import { markSessionLost, sessionLostAnswerError } from './session-lost.js'
import type { ResolvedSettings } from './settings.js'
import type { VimSoapClient } from './soap-client.js'
import { performTransfer } from './transfer.js'
import {
  isTransientStatus,
  isTransientTransportError,
  type Transport,
  TransportError,
  transportFailure,
} from './transport.js'

/**
 * What one call's requests did. `acted`: the server may have acted on the last request sent (it
 * was written in full and no fault refused it); errors report it as `detail.sent`. `generation`:
 * the session it was sent under.
 */
export interface Trace {
  acted: boolean
  generation: number
}

export const newTrace = (): Trace => ({ acted: false, generation: -1 })

/** The session a transfer runs under; the transfer re-logs in through it on a lost session. */
export interface TransferSession {
  current(scope: CallScope): Promise<number>
  restore(generation: number, scope: CallScope): Promise<void>
}

export type LogLevel = 'debug' | 'info' | 'warn'

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

function httpStatusOf(error: unknown): number | undefined {
  const e = error as { response?: { status?: unknown } } | null
  return typeof e?.response?.status === 'number' ? e.response.status : undefined
}

/** The reference in a serialised `_this` argument, if it is one. */
export function moRefOf(soap: unknown): MoRef | undefined {
  const object = soap as { $value?: string; attributes?: { type?: string } } | undefined
  return object?.attributes?.type !== undefined && object.$value !== undefined
    ? { type: object.attributes.type, value: object.$value }
    : undefined
}

/**
 * Reads the options argument of a gateway method. Any value: a non-object or one whose fields
 * cannot be read (a throwing proxy) is `INVALID_ARGUMENT`, never a `TypeError`.
 */
export function readOptions(options: unknown, what: string): { signal?: AbortSignal; timeoutMs?: number } {
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
export function reading<T>(what: string, fn: () => T): T {
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

export interface InvokerDeps {
  readonly settings: ResolvedSettings
  readonly redactor: Redactor
  readonly transport: Transport
  readonly client: VimSoapClient
}

/**
 * Sends requests of one gateway and says what each did: encodes the arguments, bounds every
 * operation by its deadline, the caller's signal and the gateway's closing, retries idempotent
 * reads after transient network errors, maps failures to `PortLayerError`s with their outcome
 * (`unknown` only for a change the server may have acted on) and counts requests. It knows
 * nothing of sessions beyond marking the answers that say the session was lost.
 */
export class Invoker {
  readonly #deps: InvokerDeps
  readonly #closing = new AbortController()
  #inFlight = 0
  #lastActivity = Date.now()
  readonly #counts = { requests: 0, retries: 0, transfers: 0 }
  readonly #byMethod: Record<string, number> = {}

  constructor(deps: InvokerDeps) {
    this.#deps = deps
    // Every operation in flight listens for the gateway closing; many at once is normal here.
    setMaxListeners(0, this.#closing.signal)
  }

  /** Aborted when the gateway closes: everything in flight is given up. */
  get closing(): AbortSignal {
    return this.#closing.signal
  }

  /** Gives up every operation in flight and every one started later. */
  abortAll(): void {
    this.#closing.abort()
  }

  /** Milliseconds since the last request or transfer ended; 0 while one is in flight. */
  idleMs(): number {
    return this.#inFlight > 0 ? 0 : Date.now() - this.#lastActivity
  }

  counts(): {
    requests: number
    retries: number
    transfers: number
    requestsByMethod: Record<string, number>
  } {
    return { ...this.#counts, requestsByMethod: { ...this.#byMethod } }
  }

  log(level: LogLevel, message: string): void {
    try {
      this.#deps.settings.logger[level]?.(this.#deps.redactor.text(message))
    } catch {
      // A failing logger must not fail the call it reports on.
    }
  }

  /** Counts a request sent again (a stalled task poll) and says so. */
  retried(message: string): void {
    this.#counts.retries++
    this.log('warn', message)
  }

  /** The scope of one operation: `timeoutMs`, the caller's `signal` and the gateway's closing. */
  scope(what: string, timeoutMs: number, signal?: AbortSignal): CallScope {
    return new CallScope(what, timeoutMs, signal, this.#closing.signal)
  }

  /** The vim25 operation named `method`; any other value is `UNSUPPORTED`. */
  operation(method: unknown): Operation {
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

  /** A caller's arguments serialised for `op`; what cannot be read or serialised is `INVALID_ARGUMENT`. */
  encode(op: Operation, args: unknown): Record<string, unknown> {
    return reading(op.name, () => {
      // Passwords in the arguments (Login, guest authentication) are cut out of any error text.
      collectSecrets(args, this.#deps.redactor)
      return toSoapArgs(op, this.#withDefaultPage(op, args))
    })
  }

  #withDefaultPage(op: Operation, args: unknown): unknown {
    if (op.name !== 'RetrievePropertiesEx' || typeof args !== 'object' || args === null) return args
    const a = args as Record<string, unknown>
    const options = (typeof a.options === 'object' && a.options !== null ? a.options : {}) as Record<
      string,
      unknown
    >
    const asked = typeof options.maxObjects === 'number' ? options.maxObjects : undefined
    const pageSize = this.#deps.settings.pageSize
    // Parsing is synchronous: a page bounds how long one response can hold the event loop.
    const maxObjects = asked === undefined || asked <= 0 ? pageSize : Math.min(asked, pageSize)
    return { ...a, options: { ...options, maxObjects } }
  }

  /** One call with bounded retries of idempotent reads after transient network errors; failures mapped. */
  async send(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace = newTrace(),
  ): Promise<unknown> {
    const { settings } = this.#deps
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sendOnce(op, soapArgs, scope, trace)
      } catch (error) {
        if (!op.idempotent || attempt >= settings.retries || !isTransient(error) || scope.stopped) {
          throw this.#failure(error, op, soapArgs, scope, trace)
        }
        this.#counts.retries++
        const delay = settings.retryDelayMs * 2 ** attempt
        this.log('warn', `vSphere ${op.name}: ${(error as Error).message}; retrying in ${delay} ms`)
        try {
          await sleep(delay, scope.signal)
        } catch {
          throw scope.error({ method: op.name })
        }
      }
    }
  }

  /** {@link send}, and an answer whose missingSet says the session was lost fails as such. */
  async sendChecked(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    const result = await this.send(op, soapArgs, scope, trace)
    const lost = sessionLostAnswerError(op, result)
    if (lost) throw lost
    return result
  }

  /**
   * Sends one request and normalises its result; transport errors stay unmapped for the retry loop.
   * Records in `trace` whether the server may have acted on it.
   */
  async #sendOnce(
    op: Operation,
    soapArgs: Record<string, unknown>,
    scope: CallScope,
    trace: Trace,
  ): Promise<unknown> {
    trace.acted = false
    scope.check()
    this.#counts.requests++
    this.#byMethod[op.name] = (this.#byMethod[op.name] ?? 0) + 1
    this.#inFlight++
    try {
      const raw = await this.#deps.client.invoke(op.name, soapArgs, scope)
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
  #failure(
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
    if (mapped.detail?.fault === 'NotAuthenticated') markSessionLost(mapped)
    return mapped
  }

  #mapError(error: unknown, context: FaultContext, sent: boolean, outcome: Outcome): PortLayerError {
    const { settings, redactor } = this.#deps
    if (PortLayerError.isInstance(error)) return withOutcome(error, outcome)
    const fault = faultFromSoapError(error)
    // A fault is the server refusing the call: nothing of it was applied.
    if (fault) return faultError(fault, context, redactor)
    const what = `vSphere ${context.method}`
    if (error instanceof TransportError) {
      return transportFailure(error, what, settings.url.host, context.method, { sent, outcome })
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
    const message = error instanceof Error ? redactor.text(error.message) : 'unreadable response'
    return gatewayError(
      ErrorCode.Unavailable,
      `${what}: unexpected response: ${message}`,
      { method: context.method, sent },
      new GatewayCause(message),
      outcome,
    )
  }

  /** One HTTP transfer (datastore or guest file), under `session`, with retries of GET/HEAD. */
  async transfer(
    request: HttpTransferRequest,
    options: { signal?: AbortSignal; timeoutMs?: number },
    session: TransferSession,
  ): Promise<HttpTransferResponse> {
    const { settings, transport, redactor } = this.#deps
    this.#counts.transfers++
    const method = reading('transfer', () =>
      typeof request?.method === 'string' && request.method.length <= 8 ? request.method : '',
    )
    const scope = this.scope(
      `transfer ${method}`.trim(),
      options.timeoutMs === undefined ? settings.transferTimeoutMs : options.timeoutMs,
      options.signal,
    )
    this.#inFlight++
    try {
      return await performTransfer(request, {
        transport,
        redactor,
        scope,
        retries: settings.retries,
        retryDelayMs: settings.retryDelayMs,
        onRetry: (message) => this.retried(message),
        sessionGeneration: () => session.current(scope),
        restoreSession: (generation) => session.restore(generation, scope),
      })
    } finally {
      this.#inFlight--
      this.#lastActivity = Date.now()
      scope.dispose()
    }
  }
}
