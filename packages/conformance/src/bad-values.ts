import { describeValue, type Handle, type ID, MAX_FILE_BYTES, MAX_LIMITS } from '@portlayer/contracts'

/** A bad argument and how to name it in a failure message. */
export type Labelled = readonly [label: string, value: unknown]

const vals = (...values: unknown[]): Labelled[] => values.map((v) => [describeValue(v), v])

// Values built on demand: some are large (a 1 MB name, a 64 MiB buffer) and should live only
// while the test using them runs.

export const badNames = (): Labelled[] =>
  vals(undefined, null, 42, {}, '', '   ', 'a\nb', 'a\u0000b', 'x'.repeat(129), 'x'.repeat(1_000_000))

export const badIds = (id: ID): Labelled[] => [
  ...vals(undefined, null, 42, Number.NaN, {}, [], '', 'not-a-uuid', `../${id}`, `${id}x`, ` ${id}`),
  ...vals(id.slice(1), id.replaceAll('-', ''), `${id}/..`, 'x'.repeat(100_000)),
  ['the ID with a NUL appended', `${id}\u0000`],
]

export const badAbsolutePaths = (): Labelled[] =>
  vals(
    undefined,
    null,
    42,
    {},
    '',
    'relative',
    'x/../y',
    '.',
    '..',
    '/a/../b',
    '/..',
    '/a/..',
    '/a\u0000b',
    '/a\nb',
    `/${'x'.repeat(5000)}`,
  )

export const badFileNames = (): Labelled[] =>
  vals(undefined, null, 42, '', '.', '..', 'a/b', '/a', 'a/', 'a\u0000b', 'x'.repeat(256))

export const badPerms = (): Labelled[] =>
  vals(undefined, null, '0644', -1, 0o10000, 0o7777 + 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53)

export const badData = (): Labelled[] => [
  ...vals(undefined, null, 'text', [1, 2], new ArrayBuffer(2), { length: 2 }, new Uint16Array(2)),
  ['a DataView', new DataView(new ArrayBuffer(2))],
  ['64 MiB + 1 byte', new Uint8Array(MAX_FILE_BYTES + 1)],
]

export const badLimit = (what: 'memoryMb' | 'cpuMhz'): Labelled[] =>
  vals(
    undefined,
    null,
    '512',
    0,
    -2,
    -1.5,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
    MAX_LIMITS[what] + 1,
    1n,
  )

export const badRunStates = (): Labelled[] =>
  vals(undefined, null, 42, '', 'created', 'Running', 'paused', {})

export const badRunStateFilters = (): Labelled[] => vals(null, 42, '', 'Running', 'paused', {})

export const badExecArgs = (): Labelled[] =>
  vals(undefined, null, 42, '"unterminated', "'unterminated", 'trailing\\', 'a\u0000b', 'x'.repeat(65_537))

export const badSignals = (): Labelled[] =>
  vals(undefined, null, '15', 0, -1, 65, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31)

export const badNamespaces = (): Labelled[] =>
  vals(undefined, null, 42, '', 'Upper', 'with space', '1digit', 'a..b', '.a', 'a.', 'a/b', 'x'.repeat(65))

/** Values that are not handles at all, or handles whose shape was forged. */
export const badHandleShapes = (h: Handle): Labelled[] => [
  ...vals(undefined, null, 42, 'handle', [], {}),
  ['{ containerId } alone', { containerId: h.containerId }],
  ['a handle whose containerId is not a UUID', { ...h, containerId: 'not-a-uuid' }],
  ['a handle whose containerId is a number', { ...h, containerId: 42 }],
  ['a handle whose baseVersion is a number', { ...h, baseVersion: 42 }],
  ['a handle whose baseVersion is an object', { ...h, baseVersion: {} }],
  ['a handle whose pending is null', { ...h, pending: null }],
  ['a handle whose pending is a string', { ...h, pending: 'x' }],
  ['a handle whose pending.files is a string', { ...h, pending: { ...h.pending, files: 'x' } }],
  ['a handle whose pending.files holds null', { ...h, pending: { ...h.pending, files: [null] } }],
  ['a handle whose pending.extensions is null', { ...h, pending: { ...h.pending, extensions: null } }],
]

/**
 * Handles of the right outline whose pending values no setter would have let through: commit
 * must check them as the setters do.
 */
