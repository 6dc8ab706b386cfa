import { existsSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sourceKey } from '../src/build.js'
import { buildVcsim, defaultSourceDir } from '../src/index.js'
import { recorder, silent } from './loggers.js'

/** A copy of the harness's compiled sources (no tests) in a new directory. */
async function copySources(into: string): Promise<void> {
  const sources = defaultSourceDir()
  for (const file of await readdir(sources)) {
    // linkname.s (empty) lets clone.go declare a function without a body.
    const source = (file.endsWith('.go') && !file.endsWith('_test.go')) || file.endsWith('.s')
    if (source) await cp(join(sources, file), join(into, file))
  }
}

/** Every file under `dir` with its size and mtime, to show that nothing was written there. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, entry))
    out.push(`${entry} ${s.size} ${s.mtimeMs}`)
  }
  return out.sort()
}

const quiet = silent

/** A `go` that reports another version and otherwise is the real one. */
async function fakeGo(dir: string, version: string): Promise<string> {
  const path = join(dir, `go-${version}`)
  await writeFile(
    path,
    `#!/bin/sh\nif [ "$1" = version ]; then echo "go version ${version} linux/amd64"; exit 0; fi\nexec go "$@"\n`,
  )
  await chmod(path, 0o755)
  return path
}

describe('buildVcsim', () => {
  let dir: string
  let sources: string
  let cache: string
  const savedGo = process.env.PORTLAYER_VCSIM_GO
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vcsim-build-'))
    sources = join(dir, 'src')
    cache = join(dir, 'cache')
    await mkdir(sources)
    await copySources(sources)
  })
  afterEach(() => {
    if (savedGo === undefined) delete process.env.PORTLAYER_VCSIM_GO
    else process.env.PORTLAYER_VCSIM_GO = savedGo
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('builds once for concurrent callers into the cache, never next to the sources, and reuses the binary', async () => {
    const before = await snapshot(sources)
    const [a, b] = await Promise.all([
      buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet }),
      buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet }),
    ])
    expect(a).toBe(b)
    expect(existsSync(a)).toBe(true)
    expect(a.startsWith(`${cache}/vcsim-`)).toBe(true)
    expect(await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })).toBe(a)
    // The sources' directory is only read: a read-only node_modules is enough.
    expect(await snapshot(sources)).toEqual(before)
    // No lock or temporary file is left behind.
    expect(await readdir(cache)).toEqual([basename(a)])
  }, 300_000)

  it('names binaries by a hash of the sources and one of the Go version: an edit or another Go rebuilds', async () => {
    const a = await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })
    const key = await sourceKey(sources)
    expect(basename(a)).toMatch(new RegExp(`^vcsim-${key}-[0-9a-f]{8}$`))

    // The same sources elsewhere (the repository's and an installed package's copy) share a binary.
    const elsewhere = join(dir, 'elsewhere')
    await cp(sources, elsewhere, { recursive: true })
    expect(await sourceKey(elsewhere)).toBe(key)
    expect(await buildVcsim({ sourceDir: elsewhere, cacheDir: cache, logger: quiet })).toBe(a)

    // A test file is not compiled in, so it changes nothing.
    await writeFile(join(elsewhere, 'extra_test.go'), 'package main\n')
    expect(await sourceKey(elsewhere)).toBe(key)

    // Another Go version: the same first half, a new second half.
    process.env.PORTLAYER_VCSIM_GO = await fakeGo(dir, 'go1.99.1')
    const other = await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })
    expect(basename(other).slice(0, 'vcsim-'.length + 16)).toBe(`vcsim-${key}`)
    expect(other).not.toBe(a)
    delete process.env.PORTLAYER_VCSIM_GO

    // An edited source: a new first half.
    await writeFile(
      join(elsewhere, 'extra.go'),
      'package main\n\n// extra changes the source hash.\nconst extra = 1\n\nvar _ = extra\n',
    )
    const edited = await sourceKey(elsewhere)
    expect(edited).not.toBe(key)
    const c = await buildVcsim({ sourceDir: elsewhere, cacheDir: cache, logger: quiet })
    expect(basename(c)).toMatch(new RegExp(`^vcsim-${edited}-`))
    expect(existsSync(c)).toBe(true)

    // The assembly stub is compiled too, so it is part of the hash.
    await writeFile(join(elsewhere, 'linkname.s'), '// changed: a different stub is a different build\n')
    expect(await sourceKey(elsewhere)).not.toBe(edited)
  }, 300_000)

  it('without Go, runs a binary cached for the same sources; with nothing cached, says what to install', async () => {
    const built = await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })
    process.env.PORTLAYER_VCSIM_GO = '/nonexistent/bin/go'
    expect(await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })).toBe(built)
    const empty = join(dir, 'empty-cache')
    const error = await buildVcsim({ sourceDir: sources, cacheDir: empty, logger: quiet }).catch(
      (e: unknown) => e,
    )
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toMatch(/golang-go.*golang-github-vmware-govmomi-dev/)
  }, 300_000)

  it('keeps binaries of other sources a week after their last use, at most four; drops crashed builds', async () => {
    const own = join(dir, 'retention')
    const binaries = join(dir, 'retention-cache')
    await cp(sources, own, { recursive: true })
    await mkdir(binaries)
    const old = Date.now() / 1000 - 8 * 24 * 3600
    const names = ['0', '1', '2', '3', '4', '5'].map((d) => `vcsim-${d.repeat(16)}-${d.repeat(8)}`)
    for (const [i, name] of names.entries()) {
      await writeFile(join(binaries, name), '')
      await chmod(join(binaries, name), 0o755)
      // The first is a week old; the others were used a second apart.
      const at = i === 0 ? old : Date.now() / 1000 - 100 + i
      await utimes(join(binaries, name), at, at)
    }
    await writeFile(join(binaries, 'vcsim-x.123.tmp'), '')
    await utimes(join(binaries, 'vcsim-x.123.tmp'), old, old)
    await writeFile(
      join(own, 'extra.go'),
      'package main\n\n// retention test\nconst retention = 1\n\nvar _ = retention\n',
    )
    const built = await buildVcsim({ sourceDir: own, cacheDir: binaries, logger: quiet })
    expect((await readdir(binaries)).sort()).toEqual([basename(built), ...names.slice(2)].sort())
  }, 300_000)

  it('takes over the lock of a build whose process died', async () => {
    await writeFile(
      join(sources, 'extra.go'),
      'package main\n\n// extra changes the source hash.\nconst extra = 2\n\nvar _ = extra\n',
    )
    // Build once to learn the binary's name, then stage a crash: no binary, a lock whose
    // owner does not exist.
    const probe = await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })
    await rm(probe)
    await writeFile(`${probe}.lock`, '999999999')
    const rebuilt = await buildVcsim({ sourceDir: sources, cacheDir: cache, logger: quiet })
    expect(rebuilt).toBe(probe)
    expect(existsSync(rebuilt)).toBe(true)
    expect(existsSync(`${probe}.lock`)).toBe(false)
    await rm(join(sources, 'extra.go'))
  }, 300_000)

  it('reports a build through the logger: what, where, and when it is done', async () => {
    await writeFile(
      join(sources, 'extra.go'),
      'package main\n\n// logged build\nconst extra = 3\n\nvar _ = extra\n',
    )
    const { logger, lines: logged } = recorder()
    const info = () => logged.filter((l) => l.level === 'info').map((l) => l.message)
    const binary = await buildVcsim({ sourceDir: sources, cacheDir: cache, logger })
    const lines = info()
    expect(lines[0]).toContain(`building ${binary} from ${sources}`)
    expect(lines.at(-1)).toMatch(/^vcsim harness: built in \d+ s$/)
    logged.length = 0
    await buildVcsim({ sourceDir: sources, cacheDir: cache, logger })
    expect(info()).toEqual([])
    await rm(join(sources, 'extra.go'))
  }, 300_000)
})
