// Values a caller may pass where a string, number, buffer or handle belongs, each labelled. The
// unit tests of contracts and handles share them; the conformance suite has its own copy in
// @portlayer/conformance (bad-values.ts), which cannot be imported here without a cycle.

export type Labelled = readonly [label: string, value: unknown]

function boom(): never {
  throw new Error('hostile getter or trap ran')
}

/** A proxy of `target` whose every trap throws. */
export function throwingProxy<T extends object>(target: T): T {
  return new Proxy(target, {
    get: boom,
    has: boom,
    ownKeys: boom,
    getPrototypeOf: boom,
    getOwnPropertyDescriptor: boom,
    apply: boom,
  })
}

export function revokedProxy<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {})
  revoke()
  return proxy
}

/** A Uint8Array whose buffer was transferred away. */
export function detachedBytes(): Uint8Array {
  const buffer = new ArrayBuffer(8)
  const view = new Uint8Array(buffer)
  structuredClone(buffer, { transfer: [buffer] })
  return view
}

/** A Uint8Array of a resizable buffer that shrank below it (out of bounds; also 0 bytes). */
export function shrunkBytes(): Uint8Array {
  const buffer = new (
    ArrayBuffer as unknown as new (
      n: number,
      o: object,
    ) => ArrayBuffer & {
      resize(n: number): void
    }
  )(8, { maxByteLength: 16 })
  const view = new Uint8Array(buffer, 4, 4)
  buffer.resize(2)
  return view
}

export const TEN_MB = 10 * 1024 * 1024

/** Values no argument of any kind accepts. */
export function hostileValues(): Labelled[] {
  const nullProto = Object.create(null) as object
  return [
    ['a symbol', Symbol('hostile')],
    ['a symbol with a 10 MB description', Symbol('d'.repeat(TEN_MB))],
    ['a bigint', 15n],
    ['a huge bigint', 10n ** 5000n],
    ['a null-prototype object', nullProto],
    [
      'an object whose toString, valueOf and Symbol.toPrimitive throw',
      { toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom },
    ],
    ['a revoked proxy', revokedProxy({})],
    ['a revoked proxy of a function', revokedProxy(() => 0)],
    ['a proxy whose every trap throws', throwingProxy({})],
    ['a throwing proxy of an array', throwingProxy([])],
    ['a throwing proxy of a Uint8Array', throwingProxy(new Uint8Array(4))],
    ['a detached Uint8Array', detachedBytes()],
    ['a Uint16Array', new Uint16Array(2)],
    ['a Uint8ClampedArray', new Uint8ClampedArray(2)],
    ['a DataView', new DataView(new ArrayBuffer(2))],
    ['an ArrayBuffer', new ArrayBuffer(2)],
    ['a Uint8Array on a SharedArrayBuffer', new Uint8Array(new SharedArrayBuffer(2))],
    ['a Uint8Array look-alike (Object.create(Uint8Array.prototype))', Object.create(Uint8Array.prototype)],
    ['a 10 MB string', 'x'.repeat(TEN_MB)],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['1.5', 1.5],
    ['2 ** 53', 2 ** 53],
    ['a boxed number', new Number(15)],
    ['a boxed string', new String('running')],
    ['a boxed boolean', new Boolean(true)],
    ['an array', ['running']],
    ['a function', () => 'running'],
    ['a class', class Running {}],
    [
      'an object with a throwing getter',
      Object.defineProperty({}, 'containerId', { get: boom, enumerable: true }),
    ],
    ['a frozen object', Object.freeze({ containerId: 'x' })],
    ['a sealed object', Object.seal({ containerId: 'x' })],
    ['a Date', new Date(0)],
    ['a Promise', Promise.resolve('running')],
  ]
}
