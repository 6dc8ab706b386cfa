import { validateAbsolutePath, validateExecArgs, validateFileName, validateId } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { hostileValues } from '../../contracts/test/hostile.js'
import { checkAbsolutePath, checkExecArgs, checkFileName, checkId } from '../src/fast-checks.js'

/** The fast check must accept, normalise and reject exactly what the shared validator does. */
function same(fast: (v: unknown) => unknown, slow: (v: unknown) => unknown, values: unknown[]) {
  for (const v of values) {
    const outcome = (f: (v: unknown) => unknown) => {
      try {
        return { ok: f(v) }
      } catch (e) {
        return { error: (e as Error).message }
      }
    }
    expect(outcome(fast), `for ${JSON.stringify(v)}`).toEqual(outcome(slow))
  }
}

describe('fast checks agree with the shared validators', () => {
  it('absolute paths', () => {
    same(
      (v) => checkAbsolutePath(v, 'p'),
      (v) => validateAbsolutePath(v, 'p'),
      [
        '/',
        '/a',
        '/usr/local/bin',
        '//a',
        '/a/',
        '/a//b',
        '/./a',
        '/a/.',
        '/a/..',
        '/..',
        '/a/.b',
        '/a/..b',
        '/a/b.',
        '/.hidden/x',
        'rel',
        '',
        '/a\u0000b',
        '/a\u007fb',
        '/a\nb',
        '/a\ud800',
        '/\udc00/b',
        '/😀/b',
        `/${'x'.repeat(5000)}`,
        7,
        null,
        undefined,
      ],
    )
  })

  it('file names', () => {
    same(checkFileName, (v) => validateFileName(v), [
      'a',
      'a.b',
      '.',
      '..',
      '...',
      'a/b',
      '',
      'x'.repeat(85),
      'x'.repeat(86),
      'x'.repeat(255),
      'x'.repeat(256),
      'é'.repeat(127),
      'é'.repeat(128),
      '\u0001',
      'a\u007f',
      '\ud800',
      'a\udfff',
      '😀',
      '😀'.repeat(42),
      '😀'.repeat(64),
      3,
    ])
  })

  it('exec args', () => {
    same(checkExecArgs, (v) => validateExecArgs(v), [
      '',
      'a b',
      '-c "exit 3"',
      "'x",
      '"x',
      'a\\',
      'a\\ b',
      'nul\u0000',
      'lone \ud83d',
      'pair 😀',
      'x'.repeat(70000),
      5,
    ])
  })

  it('every hostile value, in every check', () => {
    const outcome = (fn: () => unknown) => {
      try {
        return { ok: fn() }
      } catch (e) {
        return { code: (e as { code?: unknown }).code, error: (e as Error).message }
      }
    }
    for (const [label, v] of hostileValues()) {
      expect(
        outcome(() => checkAbsolutePath(v, 'p')),
        label,
      ).toEqual(outcome(() => validateAbsolutePath(v, 'p')))
      expect(
        outcome(() => checkFileName(v)),
        label,
      ).toEqual(outcome(() => validateFileName(v)))
      expect(
        outcome(() => checkExecArgs(v)),
        label,
      ).toEqual(outcome(() => validateExecArgs(v)))
      expect(
        outcome(() => checkId(v, 'id')),
        label,
      ).toEqual(outcome(() => validateId(v, 'id')))
      expect(outcome(() => checkFileName(v)).code, label).toBe('INVALID_ARGUMENT')
    }
  })

  it('IDs, also when the same value is checked twice', () => {
    const id = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'
    same(
      (v) => checkId(v, 'id'),
      (v) => validateId(v, 'id'),
      [id, id, id.toUpperCase(), 'x', '', 1, undefined, id],
    )
  })
})
