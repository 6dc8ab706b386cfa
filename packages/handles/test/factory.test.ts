import { ErrorCode, type Handle, isId, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { assertHandle, BasicHandleFactory } from '../src/index.js'

const f = new BasicHandleFactory()
const ID = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'

function expectInvalid(fn: () => unknown, message?: RegExp) {
  try {
    fn()
  } catch (e) {
    expect(PortLayerError.isInstance(e, ErrorCode.InvalidArgument)).toBe(true)
    if (message) expect((e as Error).message).toMatch(message)
    return
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('BasicHandleFactory', () => {
  it('mints distinct v4 UUIDs', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => f.newId()))
    expect(ids.size).toBe(1000)
    for (const id of ids) {
      expect(isId(id)).toBe(true)
      expect(id[14]).toBe('4')
    }
  })

  it('create-handles carry the name and no base version', () => {
    const h = f.create(ID, 'web')
    expect(h.containerId).toBe(ID)
    expect(h.baseVersion).toBeNull()
    expect(h.pending.name).toBe('web')
    expect(h.pending.files).toEqual([])
    expect(h.pending.extensions).toEqual({})
  })

  it('forVersion handles carry the version and an empty pending commit', () => {
    const h = f.forVersion(ID, '7')
    expect(h.baseVersion).toBe('7')
    expect(h.pending.name).toBeUndefined()
    expect(h.pending.limits).toBeUndefined()
    expectInvalid(() => f.forVersion(ID, ''))
    expectInvalid(() => f.forVersion('nope', '1'))
    expectInvalid(() => f.create(ID, ''))
  })

  it('every derivation returns a new frozen handle and leaves the old one unchanged', () => {
    const h0 = f.create(ID, 'web')
    const h1 = f.withChange(h0, { limits: { memoryMb: 512, cpuMhz: -1 } })
    const h2 = f.withChange(h1, {
      runState: 'running',
      mainProcess: { workDir: '/', execPath: '/bin/true', execArgs: '' },
    })
    const h3 = f.withFile(h2, { targetDir: '/etc', fname: 'a', perms: 0o644, data: new Uint8Array([1]) })
    expect(new Set([h0, h1, h2, h3]).size).toBe(4)
    expect(h0.pending.limits).toBeUndefined()
    expect(h1.pending.limits).toEqual({ memoryMb: 512, cpuMhz: -1 })
    expect(h1.pending.runState).toBeUndefined()
    expect(h2.pending.files).toHaveLength(0)
    expect(h3.pending.files).toHaveLength(1)
    expect(h3.pending.limits).toEqual({ memoryMb: 512, cpuMhz: -1 })
    expect(h3.pending.name).toBe('web')
    for (const h of [h0, h1, h2, h3]) {
      expect(Object.isFrozen(h)).toBe(true)
      expect(Object.isFrozen(h.pending)).toBe(true)
      expect(Object.isFrozen(h.pending.files)).toBe(true)
    }
    expect(Object.isFrozen(h3.pending.files[0])).toBe(true)
    expect(Object.isFrozen(h1.pending.limits)).toBe(true)
    expect(Object.isFrozen(h2.pending.mainProcess)).toBe(true)
    expect(() => {
      ;(h3 as { containerId: string }).containerId = 'x'
    }).toThrow(TypeError)
  })

  it('later changes of a field replace earlier ones, files accumulate in order', () => {
    let h = f.forVersion(ID, '1')
    h = f.withChange(h, { runState: 'running' })
    h = f.withChange(h, { runState: 'stopped' })
    h = f.withFile(h, { targetDir: '/tmp', fname: 'a', perms: 0o600, data: new Uint8Array([1]) })
    h = f.withFile(h, { targetDir: '/tmp', fname: 'a', perms: 0o644, data: new Uint8Array([2]) })
    expect(h.pending.runState).toBe('stopped')
    expect(h.pending.files.map((x) => x.data[0])).toEqual([1, 2])
  })

  it('copies file data so reusing the caller buffer cannot change the handle', () => {
    const buf = new Uint8Array([1, 2, 3])
    const h = f.withFile(f.forVersion(ID, '1'), { targetDir: '/tmp/', fname: 'x', perms: 0o644, data: buf })
    buf[0] = 9
    expect(Array.from(h.pending.files[0]?.data ?? [])).toEqual([1, 2, 3])
    expect(h.pending.files[0]?.targetDir).toBe('/tmp')
  })

  it('normalises paths and rejects bad values in derivations', () => {
    const h = f.forVersion(ID, '1')
    const e = f.withChange(h, {
      mainProcess: { workDir: '//srv/./app/', execPath: '/bin/sh', execArgs: '-c "exit 3"' },
    })
    expect(e.pending.mainProcess).toEqual({
      workDir: '/srv/app',
      execPath: '/bin/sh',
      execArgs: '-c "exit 3"',
    })
    expectInvalid(() => f.withChange(h, { limits: { memoryMb: 0, cpuMhz: 1 } }))
    expectInvalid(() => f.withChange(h, { limits: { memoryMb: 1.5, cpuMhz: 1 } }))
    expectInvalid(() => f.withChange(h, { runState: 'created' }))
    expectInvalid(() =>
      f.withChange(h, { mainProcess: { workDir: 'rel', execPath: '/bin/true', execArgs: '' } }),
    )
    expectInvalid(() =>
      f.withChange(h, { mainProcess: { workDir: '/', execPath: '/bin/true', execArgs: '"' } }),
    )
    expectInvalid(() =>
      f.withFile(h, { targetDir: '/a/../b', fname: 'x', perms: 0o644, data: new Uint8Array() }),
    )
    expectInvalid(() =>
      f.withFile(h, { targetDir: '/a', fname: 'x/y', perms: 0o644, data: new Uint8Array() }),
    )
    expectInvalid(() =>
      f.withFile(h, { targetDir: '/a', fname: 'x', perms: 0o10000, data: new Uint8Array() }),
    )
    expectInvalid(() => f.withFile(h, { targetDir: '/a', fname: 'x', perms: 0o644, data: [1] as never }))
    expectInvalid(() => f.withChange(h, null as never))
  })
})

