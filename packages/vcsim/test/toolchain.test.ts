import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { afterEach, describe, expect, it } from 'vitest'
import { buildVcsim, startVcsim } from '../src/index.js'

describe('a missing toolchain', () => {
  const saved = process.env.PORTLAYER_VCSIM_GO
  afterEach(() => {
    if (saved === undefined) delete process.env.PORTLAYER_VCSIM_GO
    else process.env.PORTLAYER_VCSIM_GO = saved
  })

  it('without Go: UNAVAILABLE naming the Debian packages', async () => {
    process.env.PORTLAYER_VCSIM_GO = '/nonexistent/bin/go'
    const error = await startVcsim().catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toMatch(/golang-go.*golang-github-vmware-govmomi-dev/)
    expect((error as Error).message).toContain('pnpm vcsim:setup')
  })

  it('without govmomi: UNAVAILABLE naming the Debian packages', async () => {
    const error = await buildVcsim({ gopath: '/nonexistent/gocode' }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toMatch(/govmomi.*not found.*golang-github-vmware-govmomi-dev/)
  })

  it('without the harness sources: UNAVAILABLE naming the directory', async () => {
    const error = await buildVcsim({ sourceDir: '/nonexistent/tools/vcsim' }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Unavailable)).toBe(true)
    expect((error as Error).message).toContain('/nonexistent/tools/vcsim')
  })
})
