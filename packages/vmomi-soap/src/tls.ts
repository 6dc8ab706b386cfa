import http from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { invalidArgument } from './errors.js'

/** How the server's certificate is checked. Each option applies to this connection only. */
export interface TlsOptions {
  /** PEM certificate(s) of the CA to trust for this connection instead of Node's default store. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /**
   * SHA-256 fingerprint of the server's certificate (`AB:CD:…`, colons optional). A certificate
   * with this fingerprint is accepted whoever signed it (with `ca` as well, the chain must also
   * verify); any other is refused before a byte of the request is sent.
   */
  readonly thumbprint?: string
  /** Accept any certificate. Explicit and per connection; never combined with `ca`/`thumbprint`. */
  readonly insecure?: boolean
}

export const THUMBPRINT_MISMATCH = 'ERR_TLS_THUMBPRINT_MISMATCH'
const IDLE_SOCKET_MS = 15_000

/** `AB:CD:…` upper case; throws `INVALID_ARGUMENT` for anything but a SHA-256 fingerprint. */
export function normalizeThumbprint(value: string): string {
  const hex = value.replace(/[:\s]/g, '').toUpperCase()
  if (/^[0-9A-F]{40}$/.test(hex)) {
    throw invalidArgument('tls.thumbprint is a SHA-1 fingerprint; give the SHA-256 one')
  }
  if (!/^[0-9A-F]{64}$/.test(hex))
    throw invalidArgument('tls.thumbprint must be a SHA-256 fingerprint (64 hex digits)')
  return hex.match(/../g)?.join(':') ?? hex
}

export class ThumbprintMismatchError extends Error {
  readonly code = THUMBPRINT_MISMATCH
  constructor(actual: string | undefined, expected: string) {
    super(
      `server certificate thumbprint ${actual ?? '(none)'} does not match the pinned thumbprint ${expected}`,
    )
    this.name = 'ThumbprintMismatchError'
  }
}

/**
 * An HTTPS agent that pins the server certificate. Node skips `checkServerIdentity` when the
 * chain does not verify (a self-signed vCenter certificate), so the handshake is completed here
 * and the socket is handed to the request only once its fingerprint matched: nothing, in
 * particular no `Login` body, is ever written to an unpinned peer.
 */
class PinnedAgent extends https.Agent {
  readonly #expected: string
  readonly #verifyChain: boolean
  // Until its handshake is over a socket belongs to no request and to none of the agent's lists,
  // so neither an aborted request nor `Agent.destroy()` would close it: it is tracked here.
  readonly #handshaking = new Map<tls.TLSSocket, (err: Error) => void>()

  constructor(options: https.AgentOptions, expected: string) {
    super(options)
    this.#expected = expected
    this.#verifyChain = options.ca !== undefined
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const expected = this.#expected
    const socket = tls.connect({
      ...(options as tls.ConnectionOptions),
      rejectUnauthorized: this.#verifyChain,
      // Reached only when the chain verified (a `ca` was given): the pin replaces the host name check.
      checkServerIdentity: (_host, cert) =>
        cert.fingerprint256 === expected
          ? undefined
          : new ThumbprintMismatchError(cert.fingerprint256, expected),
    })
    let settled = false
    const onTimeout = (): void => done(handshakeError('TLS handshake timed out', 'ETIMEDOUT'))
    const done = (err: Error | null): void => {
      if (settled) return
      settled = true
      this.#handshaking.delete(socket)
      socket.off('error', done)
      socket.off('timeout', onTimeout)
      if (err) {
        socket.destroy()
        callback?.(err, socket)
      } else {
        callback?.(null, socket)
      }
    }
    this.#handshaking.set(socket, done)
    socket.once('error', done)
    // The agent's idle timeout applies to the handshake too: a peer that never answers is given up.
    socket.once('timeout', onTimeout)
    socket.once('secureConnect', () => {
      const actual = socket.getPeerCertificate().fingerprint256
      done(actual === expected ? null : new ThumbprintMismatchError(actual, expected))
    })
    return undefined
  }

  override destroy(): void {
    for (const done of [...this.#handshaking.values()]) {
      done(handshakeError('connection closed by the gateway', 'ECONNRESET'))
    }
    super.destroy()
  }
}

function handshakeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

export interface Agents {
  readonly http: http.Agent
  readonly https: https.Agent
  destroy(): void
}

/** Keep-alive agents carrying `options`, shared by SOAP calls and HTTP transfers of one gateway. */
export function createAgents(options: TlsOptions | undefined, maxSockets: number): Agents {
  // An idle socket is closed after 15 s, before a server or proxy drops it unseen: a write sent
  // on a socket the server already closed fails and, unless it is a read, is not retried.
  const base = {
    keepAlive: true,
    maxSockets,
    maxFreeSockets: maxSockets,
    scheduling: 'lifo' as const,
    timeout: IDLE_SOCKET_MS,
  }
  const o = options ?? {}
  if (o.insecure !== undefined && typeof o.insecure !== 'boolean')
    throw invalidArgument('tls.insecure must be a boolean')
  if (o.insecure && (o.ca !== undefined || o.thumbprint !== undefined)) {
    throw invalidArgument('tls.insecure cannot be combined with tls.ca or tls.thumbprint')
  }
  const ca = o.ca === undefined ? undefined : Array.isArray(o.ca) ? [...o.ca] : (o.ca as string | Buffer)
  let httpsAgent: https.Agent
  if (o.thumbprint !== undefined) {
    if (typeof o.thumbprint !== 'string') throw invalidArgument('tls.thumbprint must be a string')
    httpsAgent = new PinnedAgent({ ...base, ca }, normalizeThumbprint(o.thumbprint))
  } else if (o.insecure) {
    httpsAgent = new https.Agent({ ...base, rejectUnauthorized: false })
  } else {
    httpsAgent = new https.Agent({ ...base, ca, rejectUnauthorized: true })
  }
  const httpAgent = new http.Agent(base)
  return {
    http: httpAgent,
    https: httpsAgent,
    destroy() {
      httpAgent.destroy()
      httpsAgent.destroy()
    },
  }
}

const TLS_CODES = new Set([
  THUMBPRINT_MISMATCH,
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
])

/** True for an error code that says the TLS handshake or certificate check failed. */
export function isTlsErrorCode(code: string | undefined): boolean {
  if (code === undefined) return false
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')
}
