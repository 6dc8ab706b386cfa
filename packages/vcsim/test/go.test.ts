import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { findToolchain, goEnv, run } from '../src/toolchain.js'

const TOOLS_VCSIM = fileURLToPath(new URL('../../../tools/vcsim', import.meta.url))

// The harness's behaviours (changeVersion, extraConfig, the emulated guest, fault injection) are
// tested in Go with govmomi's own client; this runs those tests so that CI counts them, and
// fails, never skips, when Go or govmomi is missing.
describe('tools/vcsim Go tests', () => {
  it('pass (go test, GOPATH mode, Debian govmomi)', async () => {
    const toolchain = await findToolchain()
    const result = await run(toolchain.go, ['test', '-count=1', '.'], {
      cwd: TOOLS_VCSIM,
      env: goEnv(toolchain.gopath),
    })
    const output = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => !line.startsWith('vcsim: ') && !/^\d{4}\/\d\d\/\d\d /.test(line))
      .join('\n')
    expect(result.code, output).toBe(0)
    expect(result.stdout).toMatch(/^ok\s/m)
  }, 600_000)
})
