import { ErrorCode, type Outcome, type PortLayerError } from '@portlayer/contracts'
import axios, { type AxiosInstance, type AxiosResponse } from 'axios'
import { GatewayCause, gatewayError } from './errors.js'
import type { Redactor } from './redact.js'
import { type Agents, isTlsErrorCode, THUMBPRINT_MISMATCH } from './tls.js'

const SESSION_COOKIE = 'vmware_soap_session'

/**
 * How far a failed request got. `none`: no byte reached the server (no connection, TLS refused,
 * aborted before a socket). `partial`: connected, but the request was not written in full, so the
 * server cannot have acted on a SOAP call (it needs the whole envelope). `all`: written in full;
 * the server may have acted on it.
 */
export type Delivery = 'none' | 'partial' | 'all'

/**
 * A transport-level failure (no HTTP response, or a TLS refusal). Built from the axios error's
 * code and redacted message only: the axios error itself holds the request body and headers.
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

/**
 * How far the request of a failed axios call got, read from its Node `ClientRequest`. Without one
 * to look at, the worst is assumed (`all`) unless the error code says no connection was made.
 */
function deliveryOf(error: unknown, code: string | undefined): Delivery {
  if (BEFORE_CONNECTION.has(code ?? '') || isTlsErrorCode(code)) return 'none'
  let request: { writableFinished?: unknown; socket?: unknown } | undefined
  try {
    const r = (error as { request?: unknown } | null)?.request
    request = typeof r === 'object' && r !== null ? (r as typeof request) : undefined
  } catch {
    request = undefined
  }
  // axios cancels a request whose signal was aborted before it made one: no request, nothing sent.
  if (request === undefined && code === 'ERR_CANCELED') return 'none'
  if (request === undefined || typeof request.writableFinished !== 'boolean') return 'all'
  if (request.writableFinished) return 'all'
  return request.socket ? 'partial' : 'none'
}

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

export function toTransportError(error: unknown, redactor: Redactor): TransportError {
  if (error instanceof TransportError) return error
  const e = error as { message?: unknown; code?: unknown; cause?: { code?: unknown } } | null
  const code =
    typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined
  const message = typeof e?.message === 'string' ? e.message : 'network error'
  return new TransportError(redactor.text(message), code, deliveryOf(error, code))
}

/**
 * The HTTP side of a gateway: one axios instance with keep-alive agents and the session cookie,
 * used for SOAP calls and for `/folder` and guest transfers alike. The cookie is only ever sent to
 * the endpoint's own origin (a guest transfer URL may name an ESXi host).
 */
export class Transport {
  readonly axios: AxiosInstance
  readonly origin: string
  #cookie: string | undefined

  constructor(
    readonly endpoint: URL,
    readonly agents: Agents,
    redactor: Redactor,
  ) {
    this.origin = endpoint.origin
    this.axios = axios.create({
      httpAgent: agents.http,
      httpsAgent: agents.https,
      // A proxy from the environment would see the session cookie and bypass the TLS settings.
      proxy: false,
      maxRedirects: 0,
      maxBodyLength: Number.POSITIVE_INFINITY,
      maxContentLength: Number.POSITIVE_INFINITY,
      validateStatus: () => true,
    })
    this.axios.interceptors.request.use((config) => {
      if (this.#cookie !== undefined && this.#sameOrigin(config.url))
        config.headers.set('Cookie', this.#cookie)
      return config
    })
    this.axios.interceptors.response.use((response) => {
      if (this.#sameOrigin(response.config.url)) this.#takeCookie(response, redactor)
      return response
    })
  }

  /** Forgets the session cookie, so the next `Login` starts a fresh session. */
  clearSession(): void {
    this.#cookie = undefined
  }

  #sameOrigin(url: string | undefined): boolean {
    if (url === undefined) return false
    try {
      return new URL(url, this.endpoint).origin === this.origin
    } catch {
      return false
    }
  }

  #takeCookie(response: AxiosResponse, redactor: Redactor): void {
    const header = response.headers['set-cookie']
    const values = Array.isArray(header) ? header : typeof header === 'string' ? [header] : []
    for (const value of values) {
      const pair = value.split(';', 1)[0]?.trim() ?? ''
      if (!pair.startsWith(`${SESSION_COOKIE}=`)) continue
      const token = pair.slice(SESSION_COOKIE.length + 1).replace(/^"|"$/g, '')
      redactor.add(token)
      this.#cookie = pair
    }
  }
}

type SoapCallback = (err: unknown, response?: unknown, body?: unknown) => void

/**
 * node-soap's HTTP client, replaced: requests go through the gateway's axios instance (cookie,
 * agents, abort signal), nothing is logged, and failures reach node-soap as `TransportError`s.
 */
export class SoapHttpClient {
  constructor(
    readonly transport: Transport,
    readonly redactor: Redactor,
  ) {}

  request(
    url: string,
    data: string,
    callback: SoapCallback,
    headers?: Record<string, string>,
    options?: { signal?: AbortSignal },
  ): Promise<unknown> {
    const promise = this.transport.axios.request<string>({
      url,
      method: 'POST',
      data,
      headers: { ...headers, 'Content-Type': 'text/xml; charset=utf-8' },
      signal: options?.signal,
      responseType: 'text',
      transformResponse: [(body: unknown) => body],
    })
    promise.then(
      (res) => {
        const response = { status: res.status, headers: {}, data: res.data }
        callback(null, response, res.data)
      },
      (err: unknown) => callback(toTransportError(err, this.redactor)),
    )
    return promise.catch(() => undefined)
  }
}
