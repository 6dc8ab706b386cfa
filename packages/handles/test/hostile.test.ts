import { type Handle, isWellFormedString, MAX_MESSAGE_LENGTH, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { detachedBytes, hostileValues, revokedProxy, throwingProxy } from '../../contracts/test/hostile.js'
import {
  assertHandle,
  BasicHandleFactory,
  deserializeHandle,
  serializeHandle,
  toFrozenJson,
} from '../src/index.js'

const f = new BasicHandleFactory()
const ID = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'
const FILE = { targetDir: '/tmp', fname: 'a.txt', perms: 0o644, data: new Uint8Array([1, 2]) }

/** `fn` must throw INVALID_ARGUMENT (a PortLayerError, never a TypeError) with a short message. */
function expectRefused(fn: () => unknown, label: string): PortLayerError {
  let thrown: unknown
  try {
    fn()
  } catch (e) {
    thrown = e
  }
  expect(PortLayerError.isInstance(thrown, 'INVALID_ARGUMENT'), `${label}: got ${String(thrown)}`).toBe(true)
  const e = thrown as PortLayerError
  expect(e.message.length, label).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH)
  expect(isWellFormedString(e.message), label).toBe(true)
  return e
}

/** A plain-data copy of a handle, as JSON or structuredClone would give it. */
function plain(h: Handle): Record<string, unknown> {
  return {
    containerId: h.containerId,
    baseVersion: h.baseVersion,
    pending: { ...h.pending, files: h.pending.files.map((x) => ({ ...x })) },
  }
}

function boom(): never {
  throw new Error('hostile getter ran')
}

/** Plain-data handles with one part replaced by something hostile. */
function hostileHandles(): Array<readonly [string, unknown]> {
  const base = plain(f.withFile(f.forVersion(ID, '3'), FILE))
  const pending = base.pending as Record<string, unknown>
  const withPending = (change: Record<string, unknown>) => ({ ...base, pending: { ...pending, ...change } })
  const getter = (key: string, on: object = {}) =>
    Object.defineProperty({ ...on }, key, { get: boom, enumerable: true })
  return [
    ...hostileValues(),
    ['a handle whose containerId getter throws', getter('containerId', base)],
    ['a handle whose pending getter throws', getter('pending', base)],
    ['a handle whose pending.files getter throws', { ...base, pending: getter('files', pending) }],
    ['a handle whose file data getter throws', withPending({ files: [getter('data', FILE)] })],
    ['a handle whose file is a throwing proxy', withPending({ files: [throwingProxy({ ...FILE })] })],
    ['a handle whose files are a throwing proxy', withPending({ files: throwingProxy([FILE]) })],
    ['a handle whose files are a revoked proxy', withPending({ files: revokedProxy([FILE]) })],
    ['a handle whose file data is detached', withPending({ files: [{ ...FILE, data: detachedBytes() }] })],
    [
      'a handle whose file data is a Uint16Array',
      withPending({ files: [{ ...FILE, data: new Uint16Array(1) }] }),
    ],
    [
      'a handle whose limits are a throwing proxy',
      withPending({ limits: throwingProxy({ memoryMb: 1, cpuMhz: 1 }) }),
    ],
    ['a handle whose limits are bigints', withPending({ limits: { memoryMb: 1n, cpuMhz: 1n } })],
    ['a handle whose runState is a boxed string', withPending({ runState: new String('running') })],
    ['a handle whose extensions are a throwing proxy', withPending({ extensions: throwingProxy({}) })],
    ['a handle whose extension slot holds a symbol', withPending({ extensions: { net: Symbol('x') } })],
    [
      'a handle whose extension slot has a throwing getter',
      withPending({ extensions: { net: getter('a') } }),
    ],
    [
      'a handle whose name has a lone surrogate',
      { ...base, baseVersion: null, pending: { ...pending, name: 'a\ud800' } },
    ],
    ['a handle whose containerId is a boxed string', { ...base, containerId: new String(ID) }],
    ['a handle whose baseVersion is 10 MB', { ...base, baseVersion: 'v'.repeat(10_000_000) }],
    ['a proxy of a valid handle whose traps throw', throwingProxy(base)],
    ['a revoked proxy of a valid handle', revokedProxy(base)],
    ['a frozen look-alike with a bad containerId', Object.freeze({ ...base, containerId: 'nope' })],
    [
      'a sealed look-alike with detached data',
      Object.seal(withPending({ files: [{ ...FILE, data: detachedBytes() }] })),
    ],
    ['a handle with too many files', withPending({ files: new Array(10_001).fill(FILE) })],
    [
      'a handle whose files are a proxy claiming a length of NaN',
      withPending({
        files: new Proxy([FILE], { get: (t, k) => (k === 'length' ? Number.NaN : Reflect.get(t, k)) }),
      }),
    ],
    [
      'a handle whose files are a proxy claiming a length of 2 ** 40',
      withPending({
        files: new Proxy([FILE], { get: (t, k) => (k === 'length' ? 2 ** 40 : Reflect.get(t, k)) }),
      }),
    ],
  ]
}

