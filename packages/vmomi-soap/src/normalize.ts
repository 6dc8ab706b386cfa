import { type FieldDef, MOR, PRIMITIVES } from './schema/dsl.js'
import { arrayItemType, TYPES } from './schema/registry.js'
import { isRecord } from './values.js'

/**
 * Turns what node-soap parsed (text wrapped in `{ attributes, $value }`, numbers and booleans as
 * strings where the schema was not known, single items where a list was meant) into the
 * normalised values of the `VmomiGateway` contract, guided by the vim25 table.
 */

const ATTRIBUTES = 'attributes'
const VALUE = '$value'

type Raw = Record<string, unknown>

/** The local name of an `xsi:type` attribute under any prefix (`xsi:`, `XMLSchema-instance:`, …). */
export function xsiTypeOf(raw: unknown): string | undefined {
  if (!isRecord(raw)) return undefined
  const attrs = raw[ATTRIBUTES]
  if (!isRecord(attrs)) return undefined
  for (const name in attrs) {
    const value = attrs[name]
    // An unprefixed `type` is a managed object reference's own attribute, not the schema type.
    const colon = name.indexOf(':')
    if (colon > 0 && name.endsWith(':type') && name.length === colon + 5 && typeof value === 'string') {
      const valueColon = value.indexOf(':')
      return valueColon >= 0 ? value.slice(valueColon + 1) : value
    }
  }
  return undefined
}

// V8 keeps a substring of 13 or more characters as a view of the string it was cut from, and the
// XML parser cuts every text value out of the whole response: one kept value (a container ID in an
// extraConfig entry, say) would keep the whole response alive. Values are copied out instead.
const MIN_SLICE = 13

/** `text` in storage of its own (shorter strings are copied by V8 anyway). */
export function ownString(text: string): string {
  return text.length < MIN_SLICE ? text : Buffer.from(text, 'utf8').toString('utf8')
}

// Managed object type names repeat in every reference of an answer: each is kept once.
const MAX_TYPE_NAMES = 512
const typeNames = new Map<string, string>()

function internName(raw: unknown): string {
  const text = String(raw ?? '')
  const known = typeNames.get(text)
  if (known !== undefined) return known
  const own = ownString(text)
  if (typeNames.size < MAX_TYPE_NAMES) typeNames.set(own, own)
  return own
}

function textOf(raw: unknown): unknown {
  if (isRecord(raw)) return VALUE in raw ? raw[VALUE] : ''
  return raw ?? ''
}

function toNumber(value: unknown): unknown {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value)
    if (!Number.isNaN(n)) return n
  }
  return value
}

function toBoolean(value: unknown): unknown {
  if (typeof value === 'boolean') return value
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  return value
}

function toDate(value: unknown): unknown {
  if (value instanceof Date) return value
  if (typeof value === 'string') {
    const d = new Date(value)
    if (!Number.isNaN(d.getTime())) return d
  }
  return value
}

function primitive(type: string, raw: unknown): unknown {
  const text = textOf(raw)
  switch (type) {
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
    case 'float':
    case 'double':
      return toNumber(text)
    case 'boolean':
      return toBoolean(text)
    case 'dateTime':
      return toDate(text)
    case 'base64Binary':
      return typeof text === 'string' ? new Uint8Array(Buffer.from(text, 'base64')) : text
    case 'anyType':
      return generic(raw)
    default:
      return text instanceof Date ? text.toISOString() : text === null ? '' : ownString(String(text))
  }
}

function moRef(raw: unknown): { type: string; value: string } {
  const attrs = isRecord(raw) && isRecord(raw[ATTRIBUTES]) ? (raw[ATTRIBUTES] as Raw) : {}
  const value = textOf(raw)
  return { type: internName(attrs.type), value: value === null ? '' : ownString(String(value)) }
}

function asList(raw: unknown): unknown[] {
  if (raw === undefined || raw === null) return []
  return Array.isArray(raw) ? raw : [raw]
}

/** Normalises the value of a field (or operation result) declared as `field`. */
export function normalizeField(raw: unknown, field: Pick<FieldDef, 'type' | 'array'>): unknown {
  if (field.array) return asList(raw).map((item) => normalizeValue(item, field.type))
  return normalizeValue(Array.isArray(raw) ? raw[0] : raw, field.type)
}

/** Normalises one value whose declared vim25 type is `declared`. */
export function normalizeValue(raw: unknown, declared: string): unknown {
  const xsiType = xsiTypeOf(raw)
  const actual = xsiType ?? declared
  const items = arrayItemType(actual)
  if (items !== undefined && xsiType !== undefined) {
    const container = isRecord(raw) ? raw : {}
    return asList(container[items]).map((item) => normalizeValue(item, items))
  }
  if (actual === MOR) return moRef(raw)
  if (PRIMITIVES.has(actual)) return primitive(actual, raw)
  const type = TYPES.get(actual)
  if (type === undefined) {
    // An enum (e.g. VirtualMachinePowerState) or a type outside the table.
    if (isRecord(raw) && hasElements(raw))
      return genericObject(raw, xsiType !== declared ? xsiType : undefined)
    return primitive('string', raw)
  }
  const source = isRecord(raw) ? raw : {}
  const out: Record<string, unknown> = {}
  if (xsiType !== undefined && xsiType !== declared) out._type = internName(xsiType)
  for (const field of type.fields) {
    const value = source[field.name]
    if (value === undefined) {
      if (field.array) out[field.name] = []
      continue
    }
    out[field.name] = normalizeField(value, field)
  }
  for (const key in source) {
    if (key === ATTRIBUTES || key === VALUE || type.byName.has(key)) continue
    const value = source[key]
    out[key] = Array.isArray(value) ? value.map(generic) : generic(value)
  }
  return out
}

function hasElements(raw: Raw): boolean {
  for (const key of Object.keys(raw)) if (key !== ATTRIBUTES && key !== VALUE) return true
  return false
}

function genericObject(raw: Raw, typeName: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (typeName !== undefined) out._type = internName(typeName)
  for (const [key, value] of Object.entries(raw)) {
    if (key === ATTRIBUTES || key === VALUE) continue
    out[key] = Array.isArray(value) ? value.map(generic) : generic(value)
  }
  return out
}

/**
 * Normalises a value the table does not describe: its `xsi:type` decides when present; otherwise
 * text stays text, `{type, value}` references are recognised and elements become objects. Whether
 * such a field repeats cannot be known, so a single item stays single.
 */
export function generic(raw: unknown): unknown {
  if (raw === null || raw === undefined) return ''
  if (!isRecord(raw)) return typeof raw === 'string' ? ownString(raw) : raw
  const xsiType = xsiTypeOf(raw)
  if (xsiType !== undefined && xsiType !== 'anyType') return normalizeValue(raw, 'anyType')
  if (!hasElements(raw)) {
    const attrs = raw[ATTRIBUTES]
    if (isRecord(attrs) && typeof attrs.type === 'string' && VALUE in raw) return moRef(raw)
    const text = textOf(raw) ?? ''
    return typeof text === 'string' ? ownString(text) : text
  }
  return genericObject(raw, undefined)
}
