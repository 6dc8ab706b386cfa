/**
 * A fast reader for the answers of successful calls, used by node-soap in place of its own
 * sax-driven parse (which looks up a schema description for every element). It builds the shape
 * node-soap builds — local element names, repeated elements as arrays, `attributes` for
 * non-namespace attributes, `$value` for text beside attributes, `null` for an empty element,
 * `xsi:nil` elements left out — without the schema-driven conversions: the gateway's normaliser
 * does those from the vim25 table whatever the raw shape (tests hold the normalised results of
 * both parses equal). Anything it does not handle — a fault, CDATA, a DTD, references, an
 * unknown entity, malformed XML — returns `undefined`, and node-soap parses the answer instead.
 */

const XSI = 'http://www.w3.org/2001/XMLSchema-instance'
const ENVELOPE = 'http://schemas.xmlsoap.org/soap/envelope/'
const NAME_END = /[\s/>]/g
const HEX = /^[0-9a-fA-F]{1,6}$/
const DEC = /^[0-9]{1,7}$/
const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

class Unsupported extends Error {}
const unsupported = new Unsupported()

function decode(text: string): string {
  let amp = text.indexOf('&')
  if (amp < 0) return text
  let out = ''
  let from = 0
  while (amp >= 0) {
    const semi = text.indexOf(';', amp + 1)
    if (semi < 0) throw unsupported
    out += text.slice(from, amp) + entity(text.slice(amp + 1, semi))
    from = semi + 1
    amp = text.indexOf('&', from)
  }
  return out + text.slice(from)
}

function entity(ref: string): string {
  if (ref.charCodeAt(0) === 35 /* # */) {
    const hex = ref.charCodeAt(1) === 120 /* x */
    const digits = ref.slice(hex ? 2 : 1)
    if (!(hex ? HEX : DEC).test(digits)) throw unsupported
    const code = Number.parseInt(digits, hex ? 16 : 10)
    if (code > 0x10ffff) throw unsupported
    return String.fromCodePoint(code)
  }
  const named = NAMED[ref]
  if (named === undefined || !Object.hasOwn(NAMED, ref)) throw unsupported
  return named
}

const localName = (name: string): string => {
  const colon = name.indexOf(':')
  return colon < 0 ? name : name.slice(colon + 1)
}

interface Frame {
  readonly name: string
  readonly local: string
  /** Child elements and `attributes`, made on first need. */
  obj: Record<string, unknown> | null
  attributes: Record<string, string> | null
  text: string
  hasChildren: boolean
  nil: boolean
}

function add(parent: Frame, name: string, value: unknown): void {
  parent.hasChildren = true
  parent.obj ??= {}
  const obj = parent.obj
  // Values are never undefined (an empty element is null) nor functions, so one lookup tells a
  // repeat from a first one — and from what an object inherits (`constructor`).
  const seen = obj[name]
  if (seen === undefined || typeof seen === 'function') obj[name] = value
  else if (Array.isArray(seen)) seen.push(value)
  else obj[name] = [seen, value]
}

function elementValue(frame: Frame): unknown {
  if (frame.hasChildren) return frame.obj
  if (frame.attributes !== null) {
    const obj = frame.obj as Record<string, unknown>
    // As node-soap: whitespace alone beside attributes is no value.
    if (frame.text.trim() !== '') obj.$value = frame.text
    return obj
  }
  return frame.text === '' ? null : frame.text
}

/**
 * The envelope of a successful answer as node-soap returns it (`{ Header?, Body }`), or
 * `undefined` when this reader does not handle the answer.
 */
export function parseAnswer(xml: string): Record<string, unknown> | undefined {
  try {
    return parse(xml)
  } catch (error) {
    if (error instanceof Unsupported) return undefined
    throw error
  }
}