/** The hostile values that are nonetheless JSON data, and so fine in an extension slot. */
const JSON_DATA: ReadonlySet<string> = new Set([
  'a null-prototype object',
  'a 10 MB string',
  '1.5',
  '2 ** 53',
  'an array',
  'a frozen object',
  'a sealed object',
])

describe('handles refuse every hostile value with INVALID_ARGUMENT', () => {
  const valid = f.withFile(f.create(ID, 'web'), FILE)

  it('assertHandle, serializeHandle and every derivation, for every hostile handle', () => {
    for (const [label, h] of hostileHandles()) {
      expectRefused(() => assertHandle(h), `assertHandle: ${label}`)
      expectRefused(() => f.assertHandle(h), `factory.assertHandle: ${label}`)
      expectRefused(() => serializeHandle(h as Handle), `serializeHandle: ${label}`)
      expectRefused(() => f.withChange(h as Handle, { runState: 'running' }), `withChange: ${label}`)
      expectRefused(() => f.withFile(h as Handle, FILE), `withFile: ${label}`)
      expectRefused(() => f.withExtension(h as Handle, 'net', 1), `withExtension: ${label}`)
      expectRefused(() => f.getExtension(h as Handle, 'net'), `getExtension: ${label}`)
    }
  })

  it('every other argument of the factory, for every hostile value', () => {
    for (const [label, v] of hostileValues()) {
      expectRefused(() => f.create(v as string, 'web'), `create(id): ${label}`)
      expectRefused(() => f.create(ID, v as string), `create(name): ${label}`)
      expectRefused(() => f.forVersion(v as string, '1'), `forVersion(id): ${label}`)
      expectRefused(() => f.forVersion(ID, v as string), `forVersion(version): ${label}`)
      expectRefused(() => f.withChange(valid, { limits: v } as never), `withChange(limits): ${label}`)
      expectRefused(() => f.withChange(valid, { runState: v } as never), `withChange(runState): ${label}`)
      expectRefused(
        () => f.withChange(valid, { mainProcess: v } as never),
        `withChange(mainProcess): ${label}`,
      )
      expectRefused(() => f.withFile(valid, v as never), `withFile(file): ${label}`)
      expectRefused(() => f.withFile(valid, { ...FILE, data: v } as never), `withFile(data): ${label}`)
      expectRefused(
        () => f.withFile(valid, { ...FILE, targetDir: v } as never),
        `withFile(targetDir): ${label}`,
      )
      expectRefused(() => f.withFile(valid, { ...FILE, fname: v } as never), `withFile(fname): ${label}`)
      expectRefused(() => f.withFile(valid, { ...FILE, perms: v } as never), `withFile(perms): ${label}`)
      expectRefused(() => f.withExtension(valid, v as string, 1), `withExtension(namespace): ${label}`)
      expectRefused(() => f.getExtension(valid, v as string), `getExtension(namespace): ${label}`)
      expectRefused(() => deserializeHandle(v as string), `deserializeHandle: ${label}`)
      // Plain JSON data only: a value JSON cannot carry (or a throwing one) is refused.
      if (!JSON_DATA.has(label)) {
        expectRefused(() => f.withExtension(valid, 'net', v), `withExtension(value): ${label}`)
        expectRefused(() => toFrozenJson(v, 'slot'), `toFrozenJson: ${label}`)
      }
    }
  })

  it('a change whose getters throw is refused, and one read once is used as read', () => {
    expectRefused(() => f.withChange(valid, throwingProxy({})), 'throwing change')
    expectRefused(
      () => f.withChange(valid, Object.defineProperty({}, 'limits', { get: boom, enumerable: true })),
      'throwing limits getter',
    )
    // A getter that answers differently on each read must not pass the check with one answer
    // and be stored with another.
    let reads = 0
    const fickle = {
      get memoryMb() {
        reads++
        return reads === 1 ? 512 : -99
      },
      cpuMhz: 1000,
    }
    const h = f.withChange(valid, { limits: fickle })
    expect(h.pending.limits).toEqual({ memoryMb: 512, cpuMhz: 1000 })
    expect(reads).toBe(1)
  })

  it('the refused call leaves its handle as it was', () => {
    const before = serializeHandle(valid)
    for (const [, v] of hostileValues()) {
      try {
        f.withFile(valid, { ...FILE, data: v } as never)
      } catch {
        // refused, as the test above checks
      }
    }
    expect(serializeHandle(valid)).toBe(before)
  })

  it('a frozen or sealed plain copy of a valid handle is still a handle', () => {
    const copy = plain(valid)
    expect(serializeHandle(assertHandle(Object.freeze(copy)))).toBe(serializeHandle(valid))
    expect(serializeHandle(assertHandle(Object.seal(plain(valid))))).toBe(serializeHandle(valid))
  })

  it('deserializeHandle never echoes a long text', () => {
    const e = expectRefused(() => deserializeHandle(`{"x": ${'1'.repeat(100_000)}`), 'long text')
    expect(e.message.length).toBeLessThan(400)
  })
})
