import { describeValue, type Handle, InvalidArgumentError } from '@portlayer/contracts'
import { assertHandle } from './assert.js'

/** Marks the JSON form so a reader can tell a handle from any other JSON document. */
const FORMAT = 'portlayer.handle/v1'

interface SerializedFile {
  targetDir: string
  fname: string
  perms: number
  data: string
}

/**
 * The JSON form of a handle, so a remote port layer can pass handles by value. File contents are
 * base64; extension slots are JSON already. `deserializeHandle` reverses it exactly.
 * @throws InvalidArgumentError when `handle` is malformed.
 */
export function serializeHandle(handle: Handle): string {
  const h = assertHandle(handle)
  const p = h.pending
  const files: SerializedFile[] = p.files.map((f) => ({
    targetDir: f.targetDir,
    fname: f.fname,
    perms: f.perms,
    data: toBase64(f.data),
  }))
  return JSON.stringify({
    format: FORMAT,
    containerId: h.containerId,
    baseVersion: h.baseVersion,
    pending: {
      name: p.name,
      limits: p.limits,
      runState: p.runState,
      mainProcess: p.mainProcess,
      files,
      extensions: p.extensions,
    },
  })
}

/**
 * Reads a handle written by {@link serializeHandle} and validates every field.
 * @throws InvalidArgumentError for anything that is not a well-formed serialised handle.
 */
export function deserializeHandle(text: string): Handle {
  if (typeof text !== 'string')
    throw new InvalidArgumentError(`serialised handle must be a string, got ${describeValue(text)}`)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    // The parser's message quotes the text; the first part of it is enough to find the fault.
    const reason = e instanceof Error ? e.message.slice(0, 200) : 'unreadable'
    throw new InvalidArgumentError(`serialised handle is not JSON: ${reason}`, { cause: e })
  }
  if (typeof doc !== 'object' || doc === null || (doc as { format?: unknown }).format !== FORMAT) {
    throw new InvalidArgumentError(`serialised handle must have format '${FORMAT}'`)
  }
  const { containerId, baseVersion, pending } = doc as Record<string, unknown>
  if (typeof pending !== 'object' || pending === null)
    throw new InvalidArgumentError('malformed handle: pending must be an object')
  const p = pending as Record<string, unknown>
  let files: unknown = p.files
  if (Array.isArray(files)) {
    files = files.map((f: unknown, i) => {
      if (typeof f !== 'object' || f === null)
        throw new InvalidArgumentError(`malformed handle: file ${i} must be an object`)
      const data = (f as { data?: unknown }).data
      if (typeof data !== 'string')
        throw new InvalidArgumentError(`malformed handle: file ${i} data must be a base64 string`)
      return { ...f, data: fromBase64(data, i) }
    })
  }
  return assertHandle({ containerId, baseVersion, pending: { ...p, files } })
}

// With the length a multiple of 4, this is canonical padded base64. It is deliberately not written
// as repeated 4-character groups: a regex of repeated groups keeps backtracking state per group and
// overflows the stack on a few MiB of data.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function toBase64(data: Uint8Array): string {
  if (typeof Buffer !== 'undefined')
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
  let binary = ''
  for (let i = 0; i < data.length; i += 0x8000) {
    binary += String.fromCharCode(...data.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

function fromBase64(text: string, index: number): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64.test(text))
    throw new InvalidArgumentError(`malformed handle: file ${index} data is not base64`)
  if (typeof Buffer !== 'undefined') {
    const b = Buffer.from(text, 'base64')
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  }
  const binary = atob(text)
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}
