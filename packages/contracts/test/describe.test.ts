import { describe, expect, it } from 'vitest'
import {
  describeValue,
  isWellFormedString,
  MAX_DESCRIPTION_LENGTH,
  typedArrayName,
  unusableBuffer,
} from '../src/index.js'
import { detachedBytes, hostileValues, revokedProxy, shrunkBytes, TEN_MB, throwingProxy } from './hostile.js'

describe('describeValue', () => {
  it('describes every hostile value without throwing, briefly, as well-formed text', () => {
    for (const [label, value] of hostileValues()) {
      const text = describeValue(value)
      expect(typeof text, label).toBe('string')
      expect(text.length, label).toBeGreaterThan(0)
      expect(text.length, label).toBeLessThanOrEqual(MAX_DESCRIPTION_LENGTH)
      expect(isWellFormedString(text), label).toBe(true)
    }
  })

  it('says what a value is', () => {
    const cases: Array<[unknown, string | RegExp]> = [
      [undefined, 'undefined'],
      [null, 'null'],
      [true, 'true'],
      [-0, '-0'],
      [Number.NaN, 'NaN'],
      [2 ** 53, '9007199254740992'],
      [15n, '15n'],
      [10n ** 5000n, /^a bigint of \d+ hex digits$/],
      ['abc', '"abc"'],
      ['a\nb', '"a\\nb"'],
      ['\ud800', '"\\ud800"'],
      [Symbol('x'), 'a symbol ("x")'],
      [Symbol(), 'a symbol'],
      [() => 0, 'a function'],
      [Object.create(null), 'an object with a null prototype'],
      [{ a: 1 }, 'an object'],
      [[1, 2], 'an array of 2 items'],
      [new Number(7), 'a boxed number (7)'],
      [new String('s'), 'a boxed string ("s")'],
      [Object(3n), 'a boxed bigint (3n)'],
      [new Date(0), 'a Date'],
      [new Uint8Array(3), 'a Uint8Array of 3 bytes'],
      [Buffer.from('ab'), 'a Uint8Array of 2 bytes'],
      [new Float64Array(1), 'a Float64Array of 8 bytes'],
      [new DataView(new ArrayBuffer(3)), 'a DataView of 3 bytes'],
      [new ArrayBuffer(5), 'an ArrayBuffer of 5 bytes'],
      [new SharedArrayBuffer(4), 'a SharedArrayBuffer of 4 bytes'],
      [new Uint8Array(new SharedArrayBuffer(2)), 'a Uint8Array of 2 bytes on a SharedArrayBuffer'],
      [detachedBytes(), 'a detached Uint8Array'],
      [shrunkBytes(), 'a detached Uint8Array'],
      [Object.create(Uint8Array.prototype), 'an object inheriting from Uint8Array.prototype'],
      [new (class Foo {})(), 'an object inheriting from Foo.prototype'],
      [revokedProxy({}), /cannot be inspected/],
      [throwingProxy({}), /cannot be inspected/],
    ]
    for (const [value, expected] of cases) {
      const text = describeValue(value)
      if (typeof expected === 'string') expect(text).toBe(expected)
      else expect(text).toMatch(expected)
    }
  })

  it('never echoes a long string whole, and never cuts a surrogate pair', () => {
    const text = describeValue('x'.repeat(TEN_MB))
    expect(text).toContain(`(${TEN_MB} characters)`)
    expect(text.length).toBeLessThan(80)
    for (let i = 0; i < 50; i++) {
      const s = `${'a'.repeat(i)}${'😀'.repeat(40)}`
      expect(isWellFormedString(describeValue(s)), `prefix ${i}`).toBe(true)
    }
  })

  it('runs no toString, valueOf, Symbol.toPrimitive or getter of the value', () => {
    let ran = 0
    const count = () => {
      ran++
      return 'x'
    }
    const value = Object.defineProperty(
      { toString: count, valueOf: count, [Symbol.toPrimitive]: count, constructor: { name: 'X' } },
      'length',
      { get: count },
    )
    const proto = Object.defineProperty({}, 'constructor', { get: count })
    describeValue(value)
    describeValue(Object.create(proto))
    expect(ran).toBe(0)
  })
})

describe('buffer helpers', () => {
  it('typedArrayName reads the internal slot, not the prototype chain', () => {
    expect(typedArrayName(new Uint8Array(1))).toBe('Uint8Array')
    expect(typedArrayName(Buffer.alloc(1))).toBe('Uint8Array')
    expect(typedArrayName(new Int8Array(1))).toBe('Int8Array')
    expect(typedArrayName(new DataView(new ArrayBuffer(1)))).toBeUndefined()
    expect(typedArrayName(Object.create(Uint8Array.prototype))).toBeUndefined()
    expect(typedArrayName(new Proxy(new Uint8Array(1), {}))).toBeUndefined()
    expect(typedArrayName('abc')).toBeUndefined()
  })

  it('unusableBuffer tells detached and shared buffers from usable ones, empty ones included', () => {
    expect(unusableBuffer(new Uint8Array(0))).toBeUndefined()
    expect(unusableBuffer(new Uint8Array(4).subarray(4))).toBeUndefined()
    expect(unusableBuffer(new Uint8Array(2))).toBeUndefined()
    expect(unusableBuffer(detachedBytes())).toBe('detached')
    expect(unusableBuffer(shrunkBytes())).toBe('detached')
    expect(unusableBuffer(new Uint8Array(new SharedArrayBuffer(1)))).toBe('shared')
  })

  it('isWellFormedString refuses lone surrogates only', () => {
    expect(isWellFormedString('plain')).toBe(true)
    expect(isWellFormedString('😀')).toBe(true)
    expect(isWellFormedString('\ud800')).toBe(false)
    expect(isWellFormedString('a\udc00b')).toBe(false)
    expect(isWellFormedString('\ude00\ud83d')).toBe(false)
  })
})
