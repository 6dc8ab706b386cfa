import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildVcsim, startVcsim, vcsimAvailable } from '../src/index.js'
import { silent } from './loggers.js'

// These hold whether or not Go is installed here: Go is replaced by a path that does not exist
// or by a script that only answers `go version`, and the cache is empty.
describe('a missing toolchain', () => {
  const saved = process.env.PORTLAYER_VCSIM_GO
  let dir: string
  let emptyCache: string
  let versionOnlyGo: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vcsim-toolchain-'))
    emptyCache = join(dir, 'cache')
    versionOnlyGo = join(dir, 'go')
    await writeFile(versionOnlyGo, '#!/bin/sh\necho "go version go1.19.8 linux/amd64"\n')
    await chmod(versionOnlyGo, 0o755)
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.PORTLAYER_VCSIM_GO
    else process.env.PORTLAYER_VCSIM_GO = saved
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('without Go and nothing cached: UNAVAILABLE naming the Debian packages and the setup command', async () => {
    process.env.PORTLAYER_VCSIM_GO = '/nonexistent/bin/go'
    const error = await startVcsim({ cacheDir: emptyCache, logger: silent }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toMatch(/golang-go.*golang-github-vmware-govmomi-dev/)
    expect((error as Error).message).toContain('pnpm vcsim:setup')
    expect((error as Error).message).toContain('npx portlayer-vcsim setup')
  })

  it('without govmomi: UNAVAILABLE naming the Debian packages', async () => {
    process.env.PORTLAYER_VCSIM_GO = versionOnlyGo
    const error = await buildVcsim({
      gopath: '/nonexistent/gocode',
      cacheDir: emptyCache,
      logger: silent,
    }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toMatch(/govmomi.*not found.*golang-github-vmware-govmomi-dev/)
  })

  it('without the harness sources: UNAVAILABLE naming the directory', async () => {
    const error = await buildVcsim({ sourceDir: '/nonexistent/tools/vcsim', logger: silent }).catch(
      (e: unknown) => e,
    )
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toContain('/nonexistent/tools/vcsim')
  })

  it('vcsimAvailable() says why not, in the words of the error startVcsim() would give', async () => {
    process.env.PORTLAYER_VCSIM_GO = '/nonexistent/bin/go'
    const result = await vcsimAvailable({ cacheDir: emptyCache })
    expect(result.available).toBe(false)
    if (result.available) return
    expect(result.reason).toMatch(
      /^vcsim harness: Go .* was not found: install the Debian packages golang-go/,
    )
    expect(result.reason).not.toContain('\n')

    process.env.PORTLAYER_VCSIM_GO = versionOnlyGo
    const noGovmomi = await vcsimAvailable({ cacheDir: emptyCache, gopath: '/nonexistent/gocode' })
    expect(noGovmomi).toMatchObject({ available: false, reason: expect.stringContaining('govmomi') })

    const noSources = await vcsimAvailable({ sourceDir: '/nonexistent/tools/vcsim' })
    expect(noSources).toMatchObject({
      available: false,
      reason: expect.stringContaining('/nonexistent/tools/vcsim'),
    })
  })
})
