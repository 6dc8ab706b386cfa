import { ErrorCode, type Outcome, type PortLayerError } from '@portlayer/contracts'
import { Agent, type Dispatcher } from 'undici'
import { GatewayCause, gatewayError } from './errors.js'
import type { Redactor } from './redact.js'
import type { Stoppable } from './scope.js'
import { Connector, isTlsErrorCode, THUMBPRINT_MISMATCH, type TlsOptions } from './tls.js'

const SESSION_COOKIE = 'vmware_soap_session'

/**
 * How far a failed request got. `none`: no byte reached the server (no connection, TLS refused,
 * aborted before a socket). `partial`: connected, but the request was not written in full, so the
 * server cannot have acted on a SOAP call (it needs the whole envelope). `all`: written in full;
 * the server may have acted on it.
 */
export type Delivery = 'none' | 'partial' | 'all'

/**
 * A transport-level failure (no HTTP response, or a TLS refusal). Built from the HTTP client's
 * error code and redacted message only.
 */
export class TransportError extends Error {
  readonly code: string | undefined
  readonly delivery: Delivery
  constructor(message: string, code: string | undefined, delivery: Delivery = 'all') {
    super(message)
    this.name = 'TransportError'
    this.code = code
    this.delivery = delivery
  }
}

// Failures before a connection exists: nothing of the request can have been sent.
const BEFORE_CONNECTION = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'])

// undici's names for what Node's own HTTP client reports as a connection reset.
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
])

/** True for a gateway or proxy status (502, 503, 504) after which a read may be sent again. */
export function isTransientStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504
}

/** True for a network failure after which an idempotent request may be sent again. */
export function isTransientTransportError(error: unknown): boolean {
  return error instanceof TransportError && error.code !== undefined && TRANSIENT.has(error.code)
}

/**
 * The `UNAVAILABLE` error for a transport failure of `what` (TLS refusals say so in `detail.tls`).
 * `effect` is the caller's judgement: `sent`, whether the server may have acted on the request
 * (`detail.sent`), and the `outcome` (a read changes nothing, whatever was sent).
 */
export function transportFailure(
  error: TransportError,
  what: string,
  host: string,
  method?: string,
  effect: { readonly sent: boolean; readonly outcome: Outcome } = {
    sent: error.delivery !== 'none',
    outcome: 'not-applied',
  },
): PortLayerError {
  const cause = new GatewayCause(error.message, error.code)
  const { sent, outcome } = effect
  if (isTlsErrorCode(error.code)) {
    const hint =
      error.code === THUMBPRINT_MISMATCH
        ? ''
        : ' (to trust it, pass tls.ca, tls.thumbprint or, explicitly, tls.insecure)'
    return gatewayError(
      ErrorCode.Unavailable,
      `${what}: TLS connection to ${host} refused: ${error.message}${hint}`,
      { method, tls: error.code, sent },
      cause,
      outcome,
    )
  }
  return gatewayError(
    ErrorCode.Unavailable,
    `${what}: connection to ${host} failed: ${error.message}`,
    { method, network: error.code, sent },
    cause,
    outcome,
  )
}

/**
 * `error` as a {@link TransportError}. `delivery` is how far the request got, when the caller
 * knows; otherwise the worst is assumed (`all`) unless the code says no connection was made.
 */
export function toTransportError(error: unknown, redactor: Redactor, delivery?: Delivery): TransportError {
  if (error instanceof TransportError) return error
  const e = error as { message?: unknown; code?: unknown; cause?: { code?: unknown } } | null
  let code =
    typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined
  if (code !== undefined && RESET_CODES.has(code)) code = 'ECONNRESET'
  const message = typeof e?.message === 'string' ? e.message : 'network error'
  const reached = BEFORE_CONNECTION.has(code ?? '') || isTlsErrorCode(code) ? 'none' : (delivery ?? 'all')
  return new TransportError(redactor.text(message), code, reached)
}

/** An HTTP request of the gateway: a SOAP call or a transfer. */
export interface HttpRequest {
  readonly method: 'GET' | 'PUT' | 'HEAD' | 'DELETE' | 'POST'
  readonly url: URL
  /** Header names and values, flat (`[name, value, name, value, …]`). */
  readonly headers: string[]
  readonly body?: string | Uint8Array
  /** Gives the request up when aborted (or `stop`, when it stops). */
  readonly signal?: AbortSignal
  readonly stop?: Stoppable
}

