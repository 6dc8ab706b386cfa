import { VIM25_NS } from './wsdl.js'

/**
 * The request envelope of a call, written straight from the serialised arguments (`toSoapArgs`)
 * as node-soap writes it for the gateway's WSDL — byte for byte, which the tests check against
 * node-soap itself — without its per-call schema walk. The arguments are already in vim25 order
 * with their `xsi:type`s decided, so what is left is markup and escaping. A shape it does not
 * know returns `undefined`, and node-soap builds that request instead.
 */

const HEAD =
  '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"  xmlns:vim25="urn:vim25"><soap:Body>'
const TAIL = '</soap:Body></soap:Envelope>'
const ATTRIBUTES = 'attributes'
const VALUE = '$value'
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const PREFIX = /^[A-Za-z_][A-Za-z0-9_]*$/
const CDATA_OPEN = '<![CDATA['
const CDATA_CLOSE = ']]>'

class Unsupported extends Error {}
const unsupported = new Unsupported()

// node-soap's escaping (utils.xmlEscape): a string that is a CDATA section goes as it is (the
// serialiser re-encodes such strings so they cannot inject markup); control white space as
// character references.
const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#x9;',
  '\r': '&#xD;',
  '\n': '&#xA;',
}
const ESCAPED = /[&<>"'\t\r\n]/g

function escapeText(text: string): string {
  if (text.startsWith(CDATA_OPEN) && text.endsWith(CDATA_CLOSE)) return text
  return text.replace(ESCAPED, (c) => ESCAPES[c] as string)
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return escapeText(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw unsupported
}

function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function attributesOf(value: unknown): string {
  if (!isPlain(value) || !Object.hasOwn(value, ATTRIBUTES)) return ''
  const attributes = value[ATTRIBUTES]
  if (!isPlain(attributes)) throw unsupported
  let out = ''
  for (const key of Object.keys(attributes)) {
    const v = attributes[key]
    if (key === 'xsi_type') {
      if (!isPlain(v) || typeof v.type !== 'string' || !NAME.test(v.type)) throw unsupported
      // node-soap names the vim25 namespace by the WSDL's own prefix; other namespaces come with one.
      const prefix = v.prefix === undefined && v.xmlns === VIM25_NS ? 'vim25' : v.prefix
      if (typeof prefix !== 'string' || !PREFIX.test(prefix) || typeof v.xmlns !== 'string') throw unsupported
      out += ` xsi:type="${prefix}:${v.type}" xmlns:${prefix}="${v.xmlns}"`
    } else {
      if (!NAME.test(key)) throw unsupported
      out += ` ${key}="${scalar(v)}"`
    }
  }
  return out
}

function content(value: unknown, parts: string[]): void {
  if (!isPlain(value)) {
    parts.push(scalar(value))
    return
  }
  // node-soap writes only the text of an object that has one (its elements are dropped).
  if (Object.hasOwn(value, VALUE)) {
    parts.push(scalar(value[VALUE]))
    return
  }
  fields(value, parts)
}

function fields(obj: Record<string, unknown>, parts: string[]): void {
  for (const key of Object.keys(obj)) {
    if (key === ATTRIBUTES) continue
    const child = obj[key]
    if (child === undefined) continue
    if (child === null || !NAME.test(key)) throw unsupported
    if (Array.isArray(child)) {
      for (const item of child) element(key, item, parts)
    } else {
      element(key, child, parts)
    }
  }
}

function element(name: string, value: unknown, parts: string[]): void {
  if (value === null || value === undefined || Array.isArray(value)) throw unsupported
  parts.push(`<vim25:${name}${attributesOf(value)}>`)
  content(value, parts)
  parts.push(`</vim25:${name}>`)
}

/** The envelope node-soap would send for `method` with serialised `args`, or `undefined`. */
export function encodeRequest(method: string, args: Record<string, unknown>): string | undefined {
  if (!NAME.test(method) || !isPlain(args) || Object.hasOwn(args, ATTRIBUTES) || Object.hasOwn(args, VALUE))
    return undefined
  const parts = [HEAD, `<vim25:${method} xmlns:vim25="urn:vim25" xmlns="urn:vim25">`]
  try {
    fields(args, parts)
  } catch (error) {
    if (error instanceof Unsupported) return undefined
    throw error
  }
  parts.push(`</vim25:${method}>`, TAIL)
  return parts.join('')
}
