import { invalidArgument } from './errors.js'
import { type FieldDef, MOR, PRIMITIVES } from './schema/dsl.js'
import { isSubtypeOf, type Operation, TYPES } from './schema/registry.js'
import { isRecord } from './values.js'
import { VIM25_NS, XSD_NS } from './wsdl.js'

/**
 * Turns normalised arguments into the objects node-soap serialises: references as
 * `{ attributes: { type }, $value }`, subtypes with an `xsi_type` attribute, and the fields of
 * every known type written in vim25 order whatever order the caller used (node-soap keeps insertion
 * order for fields of derived types; vCenter may check it). Errors name the argument path, never
 * its value (it may be a password).
 */

type Raw = Record<string, unknown>
type Soap = Record<string, unknown>

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
// XML 1.0 allows neither most control characters nor unpaired surrogates.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u
const CDATA_OPEN = '<![CDATA['
const CDATA_CLOSE = ']]>'

function isMoRef(value: unknown): value is { type: string; value: string } {
  if (!isRecord(value) || typeof value.type !== 'string' || typeof value.value !== 'string') return false
  return Object.keys(value).every((k) => k === 'type' || k === 'value')
}

/**
 * node-soap escapes text except a string that looks like a CDATA section, which it copies raw:
 * such a string is re-encoded as real CDATA sections so it cannot inject markup.
 */
function text(value: string, path: string): string {
  if (NOT_XML.test(value)) throw invalidArgument(`${path} contains characters XML cannot carry`, { path })
  if (value.startsWith(CDATA_OPEN) && value.endsWith(CDATA_CLOSE)) {
    return `${CDATA_OPEN}${value.replaceAll(CDATA_CLOSE, ']]]]><![CDATA[>')}${CDATA_CLOSE}`
  }
  return value
}

function typed(name: string, ns: string, prefix?: string): Soap {
  return { xsi_type: prefix ? { type: name, xmlns: ns, prefix } : { type: name, xmlns: ns } }
}

function moRef(value: unknown, path: string, withXsiType = false): Soap {
  if (!isMoRef(value))
    throw invalidArgument(`${path} must be a managed object reference {type, value}`, { path })
  if (!IDENTIFIER.test(value.type)) throw invalidArgument(`${path}.type is not a vim25 type name`, { path })
  const attributes: Soap = withXsiType ? { type: value.type, ...typed(MOR, VIM25_NS) } : { type: value.type }
  return { attributes, $value: text(value.value, `${path}.value`) }
}

function primitive(value: unknown, type: string, path: string): string {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw invalidArgument(`${path} must be a string`, { path })
      return text(value, path)
    case 'boolean':
      if (typeof value !== 'boolean') throw invalidArgument(`${path} must be a boolean`, { path })
      return value ? 'true' : 'false'
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw invalidArgument(`${path} must be an integer`, { path })
      }
      return String(value)
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw invalidArgument(`${path} must be a finite number`, { path })
      }
      return String(value)
    case 'dateTime':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
        throw invalidArgument(`${path} must be a valid Date`, { path })
      }
      return value.toISOString()
    case 'base64Binary':
      if (!(value instanceof Uint8Array)) throw invalidArgument(`${path} must be a Uint8Array`, { path })
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
    default:
      throw invalidArgument(`${path} has unsupported type ${type}`, { path })
  }
}

const XSD_OF: Record<string, string> = { string: 'string', boolean: 'boolean' }

/** A value declared `anyType`: its type travels as `xsi:type`. */
function anyValue(value: unknown, path: string): unknown {
  if (typeof value === 'string' || typeof value === 'boolean') {
    const xsd = XSD_OF[typeof value] as string
    return { attributes: typed(xsd, XSD_NS, 'xsd'), $value: primitive(value, xsd, path) }
  }
  if (typeof value === 'number') {
    const xsd = Number.isSafeInteger(value) ? 'long' : 'double'
    return { attributes: typed(xsd, XSD_NS, 'xsd'), $value: primitive(value, xsd, path) }
  }
  if (value instanceof Date) {
    return { attributes: typed('dateTime', XSD_NS, 'xsd'), $value: primitive(value, 'dateTime', path) }
  }
  if (isMoRef(value)) return moRef(value, path, true)
  if (isRecord(value)) return complex(value, 'anyType', path)
  throw invalidArgument(`${path} cannot be sent as a vim25 value`, { path })
}