export interface HttpAnswer {
  readonly status: number
  /** Raw header names and values as received (`[name, value, …]`). */
  readonly rawHeaders: readonly Buffer[]
  readonly body: Buffer
}

/** The headers of an answer as one record, names in lower case, repeated values as arrays. */
export function headerRecord(raw: readonly Buffer[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase()
    const value = (raw[i + 1] as Buffer).toString('latin1')
    const seen = out[name]
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]
  }
  return out
}

// Bodies above this are written in chunks, each waiting for the socket to drain, so that a
// request cut off while its body is still being written is known as only partly sent.
const CHUNKED_BODY_BYTES = 64 * 1024
// An idle socket is closed after 15 s, before a server or proxy drops it unseen: a write sent on
// a socket the server already closed fails and, unless it is a read, is not retried.
const IDLE_SOCKET_MS = 15_000

function* chunksOf(body: Buffer): Generator<Buffer> {
  for (let at = 0; at < body.byteLength; at += CHUNKED_BODY_BYTES) {
    yield body.subarray(at, at + CHUNKED_BODY_BYTES)
  }
}

const QUEUED = 0
const WRITING = 1
const SENT = 2

/**
 * One request in undici's dispatcher, told through the handler callbacks how far it got: queued
 * (no byte written: `none`), being written (`partial`: the server cannot act on a request it did
 * not get whole) or written in full (`all`).
 */
class Exchange implements Dispatcher.DispatchHandler {
  #stage = QUEUED
  #settled = false
  #abort: ((err?: Error) => void) | undefined
  #status = 0
  #rawHeaders: Buffer[] = []
  readonly #chunks: Buffer[] = []
  #size = 0
  #unsubscribe: (() => void) | undefined

  constructor(
    readonly resolve: (answer: HttpAnswer) => void,
    readonly reject: (error: TransportError) => void,
    readonly redactor: Redactor,
    signal: AbortSignal | undefined,
    stop: Stoppable | undefined,
  ) {
    const onAbort = (): void => this.#aborted()
    if (stop) {
      this.#unsubscribe = stop.onStop(onAbort)
    } else if (signal) {
      signal.addEventListener('abort', onAbort, { once: true })
      this.#unsubscribe = () => signal.removeEventListener('abort', onAbort)
    }
  }

