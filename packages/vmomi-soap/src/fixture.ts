import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import {
  createError,
  type ErrorCode,
  isErrorCode,
  type Outcome,
  PortLayerError,
  type PortLayerError as PortLayerErrorType,
} from '@portlayer/contracts'
import type { HttpTransferRequest, MoRef } from '@portlayer/contracts/vmomi'
import { BACKEND, describe, gatewayError } from './errors.js'
import { collectSecrets, type Redactor, scrub } from './redact.js'
import { isRecord } from './values.js'

/**
 * A recorded gateway session as JSON: the service content and every call, task wait and transfer
 * with its result or error, secrets already cut out. Dates are written `{ "$date": ISO }`, bytes
 * `{ "$bytes": base64 }` and bigints `{ "$bigint": decimal }`.
 */
export interface GatewayFixture {
  /** Always {@link FIXTURE_FORMAT}. */
  readonly format: typeof FIXTURE_FORMAT
  /** The version of this layout; a replay refuses any other. */
  readonly version: 1
  /** The inner gateway's `serviceContent`, encoded and scrubbed. */
  readonly serviceContent: unknown
  /** What was asked of the gateway, in the order it was started. */
  readonly entries: readonly FixtureEntry[]
}

/** The `format` of every fixture, by which a replay knows a fixture from any other JSON. */
export const FIXTURE_FORMAT = 'portlayer-vmomi-fixture'

/** A recorded error: enough to throw the same `PortLayerError` again on replay. */
export interface FixtureError {
  /** The error's code; an unknown one replays as `UNAVAILABLE`. */
  readonly code: ErrorCode
  /** The error's message, secrets cut out. */
  readonly message: string
  /** The error's `detail`, encoded and scrubbed. */
  readonly detail?: unknown
  /** Written only when `'unknown'` (older fixtures have none: `'not-applied'`). */
  readonly outcome?: Outcome
}

/**
 * One recorded call, task wait or transfer with its encoded, scrubbed result, or its error when it
 * failed (then `result` is absent).
 */
export type FixtureEntry =
  | {
      readonly kind: 'call'
      readonly method: string
      readonly args: unknown
      readonly result?: unknown
      readonly error?: FixtureError
    }
  | {
      readonly kind: 'waitForTask'
      readonly task: MoRef
      readonly result?: unknown
      readonly error?: FixtureError
    }
  | {
      readonly kind: 'transfer'
      readonly request: RecordedTransfer
      readonly result?: unknown
      readonly error?: FixtureError
    }

/** JSON-safe form of a normalised value. */
export function encode(value: unknown): unknown {
  // An invalid Date (an argument the gateway refuses) is recorded too; it decodes as invalid again.
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString() }
  if (value instanceof Uint8Array)
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  // JSON has no bigint; an argument the gateway refuses is recorded all the same.
  if (typeof value === 'bigint') return { $bigint: value.toString() }
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : encode(item)))
  if (isRecord(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = encode(v)
    return out
  }
  return value
}

/** The inverse of {@link encode}. */
export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode)
  if (!isRecord(value)) return value
  const keys = Object.keys(value)
  if (keys.length === 1 && typeof value.$date === 'string') return new Date(value.$date)
  if (keys.length === 1 && typeof value.$bytes === 'string')
    return new Uint8Array(Buffer.from(value.$bytes, 'base64'))
  if (keys.length === 1 && typeof value.$bigint === 'string' && /^-?\d+$/.test(value.$bigint))
    return BigInt(value.$bigint)
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) out[key] = decode(v)
  return out
}

/** JSON with object keys sorted, so equal values give equal text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (isRecord(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** How a transfer request is written to a fixture: secrets out of the URL, the body as a digest. */
/**
 * A transfer request as a fixture keeps it: the body is replaced by its SHA-256 and length, so a
 * replay can match an upload without storing it.
 */
export interface RecordedTransfer {
  /** The HTTP method, e.g. `GET` or `PUT`. */
  readonly method: string
  /** The URL as given, with the secrets the recorder knows cut out. */
  readonly url: string
  /** Hex SHA-256 of the request body, when there was one. */
  readonly bodySha256?: string
  /** Bytes in the request body, when there was one. */
  readonly bodyLength?: number
}

// Recording and replay must describe a request identically, or a replay finds no match.
export function recordedTransfer(request: HttpTransferRequest, redactor: Redactor): RecordedTransfer {
  const method = describe(request?.method)
  const url = redactor.text(describe(request?.url))
  const body = request?.body
  return body instanceof Uint8Array
    ? { method, url, bodySha256: sha256(body), bodyLength: body.byteLength }
    : { method, url }
}

/** The scrubbed, encoded form of `value`, learning its secrets first. */
export function scrubbed(value: unknown, redactor: Redactor): unknown {
  collectSecrets(value, redactor)
  return scrub(encode(value), redactor)
}

export function errorRecord(error: unknown, redactor: Redactor): FixtureError {
  if (PortLayerError.isInstance(error)) {
    const record: { code: ErrorCode; message: string; detail?: unknown; outcome?: Outcome } = {
      code: error.code,
      message: redactor.text(error.message),
    }
    if (error.detail !== undefined) record.detail = scrub(encode(error.detail), redactor)
    if (error.outcome === 'unknown') record.outcome = 'unknown'
    return record
  }
  // Not a gateway's error: nothing is known of what it did.
  return { code: 'UNAVAILABLE', message: redactor.text(describe(error)), outcome: 'unknown' }
}

export function errorFromRecord(record: FixtureError): PortLayerErrorType {
  const code = isErrorCode(record.code) ? record.code : 'UNAVAILABLE'
  const detail = isRecord(record.detail) ? (decode(record.detail) as Record<string, unknown>) : undefined
  const outcome = record.outcome === 'unknown' ? 'unknown' : 'not-applied'
  return createError(code, record.message, { backend: BACKEND, detail, outcome })
}

/** Reads and checks a fixture written by a recording gateway. */
export async function loadFixture(path: string): Promise<GatewayFixture> {
  const text = await readFile(path, 'utf8')
  return parseFixture(text)
}

export function parseFixture(text: string): GatewayFixture {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw gatewayError('INVALID_ARGUMENT', 'vSphere fixture is not valid JSON')
  }
  if (
    !isRecord(value) ||
    value.format !== FIXTURE_FORMAT ||
    value.version !== 1 ||
    !Array.isArray(value.entries)
  ) {
    throw gatewayError('INVALID_ARGUMENT', `vSphere fixture is not a ${FIXTURE_FORMAT} version 1 document`)
  }
  return value as unknown as GatewayFixture
}
