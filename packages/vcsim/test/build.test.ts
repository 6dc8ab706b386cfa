import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildVcsim, defaultSourceDir } from '../src/index.js'

describe('buildVcsim', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vcsim-build-'))
    const sources = defaultSourceDir()
    for (const file of await readdir(sources)) {
      // linkname.s (empty) lets clone.go declare a function without a body.
      const source = (file.endsWith('.go') && !file.endsWith('_test.go')) || file.endsWith('.s')
      if (source) await cp(join(sources, file), join(dir, file))
    }
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('builds once for concurrent callers, reuses the binary, and rebuilds when a source changes', async () => {
    const [a, b] = await Promise.all([buildVcsim({ sourceDir: dir }), buildVcsim({ sourceDir: dir })])
    expect(a).toBe(b)
    expect(existsSync(a)).toBe(true)
    expect(await buildVcsim({ sourceDir: dir })).toBe(a)

    await writeFile(
      join(dir, 'extra.go'),
      'package main\n\n// extra changes the source hash.\nconst extra = 1\n\nvar _ = extra\n',
    )
    const c = await buildVcsim({ sourceDir: dir })
    expect(c).not.toBe(a)
    expect(existsSync(c)).toBe(true)
    // The binary of the old sources is removed; no lock or temporary file is left behind.
    expect((await readdir(join(dir, 'bin'))).sort()).toEqual([c.slice(c.lastIndexOf('/') + 1)])

    // The assembly stub is compiled too, so it is part of the hash.
    await writeFile(join(dir, 'linkname.s'), '// changed: a different stub is a different build\n')
    const d = await buildVcsim({ sourceDir: dir })
    expect(d).not.toBe(c)
    expect(existsSync(d)).toBe(true)
  }, 300_000)

  it('takes over the lock of a build whose process died', async () => {
    await writeFile(
      join(dir, 'extra.go'),
      'package main\n\n// extra changes the source hash.\nconst extra = 2\n\nvar _ = extra\n',
    )
    const binDir = join(dir, 'bin')
    // Build once to learn the binary's name, then stage a crash: no binary, a lock whose
    // owner does not exist.
    const probe = await buildVcsim({ sourceDir: dir })
    await rm(probe)
    await writeFile(`${probe}.lock`, '999999999')
    const rebuilt = await buildVcsim({ sourceDir: dir })
    expect(rebuilt).toBe(probe)
    expect(existsSync(rebuilt)).toBe(true)
    expect(existsSync(`${probe}.lock`)).toBe(false)
    expect(await readdir(binDir)).toHaveLength(1)
  }, 300_000)
})
