import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { BasicHandleFactory, deserializeHandle, serializeHandle } from '../src/index.js'

const f = new BasicHandleFactory()
const ID = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'

function invalid(text: unknown): boolean {
  try {
    deserializeHandle(text as string)
    return false
  } catch (e) {
    return PortLayerError.isInstance(e, ErrorCode.InvalidArgument)
  }
}

describe('serializeHandle / deserializeHandle', () => {
  it('round-trips every field, including binary file data and extension slots', () => {
    const bytes = new Uint8Array(300)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff
    let h = f.create(ID, 'db "primary"')
    h = f.withChange(h, {
      limits: { memoryMb: -1, cpuMhz: 1500 },
      runState: 'running',
      mainProcess: { workDir: '/srv', execPath: '/usr/bin/db', execArgs: "--name 'x y'" },
    })
    h = f.withFile(h, { targetDir: '/etc', fname: 'db.conf', perms: 0o640, data: bytes })
    h = f.withFile(h, { targetDir: '/tmp', fname: 'empty', perms: 0, data: new Uint8Array() })
    h = f.withExtension(h, 'net', { ip: '10.1.2.3', ports: [80, 443] })
    const text = serializeHandle(h)
    expect(JSON.parse(text).format).toBe('portlayer.handle/v1')
    const back = deserializeHandle(text)
    expect(back).toEqual(h)
    expect(back.pending.files[0]?.data).toBeInstanceOf(Uint8Array)
    expect(Array.from(back.pending.files[0]?.data ?? [])).toEqual(Array.from(bytes))
    expect(Object.isFrozen(back)).toBe(true)
    expect(serializeHandle(back)).toBe(text)
    expect(f.withChange(back, { runState: 'stopped' }).pending.runState).toBe('stopped')
  })

  it('round-trips a version handle', () => {
    const h = f.forVersion(ID, '42')
    expect(deserializeHandle(serializeHandle(h))).toEqual(h)
  })

  it('encodes a file that is a view into a larger buffer correctly', () => {
    const big = new Uint8Array([9, 9, 1, 2, 3, 9])
    const h = f.withFile(f.forVersion(ID, '1'), {
      targetDir: '/',
      fname: 'v',
      perms: 0o644,
      data: big.subarray(2, 5),
    })
    const back = deserializeHandle(serializeHandle(h))
    expect(Array.from(back.pending.files[0]?.data ?? [])).toEqual([1, 2, 3])
  })

  it('round-trips a file of many MiB (base64 checked without deep regex backtracking)', () => {
    const bytes = new Uint8Array(16 * 1024 * 1024)
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff
    const h = f.withFile(f.forVersion(ID, '1'), { targetDir: '/', fname: 'big', perms: 0o644, data: bytes })
    const back = deserializeHandle(serializeHandle(h))
    const data = back.pending.files[0]?.data ?? new Uint8Array()
    expect(data.byteLength).toBe(bytes.byteLength)
    expect(Buffer.compare(data, bytes)).toBe(0)
  })

  it('rejects anything that is not a well-formed serialised handle', () => {
    const good = JSON.parse(serializeHandle(f.forVersion(ID, '1')))
    expect(invalid(42)).toBe(true)
    expect(invalid('not json')).toBe(true)
    expect(invalid('null')).toBe(true)
    expect(invalid(JSON.stringify({ ...good, format: 'other' }))).toBe(true)
    expect(invalid(JSON.stringify({ ...good, containerId: 'x' }))).toBe(true)
    expect(invalid(JSON.stringify({ ...good, pending: null }))).toBe(true)
    const file = { targetDir: '/', fname: 'a', perms: 420, data: 'AAA' }
    expect(invalid(JSON.stringify({ ...good, pending: { ...good.pending, files: [file] } }))).toBe(true)
    expect(
      invalid(JSON.stringify({ ...good, pending: { ...good.pending, files: [{ ...file, data: 1 }] } })),
    ).toBe(true)
    expect(
      invalid(JSON.stringify({ ...good, pending: { ...good.pending, files: [{ ...file, data: 'AA==' }] } })),
    ).toBe(false)
    for (const data of ['A===', '====', 'AA=A', 'AAA', 'AA==AA==', 'AAAA\n', 'AA-_']) {
      expect(
        invalid(JSON.stringify({ ...good, pending: { ...good.pending, files: [{ ...file, data }] } })),
        data,
      ).toBe(true)
    }
    for (const data of ['', 'AAAA', 'AAA=', 'AAAAAA==', '+/+/']) {
      expect(
        invalid(JSON.stringify({ ...good, pending: { ...good.pending, files: [{ ...file, data }] } })),
        data,
      ).toBe(false)
    }
  })

  it('refuses to serialise a malformed handle', () => {
    expect(() => serializeHandle({ containerId: 'x' } as never)).toThrow(/containerId/)
  })
})