describe('extension slots', () => {
  it('stores a deep-frozen copy per namespace and reads it back', () => {
    const value = { address: '10.0.0.2', tags: ['a', { b: 1 }] }
    const h = f.withExtension(f.forVersion(ID, '1'), 'net', value)
    value.tags.push('mutated')
    const got = f.getExtension<typeof value>(h, 'net')
    expect(got).toEqual({ address: '10.0.0.2', tags: ['a', { b: 1 }] })
    expect(Object.isFrozen(got)).toBe(true)
    expect(Object.isFrozen(got?.tags[1])).toBe(true)
    expect(f.getExtension(h, 'storage')).toBeUndefined()
    expect(f.getExtension(h, 'constructor')).toBeUndefined()
  })

  it('keeps other slots, replaces its own, and empties it with undefined', () => {
    let h = f.withExtension(f.forVersion(ID, '1'), 'net', 1)
    h = f.withExtension(h, 'storage.volumes', [1])
    h = f.withExtension(h, 'net', 2)
    expect(h.pending.extensions).toEqual({ net: 2, 'storage.volumes': [1] })
    const cleared = f.withExtension(h, 'net', undefined)
    expect(cleared.pending.extensions).toEqual({ 'storage.volumes': [1] })
    expect(f.getExtension(h, 'net')).toBe(2)
  })

  it('validates namespaces', () => {
    const h = f.forVersion(ID, '1')
    for (const ns of ['', 'Net', 'net_x', '1net', 'net.', '.net', '__proto__', 'a'.repeat(65), 7]) {
      expectInvalid(() => f.withExtension(h, ns as string, 1), /namespace/)
      expectInvalid(() => f.getExtension(h, ns as string), /namespace/)
    }
  })

  it('accepts only values that survive JSON exactly', () => {
    const h = f.forVersion(ID, '1')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const sparse = [1, 2, 3]
    delete sparse[1]
    const bads: unknown[] = [
      () => 1,
      Symbol('x'),
      10n,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      new Date(),
      new Map(),
      { a: undefined },
      sparse,
      cyclic,
      { [Symbol('k')]: 1 },
      new (class Point {})(),
    ]
    for (const v of bads) expectInvalid(() => f.withExtension(h, 'net', v), /extension slot 'net'/)
    for (const v of [null, true, 0, 'x', [], {}, { a: [null, { b: 'c' }] }, Object.create(null)]) {
      expect(f.getExtension(f.withExtension(h, 'net', v), 'net')).toEqual(v)
    }
  })
})