/** Fields of a type the table does not describe are written as given, in the caller's order. */
function loose(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => loose(item, `${path}[${i}]`))
  if (typeof value === 'string') return text(value, path)
  if (typeof value === 'number')
    return primitive(value, Number.isSafeInteger(value) ? 'long' : 'double', path)
  if (typeof value === 'boolean' || value instanceof Date || value instanceof Uint8Array) {
    const type = typeof value === 'boolean' ? 'boolean' : value instanceof Date ? 'dateTime' : 'base64Binary'
    return primitive(value, type, path)
  }
  if (isMoRef(value)) return moRef(value, path)
  if (isRecord(value)) {
    if (typeof value._type === 'string') return complex(value, 'anyType', path)
    return looseFields(value, {}, path)
  }
  throw invalidArgument(`${path} cannot be sent as a vim25 value`, { path })
}

function looseFields(value: Raw, out: Soap, path: string): Soap {
  for (const [key, v] of Object.entries(value)) {
    if (key === '_type' || v === undefined || v === null) continue
    if (!IDENTIFIER.test(key)) throw invalidArgument(`${path} has a field name XML cannot carry`, { path })
    if (Array.isArray(v) && v.length === 0) continue
    out[key] = loose(v, `${path}.${key}`)
  }
  return out
}

function complex(value: unknown, declared: string, path: string): Soap {
  if (!isRecord(value)) throw invalidArgument(`${path} must be an object`, { path })
  const named = value._type
  if (named !== undefined && (typeof named !== 'string' || !IDENTIFIER.test(named))) {
    throw invalidArgument(`${path}._type is not a vim25 type name`, { path })
  }
  const actualName = named ?? declared
  if (actualName === 'anyType') {
    return looseFields(value, {}, path)
  }
  const actual = TYPES.get(actualName)
  if (actual && declared !== 'anyType' && !isSubtypeOf(actualName, declared)) {
    throw invalidArgument(`${path}._type ${actualName} is not a kind of ${declared}`, { path })
  }
  const out: Soap = {}
  if (actualName !== declared) out.attributes = typed(actualName, VIM25_NS)
  if (!actual) return looseFields(value, out, path)
  for (const key of Object.keys(value)) {
    if (key !== '_type' && !actual.byName.has(key)) {
      throw invalidArgument(`${path}.${key} is not a field of ${actualName} known to the gateway`, { path })
    }
  }
  for (const field of actual.fields) {
    const v = value[field.name]
    if (v === undefined || v === null) {
      if (!field.optional) throw invalidArgument(`${path}.${field.name} is required`, { path })
      continue
    }
    const out1 = serializeField(v, field, `${path}.${field.name}`)
    if (out1 !== undefined) out[field.name] = out1
  }
  return out
}

function serializeValue(value: unknown, declared: string, path: string): unknown {
  if (declared === MOR) return moRef(value, path)
  if (declared === 'anyType') return anyValue(value, path)
  if (PRIMITIVES.has(declared)) return primitive(value, declared, path)
  if (!TYPES.has(declared)) return primitive(value, 'string', path)
  return complex(value, declared, path)
}

function serializeField(value: unknown, field: FieldDef, path: string): unknown {
  if (!field.array) return serializeValue(value, field.type, path)
  if (!Array.isArray(value)) throw invalidArgument(`${path} must be an array`, { path })
  if (value.length === 0) return undefined
  return value.map((item, i) => serializeValue(item, field.type, `${path}[${i}]`))
}

/** Validates `args` of `op` and builds node-soap's request object, parameters in vim25 order. */
export function toSoapArgs(op: Operation, args: unknown): Soap {
  if (!isRecord(args)) throw invalidArgument(`${op.name}: arguments must be an object`)
  for (const key of Object.keys(args)) {
    if (!op.paramsByName.has(key)) throw invalidArgument(`${op.name}: unknown argument ${key}`, { path: key })
  }
  const out: Soap = {}
  for (const param of op.params) {
    const v = args[param.name]
    if (v === undefined || v === null) {
      if (!param.optional) throw invalidArgument(`${op.name}: argument ${param.name} is required`)
      continue
    }
    const value = serializeField(v, param, `${op.name}.${param.name}`)
    if (value !== undefined) out[param.name] = value
  }
  return out
}
