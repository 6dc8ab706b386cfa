import { describe, expect, it } from 'vitest'
import {
  isId,
  PortLayerError,
  validateAbsolutePath,
  validateData,
  validateExecArgs,
  validateFileName,
  validateId,
  validateLimit,
  validateName,
  validateNamespace,
  validatePerms,
  validateRunStateFilter,
  validateSignal,
  validateTargetRunState,
} from '../src/index.js'

function rejects(fn: () => unknown): void {
  let thrown: unknown
  try {
    fn()
  } catch (e) {
    thrown = e
  }
  expect(
    PortLayerError.isInstance(thrown, 'INVALID_ARGUMENT'),
    `expected INVALID_ARGUMENT, got ${thrown}`,
  ).toBe(true)
}

describe('validators', () => {
  it('ids', () => {
    const id = '0b9e5a1c-3a55-4d6e-9a8f-1c2d3e4f5a6b'
    expect(isId(id)).toBe(true)
    expect(validateId(id)).toBe(id)
    for (const bad of [
      undefined,
      null,
      42,
      '',
      'abc',
      id.toUpperCase(),
      `${id}x`,
      '00000000-0000-0000-0000-000000000000',
    ]) {
      rejects(() => validateId(bad))
    }
  })

  it('names', () => {
    expect(validateName('web-1')).toBe('web-1')
    for (const bad of [undefined, 7, '', '   ', 'a\nb', 'x'.repeat(129)]) rejects(() => validateName(bad))
  })

  it('absolute paths are normalised and traversal is refused', () => {
    expect(validateAbsolutePath('/', 'd')).toBe('/')
    expect(validateAbsolutePath('//usr/./local//bin/', 'd')).toBe('/usr/local/bin')
    for (const bad of [
      undefined,
      1,
      '',
      'tmp',
      './tmp',
      '/a/../b',
      '/..',
      '/a/..',
      '/a\u0000b',
      `/${'a'.repeat(5000)}`,
    ]) {
      rejects(() => validateAbsolutePath(bad, 'targetDir'))
    }
  })

  it('file names are one segment', () => {
    expect(validateFileName('app.conf')).toBe('app.conf')
    for (const bad of [undefined, '', '.', '..', 'a/b', '/a', 'a\u0000', 'é'.repeat(200)])
      rejects(() => validateFileName(bad))
  })

  it('perms, data, limits, signals, exec args, run states, namespaces', () => {
    expect(validatePerms(0)).toBe(0)
    expect(validatePerms(0o7777)).toBe(0o7777)
    for (const bad of [-1, 0o10000, 1.5, Number.NaN, '644', undefined]) rejects(() => validatePerms(bad))

    expect(validateData(new Uint8Array(3)).byteLength).toBe(3)
    for (const bad of ['abc', [1, 2], null, new ArrayBuffer(2)]) rejects(() => validateData(bad))

    expect(validateLimit(-1, 'memoryMb')).toBe(-1)
    expect(validateLimit(512, 'memoryMb')).toBe(512)
    for (const bad of [0, -2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40, '512', undefined]) {
      rejects(() => validateLimit(bad, 'cpuMhz'))
    }

    expect(validateSignal(15)).toBe(15)
    for (const bad of [0, 65, -9, 1.5, '9']) rejects(() => validateSignal(bad))

    expect(validateExecArgs('-c "exit 3"')).toBe('-c "exit 3"')
    for (const bad of [undefined, 3, '"unterminated', 'a\u0000b']) rejects(() => validateExecArgs(bad))

    expect(validateTargetRunState('running')).toBe('running')
    for (const bad of ['created', 'paused', undefined]) rejects(() => validateTargetRunState(bad))
    expect(validateRunStateFilter(undefined)).toBeUndefined()
    rejects(() => validateRunStateFilter('paused'))

    expect(validateNamespace('net')).toBe('net')
    expect(validateNamespace('acme.storage-v2')).toBe('acme.storage-v2')
    for (const bad of ['', 'Net', 'a..b', '.a', '1a', 'a'.repeat(65), 3])
      rejects(() => validateNamespace(bad))
  })

  it('errors name the backend when given', () => {
    expect(() => validateName('', 'simulator')).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', backend: 'simulator' }),
    )
  })
})

describe('validateAbsolutePath agrees with the plain split-and-join rule', () => {
  /** The rule written the slow way: drop empty and `.` segments, refuse `..`. */
  function reference(path: string): string | 'refused' {
    const kept: string[] = []
    for (const segment of path.split('/')) {
      if (segment === '' || segment === '.') continue
      if (segment === '..') return 'refused'
      kept.push(segment)
    }
    return `/${kept.join('/')}`
  }

  it('on 20,000 seeded random absolute paths of awkward segments', () => {
    let seed = 7
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed / 4294967296
    }
    const pieces = ['', '.', '..', '...', '.a', 'a.', '..a', 'a', 'bc', '/']
    for (let round = 0; round < 20_000; round++) {
      const n = Math.floor(rand() * 6)
      const path = `/${Array.from({ length: n }, () => pieces[Math.floor(rand() * pieces.length)]).join('/')}`
      const expected = reference(path)
      let actual: string
      try {
        actual = validateAbsolutePath(path, 'p')
      } catch (e) {
        expect(PortLayerError.isInstance(e, 'INVALID_ARGUMENT'), path).toBe(true)
        actual = 'refused'
      }
      expect(actual, JSON.stringify(path)).toBe(expected)
    }
  })
})
