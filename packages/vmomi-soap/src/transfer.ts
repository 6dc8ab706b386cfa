import { ErrorCode, type Outcome, PortLayerError } from '@portlayer/contracts'
import type { HttpTransferRequest, HttpTransferResponse } from '@portlayer/contracts/vmomi'
import { GatewayCause, gatewayError, invalidArgument } from './errors.js'
import type { Redactor } from './redact.js'
import { type CallScope, sleep } from './scope.js'
import {
  type Delivery,
  headerRecord,
  isTransientStatus,
  isTransientTransportError,
  type Transport,
  toTransportError,
  transportFailure,
} from './transport.js'

export interface TransferContext {
  readonly transport: Transport
  readonly redactor: Redactor
  readonly scope: CallScope
  readonly retries: number
  readonly retryDelayMs: number
  onRetry(message: string): void
  /** The session generation a request is sent under, once a re-login in progress is over. */
  sessionGeneration(): Promise<number>
  /** Restores the session lost while `generation` was current (shared with every other caller). */
  restoreSession(generation: number): Promise<void>
}

const METHODS = new Set(['GET', 'PUT', 'HEAD', 'DELETE'])
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function codeForStatus(status: number): ErrorCode {
  if (status === 404 || status === 410) return ErrorCode.NotFound
  if (status === 409 || status === 412) return ErrorCode.Conflict
  if (status === 408 || status === 504) return ErrorCode.Timeout
  if (status === 401 || status === 403 || status >= 500) return ErrorCode.Unavailable
  return ErrorCode.InvalidArgument
}

/**
 * The URL of a transfer: a path resolves against the endpoint; a guest transfer URL whose host is
 * `*` means "the host you are connected to" (keeping its port if it names one).
 */
