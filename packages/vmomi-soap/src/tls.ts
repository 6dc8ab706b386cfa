import { Buffer } from 'node:buffer'
import net from 'node:net'
import tls from 'node:tls'
import { invalidArgument } from './errors.js'

/** How the server's certificate is checked. Each option applies to this connection only. */
export interface TlsOptions {
  /**
   * PEM certificate(s) of the CA to trust for this connection instead of Node's default store, as
   * text or bytes (a `Buffer` is a `Uint8Array`).
   */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>
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
const HANDSHAKE_TIMEOUT_MS = 15_000

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

type Pem = string | Buffer

/** `tls.ca` as node:tls takes it; anything but text or bytes (or a list of them) is refused. */
function caOption(value: unknown): Pem | Pem[] | undefined {
  if (value === undefined) return undefined
  const one = (v: unknown): Pem => {
    if (typeof v === 'string') return v
    if (v instanceof Uint8Array)
      return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
    throw invalidArgument('tls.ca must be PEM text or bytes, or a list of them')
  }
  return Array.isArray(value) ? value.map(one) : one(value)
}

function handshakeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

/** Where undici asks for a connection (one socket of a pool). */
export interface ConnectTarget {
  readonly hostname: string
  readonly protocol: string
  readonly port: string
  readonly servername?: string | null
}

type ConnectCallback = (err: Error | null, socket: net.Socket | null) => void

/**
 * Opens the sockets of one gateway with its TLS settings: verified against Node's store or
 * `ca` by default, pinned to a SHA-256 fingerprint, or (explicitly) unverified. A socket is handed
 * to the HTTP client only once its handshake is over and, when pinned, its fingerprint matched:
 * Node skips `checkServerIdentity` when the chain does not verify (a self-signed vCenter
 * certificate), so the pin is checked here, and nothing, in particular no `Login` body, is ever
 * written to an unpinned peer.
 */
export class Connector {
  readonly #tls: tls.ConnectionOptions
  readonly #pin: string | undefined
  // Until its handshake is over a socket belongs to no client of the pool, so closing the pool
  // would not close it: it is tracked here.
  readonly #handshaking = new Map<net.Socket, (err: Error) => void>()

  constructor(options: TlsOptions | undefined) {
    const o = options ?? {}
    if (o.insecure !== undefined && typeof o.insecure !== 'boolean')
      throw invalidArgument('tls.insecure must be a boolean')
    if (o.insecure && (o.ca !== undefined || o.thumbprint !== undefined)) {
      throw invalidArgument('tls.insecure cannot be combined with tls.ca or tls.thumbprint')
    }
    const ca = caOption(o.ca)
    if (o.thumbprint !== undefined) {
      if (typeof o.thumbprint !== 'string') throw invalidArgument('tls.thumbprint must be a string')
      const expected = normalizeThumbprint(o.thumbprint)
      this.#pin = expected
      this.#tls = {
        ca,
        // With a `ca` the chain must verify too; the pin then replaces the host name check.
        rejectUnauthorized: ca !== undefined,
        checkServerIdentity: (_host, cert) =>
          cert.fingerprint256 === expected
            ? undefined
            : new ThumbprintMismatchError(cert.fingerprint256, expected),
      }
    } else if (o.insecure) {
      this.#tls = { rejectUnauthorized: false }
    } else {
      this.#tls = { ca, rejectUnauthorized: true }
    }
  }

  /** Whether the server's certificate chain is checked (false when pinned without `ca`, or insecure). */
  get verifiesChain(): boolean {
    return this.#tls.rejectUnauthorized === true
  }

  /** The pinned fingerprint, if any. */
  get pinned(): string | undefined {
    return this.#pin
  }

  /** undici's `connect` hook. */
  readonly connect = (target: ConnectTarget, callback: ConnectCallback): void => {
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname
    const secure = target.protocol === 'https:'
    const port = Number(target.port) || (secure ? 443 : 80)
    const servername = target.servername || (net.isIP(host) ? undefined : host)
    const socket: net.Socket = secure
      ? tls.connect({ ...this.#tls, host, port, servername, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port })
    socket.setNoDelay(true)
    let settled = false
    const onTimeout = (): void => done(handshakeError('connection or TLS handshake timed out', 'ETIMEDOUT'))
    const done = (err: Error | null): void => {
      if (settled) return
      settled = true
      this.#handshaking.delete(socket)
      socket.off('error', done)
      socket.off('timeout', onTimeout)
      socket.setTimeout(0)
      if (err) {
        socket.destroy()
        callback(err, null)
      } else {
        callback(null, socket)
      }
    }
    this.#handshaking.set(socket, done)
    socket.once('error', done)
    // A peer that never finishes the handshake is given up, and its socket closed.
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS)
    socket.once('timeout', onTimeout)
    if (!secure) {
      socket.once('connect', () => done(null))
      return
    }
    socket.once('secureConnect', () => {
      const pin = this.#pin
      if (pin === undefined) return done(null)
      const actual = (socket as tls.TLSSocket).getPeerCertificate().fingerprint256
      done(actual === pin ? null : new ThumbprintMismatchError(actual, pin))
    })
  }

  /** Closes every socket still connecting or in its handshake. */
  destroy(): void {
    for (const done of [...this.#handshaking.values()]) {
      done(handshakeError('connection closed by the gateway', 'ECONNRESET'))
    }
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
