// Describing values that came from a caller, for error messages. Such a value may be anything:
// a symbol, a revoked proxy, an object whose every trap or getter throws, a 10 MB string. Nothing
// here may throw, run for long, or echo a large value whole; so the built-in accessors are taken
// once, at load, and called directly (they read internal slots, never user code), and anything
// that has to touch a caller's object does it inside try/catch.

/** Longest text {@link describeValue} returns. */
export const MAX_DESCRIPTION_LENGTH = 120

/** How many characters of a string {@link describeValue} shows. */
const STRING_PREVIEW = 40

type Getter = (this: unknown) => unknown

function getter(proto: object | undefined, key: PropertyKey): Getter | undefined {
  if (proto === undefined) return undefined
  const g = Object.getOwnPropertyDescriptor(proto, key)?.get
  return typeof g === 'function' ? (g as Getter) : undefined
}

const TYPED_ARRAY_PROTO: object = Object.getPrototypeOf(Uint8Array.prototype)
const typedArrayTag = getter(TYPED_ARRAY_PROTO, Symbol.toStringTag) as Getter
const typedArrayByteLength = getter(TYPED_ARRAY_PROTO, 'byteLength') as Getter
const typedArrayBuffer = getter(TYPED_ARRAY_PROTO, 'buffer') as Getter
const dataViewBuffer = getter(DataView.prototype, 'buffer') as Getter
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength') as Getter
const sharedByteLength =
  typeof SharedArrayBuffer === 'function' ? getter(SharedArrayBuffer.prototype, 'byteLength') : undefined
const symbolDescription = getter(Symbol.prototype, 'description')
const numberValueOf = Number.prototype.valueOf as (this: unknown) => number
const stringValueOf = String.prototype.valueOf as (this: unknown) => string
const booleanValueOf = Boolean.prototype.valueOf as (this: unknown) => boolean
const bigintValueOf = BigInt.prototype.valueOf as (this: unknown) => bigint
const symbolValueOf = Symbol.prototype.valueOf as (this: unknown) => symbol
const dateGetTime = Date.prototype.getTime as (this: unknown) => number
const isWellFormedNative = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed
// In a `u` regex a valid surrogate pair is one code point above U+FFFF, so only lone halves match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** True when `fn` returns without throwing. */
function succeeds(fn: () => unknown): boolean {
  try {
    fn()
    return true
  } catch {
    return false
  }
}

/** Calls `fn`; `fallback` when it throws. */
function attempt<T>(fn: () => T, fallback: T): T {
  try {
    return fn()
  } catch {
    return fallback
  }
}

/**
 * True when `value` is a string of well-formed UTF-16: no lone surrogate. Strings that are not
 * cannot be encoded as UTF-8 or XML, so no backend can store them faithfully.
 */
export function isWellFormedString(value: string): boolean {
  return isWellFormedNative ? isWellFormedNative.call(value) : !LONE_SURROGATE.test(value)
}

/**
 * The name of the typed array `value` is (`'Uint8Array'`, `'Float64Array'`, …; a `Buffer` is a
 * `'Uint8Array'`), or `undefined` for anything else, a DataView included. Reads internal slots
 * only: proxies and look-alikes (`Object.create(Uint8Array.prototype)`) are not typed arrays.
 */
export function typedArrayName(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value)) return undefined
  const tag = typedArrayTag.call(value)
  return typeof tag === 'string' ? tag : undefined
}

/** The bytes a typed array views, read from its internal slot (0 when detached). */
export function typedArrayBytes(view: ArrayBufferView): number {
  return typedArrayByteLength.call(view) as number
}

/**
 * How a typed array's buffer is unusable: `'detached'` (transferred, or shrunk below the view),
 * `'shared'` (a SharedArrayBuffer, which another thread may change while it is read), or
 * `undefined` when it is an ordinary, readable buffer.
 */
export function unusableBuffer(view: ArrayBufferView): 'detached' | 'shared' | undefined {
  const buffer = typedArrayBuffer.call(view)
  // ArrayBuffer's own accessor throws for a SharedArrayBuffer only; asking it keeps the common
  // case free of exceptions, which cost microseconds each.
  if (!succeeds(() => arrayBufferByteLength.call(buffer))) return 'shared'
  // A detached or out-of-bounds view reports 0 bytes; copying it is the one test that tells it from
  // an empty one, and a copy of 0 bytes costs nothing. It runs no user code (no species lookup).
  if (typedArrayBytes(view) === 0 && !succeeds(() => new Uint8Array(view as Uint8Array))) return 'detached'
  return undefined
}

/** At most `max` UTF-16 units of `s`, never ending inside a surrogate pair. */
function head(s: string, max: number): string {
  if (s.length <= max) return s
  let end = max
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end--
  return s.slice(0, end)
}

/** A quoted, escaped preview of a string: short ones whole, long ones cut with their length. */
function quote(s: string): string {
  // JSON.stringify escapes control characters and lone surrogates, so the result is well-formed.
  if (s.length <= STRING_PREVIEW) return JSON.stringify(s)
  return `${JSON.stringify(head(s, STRING_PREVIEW - 8))}… (${s.length} characters)`
}