export function resolveTransferUrl(raw: string, endpoint: URL): URL {
  let text = raw
  const star = /^(https?:\/\/)\*(:\d+)?(?=[/?#]|$)/i.exec(text)
  if (star) {
    const [whole, scheme, port] = star as unknown as [string, string, string | undefined]
    text = `${scheme}${port ? `${endpoint.hostname}${port}` : endpoint.host}${text.slice(whole.length)}`
  }
  let url: URL
  try {
    url = new URL(text, endpoint)
  } catch {
    throw invalidArgument('transfer: url is not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument('transfer: url must be http or https')
  }
  // Plain http from an https connection would send the session cookie and file data unencrypted,
  // past the TLS checks the user asked for.
  if (endpoint.protocol === 'https:' && url.protocol === 'http:') {
    throw invalidArgument('transfer: an https connection does not transfer over plain http')
  }
  if (url.username !== '' || url.password !== '')
    throw invalidArgument('transfer: url must not carry credentials')
  return url
}

function checkRequest(request: HttpTransferRequest): void {
  if (typeof request !== 'object' || request === null)
    throw invalidArgument('transfer: request must be an object')
  if (typeof request.method !== 'string' || !METHODS.has(request.method)) {
    throw invalidArgument('transfer: method must be GET, PUT, HEAD or DELETE')
  }
  if (typeof request.url !== 'string' || request.url === '')
    throw invalidArgument('transfer: url must be a string')
  if (request.body !== undefined && !(request.body instanceof Uint8Array)) {
    throw invalidArgument('transfer: body must be a Uint8Array')
  }
  if (request.body !== undefined && request.method !== 'PUT') {
    throw invalidArgument(`transfer: a ${request.method} request has no body`)
  }
  if (request.headers !== undefined) {
    if (typeof request.headers !== 'object' || request.headers === null) {
      throw invalidArgument('transfer: headers must be an object')
    }
    for (const [name, value] of Object.entries(request.headers)) {
      if (!HEADER_NAME.test(name) || typeof value !== 'string' || /[\r\n\0]/.test(value)) {
        throw invalidArgument('transfer: headers must be valid HTTP header names and string values')
      }
      if (name.toLowerCase() === 'cookie')
        throw invalidArgument('transfer: the session cookie is managed by the gateway')
    }
  }
}

function flatHeaders(raw: readonly Buffer[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(headerRecord(raw))) {
    // The session cookie stays inside the gateway.
    if (key === 'set-cookie') continue
    out[key] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

/** The answer's bytes in a buffer of their own (not a view of a larger one). */
function ownBytes(data: Buffer): Uint8Array {
  return new Uint8Array(data)
}

/**
 * One HTTP transfer with the gateway's cookie and TLS settings, bounded retries for reads. A PUT or
 * DELETE whose answer was lost after the server may have acted on it fails with outcome `unknown`
 * (a PUT body that was only partly sent may still have left a partial file); one that was refused
 * (an HTTP 4xx, a connection never made) with `not-applied`.
 */
export async function performTransfer(
  request: HttpTransferRequest,
  ctx: TransferContext,
): Promise<HttpTransferResponse> {
  let url: URL
  let body: Uint8Array | undefined
  let headers: Record<string, string>
  let method: HttpTransferRequest['method']
  try {
    checkRequest(request)
    url = resolveTransferUrl(request.url, ctx.transport.endpoint)
    method = request.method
    body = request.body
    headers = { ...request.headers }
  } catch (error) {
    if (PortLayerError.isInstance(error)) throw error
    throw invalidArgument('transfer: the request could not be read')
  }
  const shown = ctx.redactor.text(`${url.pathname}${url.search}`)
  const what = `vSphere transfer ${method} ${shown}`
  const idempotent = method === 'GET' || method === 'HEAD'
  const sameOrigin = url.origin === ctx.transport.origin
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = 'application/octet-stream'
  }
  /** Whether the server may have acted on the request in flight: how far it got. */
  const acted = (delivery: Delivery): boolean =>
    delivery === 'all' || (delivery === 'partial' && body !== undefined && body.byteLength > 0)
  const outcomeOf = (sent: boolean): Outcome => (!idempotent && sent ? 'unknown' : 'not-applied')
  let relogged = false
  for (let attempt = 0; ; attempt++) {
    ctx.scope.check()
    let retryable: string | undefined
    let inFlight = false
    try {
      // Only the endpoint's own origin gets the session cookie, so only there does a 401 mean a lost session.
      const generation = sameOrigin ? await ctx.sessionGeneration() : 0
      inFlight = true
      const res = await ctx.transport.request({
        url,
        method,
        headers: Object.entries(headers).flat(),
        body,
        signal: ctx.scope.signal,
      })
      inFlight = false
      const status = res.status
      if (status >= 200 && status < 300) {
        return {
          status,
          headers: flatHeaders(res.rawHeaders),
          body: method === 'HEAD' ? new Uint8Array(0) : ownBytes(res.body),
        }
      }
      // Refused for the session: nothing was done, so a change is sent again as well.
      if (status === 401 && sameOrigin && !relogged) {
        relogged = true
        await ctx.restoreSession(generation)
        attempt--
        continue
      }
      if (idempotent && isTransientStatus(status) && attempt < ctx.retries) {
        retryable = `HTTP ${status}`
      } else {
        // A server error may come after the change was made (or half made); a 4xx is a refusal.
        const sent = status >= 500
        const text = ctx.redactor.text(res.body.toString('utf8', 0, 200)).trim()
        throw gatewayError(
          codeForStatus(status),
          `${what} failed with HTTP ${status}${text ? `: ${text}` : ''}`,
          { httpStatus: status, method, url: ctx.redactor.text(url.href), ...(sent ? { sent } : {}) },
          new GatewayCause(`HTTP ${status}`),
          outcomeOf(sent),
        )
      }
    } catch (error) {
      // Already decided: a refusal, or the wait for a session given up (nothing sent).
      if (PortLayerError.isInstance(error)) throw error
      const failure = toTransportError(error, ctx.redactor)
      const sent = inFlight && acted(failure.delivery)
      if (ctx.scope.stopped) throw ctx.scope.error({ method, sent }, outcomeOf(sent))
      if (!idempotent || attempt >= ctx.retries || !isTransientTransportError(failure)) {
        throw transportFailure(failure, what, url.host, method, { sent, outcome: outcomeOf(sent) })
      }
      retryable = failure.message
    }
    const delay = ctx.retryDelayMs * 2 ** attempt
    ctx.onRetry(`${what}: ${retryable}; retrying in ${delay} ms`)
    try {
      await sleep(delay, ctx.scope.signal)
    } catch {
      throw ctx.scope.error({ method })
    }
  }
}
