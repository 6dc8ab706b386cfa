/**
 * Redaction of secrets from text (error messages, log lines) and from recorded values. Two layers:
 * by name (fields that are secret whatever their value: passwords, session keys, cookies, guest
 * authentication) and by value (every secret seen is also cut out of any other string, e.g. a
 * session key echoed in a fault message).
 */

import { isRecord } from './values.js'

export const REDACTED = '<redacted>'

const SECRET_KEYS = new Set([
  'password',
  'passwd',
  'secret',
  'sessionid',
  'sessionkey',
  'cookie',
  'set-cookie',
  'authorization',
])
const COOKIE = /(vmware_soap_session|vmware_cgi_ticket)=("[^"]*"|[^;,\s"]*)/gi
const URL_SECRET = /([?&](?:token|ticket|sessionid|session|password)=)[^&#\s"']*/gi

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase())
}

export class Redactor {
  readonly #secrets = new Set<string>()
  #sorted: string[] = []

  /** Remembers `value` as a secret to cut out of every later text. */
  add(value: unknown): void {
    if (typeof value !== 'string' || value === '' || value === REDACTED || this.#secrets.has(value)) return
    this.#secrets.add(value)
    // Longest first, so a secret that contains another is removed whole.
    this.#sorted = [...this.#secrets].sort((a, b) => b.length - a.length)
  }

  text(value: string): string {
    let out = value.replace(COOKIE, `$1=${REDACTED}`).replace(URL_SECRET, `$1${REDACTED}`)
    for (const secret of this.#sorted) out = out.split(secret).join(REDACTED)
    return out
  }
}

function isAuthentication(value: Record<string, unknown>): boolean {
  return typeof value._type === 'string' && value._type.endsWith('Authentication')
}

function isUserSession(value: Record<string, unknown>): boolean {
  return typeof value.key === 'string' && typeof value.userName === 'string' && 'loginTime' in value
}

/** Adds every secret found in `value` (by field name) to `redactor`. */
export function collectSecrets(value: unknown, redactor: Redactor): void {
  if (Array.isArray(value)) {
    for (const item of value) collectSecrets(item, redactor)
    return
  }
  if (!isRecord(value)) return
  const session = isUserSession(value)
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string') {
      // User names are redacted where they stand but are not secrets to hunt for elsewhere: a
      // guest user `root` must not erase every process owner named root.
      if (isSecretKey(key) || (session && key === 'key')) redactor.add(v)
    } else {
      collectSecrets(v, redactor)
    }
  }
}

/**
 * A copy of `value` with secrets replaced by `<redacted>`: secret fields by name, guest
 * authentication objects whole (user name too), a `UserSession`'s key and user name, and every
 * string holding a secret the redactor knows.
 */
export function scrub<T>(value: T, redactor: Redactor): T {
  return scrubValue(value, redactor) as T
}

function scrubValue(value: unknown, redactor: Redactor): unknown {
  if (typeof value === 'string') return redactor.text(value)
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, redactor))
  if (!isRecord(value) || value instanceof Date || value instanceof Uint8Array) return value
  const auth = isAuthentication(value)
  const session = isUserSession(value)
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const secret =
      typeof v === 'string' &&
      (isSecretKey(key) || (auth && key !== '_type') || (session && (key === 'key' || key === 'userName')))
    out[key] = secret ? REDACTED : scrubValue(v, redactor)
  }
  return out
}
