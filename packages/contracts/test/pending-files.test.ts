import { describe, expect, it } from 'vitest'
import {
  DEFAULT_DIRECTORY_PATHS,
  findPendingFileConflict,
  MAX_PENDING_FILES,
  PortLayerError,
  validatePendingFiles,
} from '../src/index.js'
import { throwingProxy } from './hostile.js'

const file = (targetDir: string, fname: string) => ({ targetDir, fname })

/** What the rule says, the slow way: every pair of final paths, and the default directories. */
function oracle(files: ReadonlyArray<{ targetDir: string; fname: string }>): boolean {
  const paths = [
    ...new Set(files.map((f) => (f.targetDir === '/' ? `/${f.fname}` : `${f.targetDir}/${f.fname}`))),
  ]
  if (paths.some((p) => DEFAULT_DIRECTORY_PATHS.includes(p))) return true
  return paths.some((p) => paths.some((q) => q.startsWith(`${p}/`)))
}

/** A small deterministic PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('pending-file conflicts', () => {
  it('the default directories include their parents', () => {
    expect(DEFAULT_DIRECTORY_PATHS).toEqual(['/bin', '/etc', '/tmp', '/usr', '/usr/local', '/usr/local/bin'])
  })

  it('a path used as a file and as a directory conflicts, in either order and at any depth', () => {
    for (const files of [
      [file('/a', 'b'), file('/a/b', 'c')],
      [file('/a/b', 'c'), file('/a', 'b')],
      [file('/a', 'b'), file('/a/b/c/d', 'e')],
      [file('/', 'a'), file('/a', 'b')],
      [file('/x', 'y'), file('/a', 'b'), file('/q', 'r'), file('/a/b', 'c')],
    ]) {
      expect(findPendingFileConflict(files), JSON.stringify(files)).toMatch(
        /^\/a(\/b)? is a file in one copy and a directory in another/,
      )
    }
  })

  it('a file at a default directory or one of its parents conflicts', () => {
    for (const path of DEFAULT_DIRECTORY_PATHS) {
      const at = path.lastIndexOf('/')
      const files = [file(path.slice(0, at) || '/', path.slice(at + 1))]
      expect(findPendingFileConflict(files), path).toBe(
        `a file at ${path} would replace one of the directories every container has`,
      )
    }
  })

  it('copies to the same path, siblings, prefixes that are not parents and files inside defaults are fine', () => {
    for (const files of [
      [],
      [file('/a', 'b'), file('/a', 'b')],
      [file('/a', 'b'), file('/a', 'bc'), file('/a/bc.d', 'e')],
      [file('/a', 'b'), file('/ab', 'c')],
      [file('/tmp', 'x'), file('/usr/local/bin', 'tool'), file('/usr', 'other'), file('/etc/app', 'conf')],
      [file('/', 'tmpx'), file('/', 'usr.bak')],
    ]) {
      expect(findPendingFileConflict(files), JSON.stringify(files)).toBeUndefined()
    }
  })

  it('agrees with the pairwise rule on random file sets (5,000 seeded cases)', () => {
    const rand = prng(20240917)
    const segments = ['a', 'b', 'c', 'usr', 'local', 'bin', 'tmp', 'etc']
    const pick = () => segments[Math.floor(rand() * segments.length)] as string
    let conflicts = 0
    for (let round = 0; round < 5000; round++) {
      const files = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => {
        const depth = Math.floor(rand() * 4)
        const dir = depth === 0 ? '/' : `/${Array.from({ length: depth }, pick).join('/')}`
        return file(dir, pick())
      })
      const expected = oracle(files)
      if (expected) conflicts++
      expect(findPendingFileConflict(files) !== undefined, `round ${round}: ${JSON.stringify(files)}`).toBe(
        expected,
      )
      // The verdict does not depend on the order of the copies.
      expect(findPendingFileConflict([...files].reverse()) !== undefined).toBe(expected)
    }
    // Both outcomes must be well represented for the comparison to mean anything.
    expect(conflicts).toBeGreaterThan(500)
    expect(conflicts).toBeLessThan(4500)
  })

  it('validatePendingFiles normalises, names the backend, and refuses malformed or unreadable files', () => {
    expect(validatePendingFiles([file('//a/./b/', 'c')], 'sim')).toEqual([file('/a/b', 'c')])
    const refused = (files: unknown) => {
      try {
        validatePendingFiles(files, 'sim', 'target-id')
      } catch (e) {
        expect(PortLayerError.isInstance(e, 'INVALID_ARGUMENT')).toBe(true)
        expect((e as PortLayerError).backend).toBe('sim')
        return (e as PortLayerError).message
      }
      throw new Error('expected INVALID_ARGUMENT')
    }
    expect(refused([file('/a//b/', 'c'), file('/a', 'b')])).toMatch(
      /pending files conflict: \/a\/b is a file/,
    )
    expect(refused([file('/', 'tmp')])).toMatch(/\/tmp would replace/)
    expect(refused('files')).toMatch(/must be an array/)
    expect(refused([null])).toMatch(/pending file 0 must be an object/)
    expect(refused([file('rel', 'x')])).toMatch(/absolute/)
    expect(refused([file('/a', '..')])).toMatch(/fname/)
    expect(refused(throwingProxy([]))).toMatch(/could not be read/)
    expect(refused([throwingProxy({})])).toMatch(/could not be read/)
    expect(refused({ length: 2 })).toMatch(/must be an array/)
    const many = new Array(MAX_PENDING_FILES + 1).fill(file('/a', 'b'))
    expect(refused(many)).toMatch(/at most/)
  })

  it('a long path is shown abbreviated', () => {
    const deep = `/${'d'.repeat(3000)}`
    const message = findPendingFileConflict([file('/', 'd'.repeat(3000)), file(deep, 'x')]) as string
    expect(message).toBeDefined()
    expect(message.length).toBeLessThan(300)
  })
})