function describeNumber(n: number): string {
  if (Object.is(n, -0)) return '-0'
  return String(n)
}

function describeBigint(n: bigint): string {
  // Decimal text of a huge bigint costs time; its size in hex digits is cheap and enough.
  if (n > -(10n ** 30n) && n < 10n ** 30n) return `${n.toString()}n`
  const digits = (n < 0n ? -n : n).toString(16).length
  return `a bigint of ${digits} hex digits`
}

function describeSymbol(s: symbol): string {
  const d = symbolDescription ? attempt(() => symbolDescription.call(s), undefined) : undefined
  return typeof d === 'string' ? `a symbol (${quote(d)})` : 'a symbol'
}

function describeView(value: ArrayBufferView): string {
  const name = typedArrayName(value)
  if (name === undefined) {
    const buffer = attempt(() => dataViewBuffer.call(value), undefined)
    const bytes = attempt(() => arrayBufferByteLength.call(buffer) as number, undefined)
    return bytes === undefined ? 'a DataView' : `a DataView of ${bytes} bytes`
  }
  const problem = unusableBuffer(value)
  if (problem === 'detached') return `a detached ${name}`
  const bytes = typedArrayBytes(value)
  return `a ${name} of ${bytes} bytes${problem === 'shared' ? ' on a SharedArrayBuffer' : ''}`
}

/** Brand checks: each built-in's own method accepts only its real instances, proxies not. */
function describeBranded(value: object): string | undefined {
  const n = attempt<number | undefined>(() => numberValueOf.call(value), undefined)
  if (n !== undefined) return `a boxed number (${describeNumber(n)})`
  const s = attempt<string | undefined>(() => stringValueOf.call(value), undefined)
  if (s !== undefined) return `a boxed string (${quote(s)})`
  const b = attempt<boolean | undefined>(() => booleanValueOf.call(value), undefined)
  if (b !== undefined) return `a boxed boolean (${b})`
  const big = attempt<bigint | undefined>(() => bigintValueOf.call(value), undefined)
  if (big !== undefined) return `a boxed bigint (${describeBigint(big)})`
  const sym = attempt<symbol | undefined>(() => symbolValueOf.call(value), undefined)
  if (sym !== undefined) return `a boxed symbol (${describeSymbol(sym)})`
  if (succeeds(() => dateGetTime.call(value))) return 'a Date'
  if (succeeds(() => arrayBufferByteLength.call(value))) {
    const bytes = arrayBufferByteLength.call(value) as number
    return `an ArrayBuffer of ${bytes} bytes`
  }
  if (sharedByteLength && succeeds(() => sharedByteLength.call(value)))
    return `a SharedArrayBuffer of ${sharedByteLength.call(value) as number} bytes`
  return undefined
}

/** The constructor name of a class instance, read from data properties only (no getters run). */
function className(proto: object): string | undefined {
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')
  if (!ctor || !('value' in ctor) || typeof ctor.value !== 'function') return undefined
  const name = Object.getOwnPropertyDescriptor(ctor.value, 'name')
  return name && 'value' in name && typeof name.value === 'string' && name.value !== ''
    ? head(name.value, 40)
    : undefined
}

function describeObject(value: object): string {
  if (ArrayBuffer.isView(value)) return describeView(value)
  const branded = describeBranded(value)
  if (branded !== undefined) return branded
  // From here on a proxy's traps may run, or throw; a revoked proxy throws on every one.
  return attempt(() => {
    if (Array.isArray(value)) {
      const length = (value as unknown[]).length
      return typeof length === 'number' ? `an array of ${length} items` : 'an array'
    }
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto === null) return 'an object with a null prototype'
    if (proto === Object.prototype) return 'an object'
    const name =
      typeof proto === 'object' || typeof proto === 'function' ? className(proto as object) : undefined
    return name === undefined
      ? 'an object of an unknown class'
      : `an object inheriting from ${name}.prototype`
  }, 'an object that cannot be inspected (e.g. a revoked or throwing proxy)')
}

/**
 * A short, safe description of any value, for error messages: `"abc"`, `-0`, `1n`,
 * `a symbol ("x")`, `"xxxx…" (10000000 characters)`, `a detached Uint8Array`,
 * `an object with a null prototype`, `an object that cannot be inspected (…)`. Never throws,
 * never runs a caller's `toString`/`valueOf`/`Symbol.toPrimitive` or a getter, and never
 * returns more than {@link MAX_DESCRIPTION_LENGTH} characters. The only caller code it may run
 * is a proxy's traps, and what they throw is caught.
 */
export function describeValue(value: unknown): string {
  const text = attempt(() => describeAny(value), 'a value that cannot be described')
  return text.length <= MAX_DESCRIPTION_LENGTH ? text : `${head(text, MAX_DESCRIPTION_LENGTH - 1)}…`
}

function describeAny(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined'
    case 'boolean':
      return String(value)
    case 'number':
      return describeNumber(value)
    case 'bigint':
      return describeBigint(value)
    case 'string':
      return quote(value)
    case 'symbol':
      return describeSymbol(value)
    case 'function':
      return 'a function'
    default:
      return value === null ? 'null' : describeObject(value as object)
  }
}