describe('assertHandle', () => {
  const good = () =>
    f.withFile(f.create(ID, 'web'), {
      targetDir: '/tmp',
      fname: 'a',
      perms: 0o644,
      data: new Uint8Array([7]),
    })

  it('returns its own handles unchanged', () => {
    const h = good()
    expect(assertHandle(h)).toBe(h)
    expect(f.assertHandle(h)).toBe(h)
  })

  it('accepts a structured clone and returns an equal frozen handle that owns its data', () => {
    const clone = structuredClone(good()) as Handle
    const h = assertHandle(clone)
    expect(h).not.toBe(clone)
    expect(h).toEqual(clone)
    expect(Object.isFrozen(h)).toBe(true)
    ;(clone.pending.files[0] as { data: Uint8Array }).data[0] = 0
    expect(h.pending.files[0]?.data[0]).toBe(7)
  })

  it('rejects a spread copy that was tampered with', () => {
    const h = good()
    expectInvalid(() => assertHandle({ ...h, containerId: 'x' }), /containerId/)
    expectInvalid(() =>
      assertHandle({ ...h, pending: { ...h.pending, limits: { memoryMb: -5, cpuMhz: 1 } } }),
    )
  })

  it('rejects malformed values with INVALID_ARGUMENT', () => {
    const h = good()
    const p = h.pending
    const cases: unknown[] = [
      undefined,
      null,
      42,
      'handle',
      [],
      {},
      { containerId: ID, baseVersion: null },
      { containerId: ID.toUpperCase(), baseVersion: null, pending: p },
      { containerId: ID, baseVersion: 5, pending: p },
      { containerId: ID, baseVersion: '', pending: p },
      { containerId: ID, baseVersion: '3', pending: p },
      { containerId: ID, baseVersion: null, pending: { ...p, name: undefined } },
      { containerId: ID, baseVersion: null, pending: { ...p, surprise: 1 } },
      { containerId: ID, baseVersion: null, pending: { ...p, runState: 'created' } },
      { containerId: ID, baseVersion: null, pending: { ...p, files: 'x' } },
      {
        containerId: ID,
        baseVersion: null,
        pending: { ...p, files: [{ targetDir: '/', fname: '..', perms: 1, data: new Uint8Array() }] },
      },
      {
        containerId: ID,
        baseVersion: null,
        pending: { ...p, mainProcess: { workDir: '/', execPath: 'true', execArgs: '' } },
      },
      { containerId: ID, baseVersion: null, pending: { ...p, extensions: { Net: 1 } } },
      { containerId: ID, baseVersion: null, pending: { ...p, extensions: { net: () => 1 } } },
      { containerId: ID, baseVersion: null, pending: { ...p, extensions: new Map() } },
    ]
    for (const c of cases) expectInvalid(() => assertHandle(c))
  })

  it('cannot be bypassed by constructing the handle class directly', () => {
    const Ctor = good().constructor as new (...a: unknown[]) => Handle
    expect(() => new Ctor(Symbol('BasicHandle'), ID, null, {})).toThrow(TypeError)
  })

  it('cannot be bypassed by an object made from the handle prototype', () => {
    const proto = Object.getPrototypeOf(good()) as object
    const forged = Object.freeze(
      Object.assign(Object.create(proto), { containerId: 'x', baseVersion: 7, pending: null }),
    )
    expect(forged instanceof (good().constructor as new () => unknown)).toBe(true)
    expectInvalid(() => assertHandle(forged), /containerId/)
    expectInvalid(() => f.getExtension(forged, 'net'))
    expectInvalid(() => f.withChange(forged, { runState: 'running' }))
    // A well-formed copy made that way is validated and copied like any foreign handle.
    const h = good()
    const lookalike = Object.assign(Object.create(proto), {
      containerId: h.containerId,
      baseVersion: h.baseVersion,
      pending: h.pending,
    })
    const checked = assertHandle(lookalike)
    expect(checked).not.toBe(lookalike)
    expect(checked).toEqual(h)
  })

  it('rejects a sparse files array instead of keeping its holes', () => {
    const files: unknown[] = []
    files.length = 2
    expectInvalid(
      () => assertHandle({ containerId: ID, baseVersion: '1', pending: { files, extensions: {} } }),
      /file/,
    )
    const h = good()
    const holey = [h.pending.files[0]]
    holey.length = 3
    expectInvalid(() => assertHandle({ ...h, pending: { ...h.pending, files: holey } }), /file 1/)
  })
})