  #aborted(): void {
    if (this.#settled) return
    const reason = abortError()
    // Still queued: answered at once, and skipped without touching a socket when its turn comes.
    if (this.#stage === QUEUED) this.#fail(reason)
    // In flight: undici drops the connection and reports back through onError.
    else this.#abort?.(reason)
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#settled) throw abortError()
    this.#abort = abort
    this.#stage = WRITING
  }

  onRequestSent(): void {
    this.#stage = SENT
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    this.#status = status
    this.#rawHeaders = rawHeaders
    return true
  }

  onData(chunk: Buffer): boolean {
    this.#chunks.push(chunk)
    this.#size += chunk.byteLength
    return true
  }

  onComplete(): void {
    if (this.#settled) return
    this.#settle()
    const chunks = this.#chunks
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#size)
    this.resolve({ status: this.#status, rawHeaders: this.#rawHeaders, body })
  }

  onError(error: Error): void {
    if (this.#settled) return
    this.#fail(error)
  }

  #fail(error: unknown): void {
    this.#settle()
    const delivery: Delivery = this.#stage === QUEUED ? 'none' : this.#stage === WRITING ? 'partial' : 'all'
    this.reject(toTransportError(error, this.redactor, delivery))
  }

  #settle(): void {
    this.#settled = true
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = undefined
    unsubscribe?.()
  }
}

function abortError(): Error {
  return Object.assign(new Error('request aborted'), { code: 'ABORT_ERR' })
}

/**
 * The HTTP side of a gateway: undici connection pools (keep-alive, one per origin) over the
 * gateway's own TLS connector, and the session cookie, used for SOAP calls and for `/folder` and
 * guest transfers alike. The cookie is only ever sent to the endpoint's own origin (a guest
 * transfer URL may name an ESXi host).
 */
export class Transport {
  readonly origin: string
  readonly #connector: Connector
  readonly #agent: Agent
  readonly #redactor: Redactor
  #cookie: string | undefined

  constructor(
    readonly endpoint: URL,
    tlsOptions: TlsOptions | undefined,
    maxSockets: number,
    redactor: Redactor,
  ) {
    this.origin = endpoint.origin
    this.#redactor = redactor
    this.#connector = new Connector(tlsOptions)
    this.#agent = new Agent({
      connect: this.#connector.connect as never,
      connections: maxSockets,
      // Pipelining is left off: a request queued behind a slow one (a long task, a wait for
      // updates) would wait for it, and a dropped connection would leave every change queued on
      // it with an unknown outcome.
      pipelining: 1,
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
      // Deadlines are the caller's (every request carries its operation's signal).
      headersTimeout: 0,
      bodyTimeout: 0,
    })
  }

  /** The TLS connector (for tests: what it verifies). */
  get connector(): Connector {
    return this.#connector
  }

  /** Forgets the session cookie, so the next `Login` starts a fresh session. */
  clearSession(): void {
    this.#cookie = undefined
  }

  /** Closes every connection, including those still in their handshake. */
  close(): void {
    this.#connector.destroy()
    this.#agent.destroy().catch(() => undefined)
  }

  /**
   * Sends one request. Rejects with a {@link TransportError} saying how far the request got when
   * no HTTP answer came; any HTTP status resolves.
   */
  request(request: HttpRequest): Promise<HttpAnswer> {
    const sameOrigin = request.url.origin === this.origin
    const headers = request.headers
    if (sameOrigin && this.#cookie !== undefined) headers.push('cookie', this.#cookie)
    let body: string | Buffer | Iterable<Buffer> | undefined
    if (request.body !== undefined) {
      const bytes =
        typeof request.body === 'string'
          ? Buffer.from(request.body, 'utf8')
          : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength)
      if (bytes.byteLength > CHUNKED_BODY_BYTES) {
        headers.push('content-length', String(bytes.byteLength))
        body = chunksOf(bytes)
      } else {
        body = bytes
      }
    }
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (request.signal?.aborted || request.stop?.stopped !== undefined) {
        reject(new TransportError('request aborted', 'ABORT_ERR', 'none'))
        return
      }
      const onAnswer = (answer: HttpAnswer): void => {
        if (sameOrigin) this.#takeCookie(answer.rawHeaders)
        resolve(answer)
      }
      const exchange = new Exchange(onAnswer, reject, this.#redactor, request.signal, request.stop)
      this.#agent.dispatch(
        {
          origin: request.url.origin,
          path: `${request.url.pathname}${request.url.search}`,
          method: request.method,
          headers,
          // undici writes any iterable of chunks; its types list only the other kinds of body.
          body: body as Dispatcher.DispatchOptions['body'],
        },
        exchange,
      )
    })
  }

  #takeCookie(raw: readonly Buffer[]): void {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as Buffer
      if (name.length !== 10 || name.toString('latin1').toLowerCase() !== 'set-cookie') continue
      const pair = (raw[i + 1] as Buffer).toString('latin1').split(';', 1)[0]?.trim() ?? ''
      if (!pair.startsWith(`${SESSION_COOKIE}=`)) continue
      const token = pair.slice(SESSION_COOKIE.length + 1).replace(/^"|"$/g, '')
      this.#redactor.add(token)
      this.#cookie = pair
    }
  }
}

type SoapCallback = (err: unknown, response?: unknown, body?: unknown) => void

export const SOAP_CONTENT_TYPE = 'text/xml; charset=utf-8'

/**
 * node-soap's HTTP client, replaced: requests go through the gateway's transport (cookie,
 * connection pool, abort signal), nothing is logged, and failures reach node-soap as
 * `TransportError`s.
 */
export class SoapHttpClient {
  readonly #endpointHref: string
  constructor(
    readonly transport: Transport,
    readonly redactor: Redactor,
  ) {
    this.#endpointHref = transport.endpoint.href
  }

  request(
    url: string,
    data: string,
    callback: SoapCallback,
    headers?: Record<string, string>,
    options?: { signal?: AbortSignal },
  ): Promise<unknown> {
    const target = url === this.#endpointHref ? this.transport.endpoint : new URL(url)
    const flat = ['content-type', SOAP_CONTENT_TYPE]
    const action = headers?.SOAPAction
    if (action !== undefined) flat.push('soapaction', action)
    const promise = this.transport.request({
      method: 'POST',
      url: target,
      headers: flat,
      body: data,
      signal: options?.signal,
    })
    promise.then(
      (res) => {
        const text = res.body.toString('utf8')
        callback(null, { status: res.status, headers: {}, data: text }, text)
      },
      (err: unknown) => callback(toTransportError(err, this.redactor)),
    )
    return promise.catch(() => undefined)
  }
}
