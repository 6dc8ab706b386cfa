import fc from 'fast-check'

/** A value no port-layer argument accepts, with a short label for failure messages. */
export interface Hostile {
  /** The value in a failure message. */
  readonly label: string
  /** Makes the value (fresh each time: some are mutable or stateful). */
  readonly value: () => unknown
  /** Used only for container names (elsewhere the value may be valid). */
  readonly nameOnly?: boolean
}

let big: string | undefined
/** One 10 MB string, made once: echoing it whole into a message is one of the bugs looked for. */
const tenMegabytes = (): string => {
  big ??= 'x'.repeat(10 * 1024 * 1024)
  return big
}

function detached(): Uint8Array {
  const bytes = new Uint8Array(8)
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
  return bytes
}

function throwingProxy(): unknown {
  const boom = () => {
    throw new Error('hostile proxy trap')
  }
  return new Proxy(
    {},
    {
      get: boom,
      has: boom,
      ownKeys: boom,
      getOwnPropertyDescriptor: boom,
      getPrototypeOf: boom,
      apply: boom,
    },
  )
}

/**
 * Values that are wrong for every argument of every port-layer method (never `undefined`, which
 * is a valid optional filter): symbols, null-prototype objects, throwing proxies, a detached
 * buffer, bigints, functions, numbers that are not integers, a 10 MB string, strings with a NUL or
 * a lone surrogate, objects whose `toString` throws.
 */
export const HOSTILE_VALUES: readonly Hostile[] = [
  { label: 'a symbol', value: () => Symbol('hostile') },
  { label: 'a null-prototype object', value: () => Object.create(null) },
  { label: 'a throwing proxy', value: throwingProxy },
  { label: 'a detached Uint8Array', value: detached },
  { label: 'a bigint', value: () => 10n },
  { label: 'a function', value: () => () => 1 },
  { label: 'NaN', value: () => Number.NaN },
  { label: '-Infinity', value: () => Number.NEGATIVE_INFINITY },
  { label: '1.5', value: () => 1.5 },
  { label: 'null', value: () => null },
  { label: 'a 10 MB string', value: tenMegabytes },
  { label: 'a string with a NUL', value: () => 'a\u0000b' },
  { label: 'a string with a lone surrogate', value: () => 'a\ud800b', nameOnly: true },
  { label: 'an object whose toString throws', value: () => ({ toString: throwingProxy }) },
  {
    label: 'an object whose valueOf throws',
    value: () => ({
      valueOf() {
        throw new Error('hostile valueOf')
      },
    }),
  },
  { label: 'an array', value: () => [1, 2] },
  { label: 'a Date', value: () => new Date(0) },
]

/** Draws one hostile value. */
export const hostileValue = (): fc.Arbitrary<Hostile> => fc.constantFrom(...HOSTILE_VALUES)