export const forgedPendingValues = (h: Handle): Labelled[] => {
  const file = { targetDir: '/tmp', fname: 'forged.txt', perms: 0o644, data: new Uint8Array(1) }
  const entry = { workDir: '/', execPath: '/bin/true', execArgs: '' }
  const forge = (label: string, change: Record<string, unknown>): Labelled => [
    `a handle whose ${label}`,
    { ...h, pending: { ...h.pending, ...change } },
  ]
  return [
    forge('pending.limits.memoryMb is -5', { limits: { memoryMb: -5, cpuMhz: 1000 } }),
    forge('pending.limits lacks cpuMhz', { limits: { memoryMb: 512 } }),
    forge("pending.runState is 'created'", { runState: 'created' }),
    forge("pending.runState is 'paused'", { runState: 'paused' }),
    forge('pending.mainProcess has a relative workDir', { mainProcess: { ...entry, workDir: 'relative' } }),
    forge('pending.mainProcess has an unbalanced quote', { mainProcess: { ...entry, execArgs: '"' } }),
    forge("pending file's targetDir climbs with '..'", { files: [{ ...file, targetDir: '/tmp/../etc' }] }),
    forge("pending file is named '..'", { files: [{ ...file, fname: '..' }] }),
    forge('pending file has perms 0o10000', { files: [{ ...file, perms: 0o10000 }] }),
    forge('pending file has string data', { files: [{ ...file, data: 'text' }] }),
  ]
}

// ---- Hostile values ---------------------------------------------------------------------------
// Any JavaScript value can reach a public method. These are the ones that broke validators that
// called String(value), read a caller's properties, or trusted `instanceof`: each must fail the
// call with INVALID_ARGUMENT, never a TypeError or the value's own error.

function boom(): never {
  throw new Error('conformance: a hostile getter or proxy trap ran and threw')
}

/** A proxy of `target` whose every trap throws. */
export function throwingProxy<T extends object>(target: T): T {
  return new Proxy(target, {
    get: boom,
    has: boom,
    ownKeys: boom,
    getPrototypeOf: boom,
    getOwnPropertyDescriptor: boom,
    defineProperty: boom,
    set: boom,
    apply: boom,
  })
}

/** A proxy of `target` that was revoked: every operation on it throws a TypeError. */
export function revokedProxy<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {})
  revoke()
  return proxy
}

/** An object whose property `key` is a getter that throws. */
export function throwingGetter(key: string, on: object = {}): object {
  return Object.defineProperty({ ...on }, key, { get: boom, enumerable: true })
}

/** A Uint8Array whose buffer was transferred away (`structuredClone` with `transfer`). */
export function detachedBytes(): Uint8Array {
  const buffer = new ArrayBuffer(8)
  const view = new Uint8Array(buffer)
  structuredClone(buffer, { transfer: [buffer] })
  return view
}

/** A Uint8Array whose buffer was detached by `ArrayBuffer.prototype.transfer`, where it exists (Node 21+). */
function transferredBytes(): Labelled[] {
  const buffer = new ArrayBuffer(8) as ArrayBuffer & { transfer?: () => ArrayBuffer }
  if (typeof buffer.transfer !== 'function') return []
  const view = new Uint8Array(buffer)
  buffer.transfer()
  return [['a Uint8Array detached by buffer.transfer()', view]]
}

const TEN_MB = 10 * 1024 * 1024

/**
 * Values no argument of any kind accepts, labelled: symbols, bigints, null-prototype objects,
 * objects whose conversions throw, revoked and throwing proxies, detached and non-Uint8Array
 * buffers, a 10 MB string, non-finite and non-integer numbers, boxed primitives, arrays,
 * functions, throwing getters, frozen and sealed look-alikes.
 */
export const hostileValues = (): Labelled[] => [
  ['a symbol', Symbol('hostile')],
  ['a bigint', 15n],
  ['a null-prototype object', Object.create(null)],
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
  ...transferredBytes(),
  ['a Uint16Array', new Uint16Array(2)],
  ['a Uint8ClampedArray', new Uint8ClampedArray(2)],
  ['a DataView', new DataView(new ArrayBuffer(2))],
  ['a Uint8Array on a SharedArrayBuffer', new Uint8Array(new SharedArrayBuffer(2))],
  ['a Uint8Array look-alike (Object.create(Uint8Array.prototype))', Object.create(Uint8Array.prototype)],
  ['a 10 MB string', 'x'.repeat(TEN_MB)],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['1.5', 1.5],
  ['2 ** 53', 2 ** 53],
  ['a boxed number', new Number(15)],
  ['a boxed boolean', new Boolean(true)],
  ['an empty array', []],
  ['a function', () => 'running'],
  ['an object with a throwing getter', throwingGetter('containerId')],
  ['a frozen object', Object.freeze({ containerId: 'x' })],
  ['a sealed object', Object.seal({ containerId: 'x' })],
  ['a Date', new Date(0)],
]

/** Strings that are almost right: lone surrogates (not well-formed UTF-16), and the valid value boxed or wrapped. */
export const hostileStrings = (valid: string): Labelled[] => [
  ['a lone high surrogate', '\ud800'],
  [`${describeValue(valid)} with a lone low surrogate appended`, `${valid}\udc00`],
  [`${describeValue(valid)} boxed (new String)`, new String(valid)],
  [`[${describeValue(valid)}] (an array of the valid value)`, [valid]],
  [`a Promise of ${describeValue(valid)}`, Promise.resolve(valid)],
  [`a throwing proxy of a boxed ${describeValue(valid)}`, throwingProxy(new String(valid))],
]