function parse(xml: string): Record<string, unknown> | undefined {
  const root: Frame = {
    name: '',
    local: '',
    obj: null,
    attributes: null,
    text: '',
    hasChildren: false,
    nil: false,
  }
  const stack: Frame[] = [root]
  // Namespace prefixes in scope are taken as declared once for the whole answer, as node-soap does.
  const xsiPrefixes: string[] = []
  let envelopePrefix = ''
  let pos = 0
  const end = xml.length
  while (pos < end) {
    const lt = xml.indexOf('<', pos)
    const top = stack[stack.length - 1] as Frame
    if (lt < 0) {
      if (xml.slice(pos).trim() !== '') throw unsupported
      break
    }
    // Whitespace between elements is not text (node-soap drops it beside children).
    if (lt > pos && stack.length > 1 && (!top.hasChildren || !blank(xml, pos, lt))) {
      top.text += decode(xml.slice(pos, lt))
    }
    const next = xml.charCodeAt(lt + 1)
    if (next === 63 /* ? */) {
      const close = xml.indexOf('?>', lt + 2)
      if (close < 0) throw unsupported
      pos = close + 2
      continue
    }
    if (next === 33 /* ! */) {
      if (!xml.startsWith('<!--', lt)) throw unsupported // CDATA, DOCTYPE
      const close = xml.indexOf('-->', lt + 4)
      if (close < 0) throw unsupported
      pos = close + 3
      continue
    }
    if (next === 47 /* / */) {
      if (stack.length < 2) throw unsupported
      const frame = stack.pop() as Frame
      if (!xml.startsWith(frame.name, lt + 2)) throw unsupported
      let gt = lt + 2 + frame.name.length
      while (gt < end && isSpace(xml.charCodeAt(gt))) gt++
      if (xml.charCodeAt(gt) !== 62 /* > */) throw unsupported
      if (!frame.nil) add(stack[stack.length - 1] as Frame, frame.local, elementValue(frame))
      pos = gt + 1
      continue
    }
    // An opening tag.
    NAME_END.lastIndex = lt + 1
    const nameEnd = NAME_END.exec(xml)
    if (nameEnd === null) throw unsupported
    const name = xml.slice(lt + 1, nameEnd.index)
    if (name === '' || name.endsWith('__proto__')) throw unsupported
    let p = nameEnd.index
    let attributes: Record<string, string> | null = null
    let nil = false
    let selfClosing = false
    for (;;) {
      while (p < end && isSpace(xml.charCodeAt(p))) p++
      const c = xml.charCodeAt(p)
      if (c === 62 /* > */) {
        p++
        break
      }
      if (c === 47 /* / */) {
        if (xml.charCodeAt(p + 1) !== 62) throw unsupported
        selfClosing = true
        p += 2
        break
      }
      const eq = xml.indexOf('=', p)
      if (eq < 0) throw unsupported
      const attr = xml.slice(p, eq).trim()
      const quote = xml.charAt(eq + 1)
      if ((quote !== '"' && quote !== "'") || attr === '') throw unsupported
      const close = xml.indexOf(quote, eq + 2)
      if (close < 0) throw unsupported
      const value = decode(xml.slice(eq + 2, close))
      p = close + 1
      if (attr === 'xmlns' || attr.startsWith('xmlns:')) {
        const prefix = attr.slice(6)
        if (value === XSI) xsiPrefixes.push(prefix)
        if (value === ENVELOPE) envelopePrefix = prefix
        continue
      }
      if (attr === 'href' || attr === 'id' || attr === '__proto__') throw unsupported // multi-references
      const colon = attr.indexOf(':')
      if (
        colon > 0 &&
        attr.slice(colon + 1) === 'nil' &&
        (value.toLowerCase() === 'true' || value === '1') &&
        xsiPrefixes.includes(attr.slice(0, colon))
      ) {
        nil = true
      }
      attributes ??= {}
      attributes[attr] = value
    }
    const local = localName(name)
    const frame: Frame = {
      name,
      local,
      obj: attributes === null ? null : { attributes },
      attributes,
      text: '',
      hasChildren: false,
      nil,
    }
    if (local === 'Fault' && stack.length === 3) throw unsupported
    if (selfClosing) {
      if (!nil) add(top, local, elementValue(frame))
    } else {
      stack.push(frame)
    }
    pos = p
  }
  if (stack.length !== 1 || envelopePrefix === '' || xsiPrefixes.length === 0) throw unsupported
  const envelope = (root.obj as Record<string, unknown> | null)?.Envelope as
    | Record<string, unknown>
    | undefined
  if (envelope === undefined || envelope === null || typeof envelope !== 'object') throw unsupported
  const body = envelope.Body as Record<string, unknown> | undefined | null
  if (body === undefined || body === null || typeof body !== 'object' || 'Fault' in body) throw unsupported
  return envelope
}

/** True when `xml` holds only white space from `from` to `to`. */
function blank(xml: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(xml.charCodeAt(i))) return false
  return true
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9
}