/** Numbers that are almost right: -0, the valid value as a string, boxed, or as a bigint. */
export const hostileNumbers = (valid: number): Labelled[] => [
  ['-0', -0],
  [`'${valid}' (a numeric string)`, String(valid)],
  [`${valid} boxed (new Number)`, new Number(valid)],
  [`${valid}n (a bigint)`, BigInt(valid)],
  [`[${valid}]`, [valid]],
]

/** The last argument of every method, `options`: anything but undefined or `{ signal?: AbortSignal }`. */
export const hostileOptions = (): Labelled[] => [
  ...vals(null, 42, 'signal', true),
  ['a symbol', Symbol('options')],
  ['a revoked proxy', revokedProxy({})],
  ['a proxy whose every trap throws', throwingProxy({})],
  ['{ signal } with a throwing getter', throwingGetter('signal')],
  ['{ signal: 42 }', { signal: 42 }],
  ['{ signal: {} }', { signal: {} }],
  ['{ signal: "abort" }', { signal: 'abort' }],
  ['{ signal: an AbortController }', { signal: new AbortController() }],
  [
    '{ signal: a look-alike that is not aborted }',
    {
      signal: {
        aborted: false,
        reason: undefined,
        onabort: null,
        addEventListener() {},
        removeEventListener() {},
        dispatchEvent: () => true,
        throwIfAborted() {},
      },
    },
  ],
  [
    '{ signal: an object inheriting from AbortSignal.prototype }',
    { signal: Object.create(AbortSignal.prototype) },
  ],
  ['{ signal: a revoked proxy }', { signal: revokedProxy({}) }],
  ['{ signal: a throwing proxy of a real signal }', { signal: throwingProxy(new AbortController().signal) }],
]

/**
 * Handles made hostile: throwing getters and proxies in every part, detached or foreign buffers in
 * a pending file, frozen and sealed look-alikes, a create-handle whose name has a lone surrogate.
 */
export const hostileHandles = (h: Handle): Labelled[] => {
  const file = { targetDir: '/tmp', fname: 'hostile.txt', perms: 0o644, data: new Uint8Array(1) }
  const pending = { ...h.pending, files: [...h.pending.files] }
  const base = { containerId: h.containerId, baseVersion: h.baseVersion, pending }
  const withPending = (label: string, change: Record<string, unknown>): Labelled => [
    `a handle whose ${label}`,
    { ...base, pending: { ...pending, ...change } },
  ]
  return [
    ['a handle whose containerId getter throws', throwingGetter('containerId', base)],
    ['a handle whose pending getter throws', throwingGetter('pending', base)],
    ['a handle whose pending.files getter throws', { ...base, pending: throwingGetter('files', pending) }],
    withPending('pending file data getter throws', { files: [throwingGetter('data', file)] }),
    withPending('pending file is a throwing proxy', { files: [throwingProxy({ ...file })] }),
    withPending('pending files are a revoked proxy', { files: revokedProxy([file]) }),
    withPending('pending file data is detached', { files: [{ ...file, data: detachedBytes() }] }),
    withPending('pending file data is a Uint16Array', { files: [{ ...file, data: new Uint16Array(1) }] }),
    withPending('pending file data is on a SharedArrayBuffer', {
      files: [{ ...file, data: new Uint8Array(new SharedArrayBuffer(1)) }],
    }),
    withPending('pending file name has a lone surrogate', { files: [{ ...file, fname: 'a\ud800' }] }),
    withPending('pending file perms are -0', { files: [{ ...file, perms: -0 }] }),
    withPending('pending limits are a throwing proxy', {
      limits: throwingProxy({ memoryMb: 512, cpuMhz: 1000 }),
    }),
    withPending('pending limits are bigints', { limits: { memoryMb: 512n, cpuMhz: 1000n } }),
    withPending('pending runState is a boxed string', { runState: new String('running') }),
    withPending('pending mainProcess has a lone surrogate in execArgs', {
      mainProcess: { workDir: '/', execPath: '/bin/true', execArgs: '\ud800' },
    }),
    withPending('pending extensions are a throwing proxy', { extensions: throwingProxy({}) }),
    ['a handle whose containerId is boxed', { ...base, containerId: new String(h.containerId) }],
    ['a handle whose baseVersion is a 10 MB string', { ...base, baseVersion: 'v'.repeat(TEN_MB) }],
    ['a handle whose baseVersion is a symbol', { ...base, baseVersion: Symbol('v') }],
    [
      'a create-handle whose name has a lone surrogate',
      { ...base, baseVersion: null, pending: { ...pending, name: 'bad-\ud800' } },
    ],
    ['a proxy of the handle whose every trap throws', throwingProxy({ ...base })],
    ['a revoked proxy of the handle', revokedProxy({ ...base })],
    ['a frozen look-alike with a bad containerId', Object.freeze({ ...base, containerId: 'not-a-uuid' })],
    [
      'a sealed look-alike whose pending file is detached',
      Object.seal({ ...base, pending: { ...pending, files: [{ ...file, data: detachedBytes() }] } }),
    ],
    ['a Promise of the handle', Promise.resolve(h)],
  ]
}
