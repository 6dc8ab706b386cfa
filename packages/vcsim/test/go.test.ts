import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { findToolchain, goEnv, run } from '../src/toolchain.js'

const TOOLS_VCSIM = fileURLToPath(new URL('../../../tools/vcsim', import.meta.url))
// The govmomi peer of `pnpm bench:vsphere`: its tests pin the command line and URLs it uses to
// the backend's, so the bench keeps comparing the same work.
const TOOLS_PEER = fileURLToPath(new URL('../../../tools/govmomi-peer', import.meta.url))

// The harness's behaviours (changeVersion, extraConfig, the emulated guest, paging, fault
// injection) are tested in Go with govmomi's own client. This runs `go test -json` once per Go
// package and reports every top-level Go test as a test of its own, so CI counts and names them;
// a missing Go or govmomi fails them, never skips them.
function goTestsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('_test.go'))
    .flatMap((f) =>
      [...readFileSync(join(dir, f), 'utf8').matchAll(/^func (Test\w+)\(\w+ \*testing\.T\)/gm)].map(
        (m) => m[1] as string,
      ),
    )
    .sort()
}

interface GoTestEvent {
  Action: string
  Test?: string
  Output?: string
}

interface GoRun {
  code: number
  results: Map<string, string>
  outputs: Map<string, string>
  stderr: string
}

function goSuite(name: string, dir: string, atLeast: number): void {
  const GO_TESTS = goTestsIn(dir)
  describe(`${name} Go tests (go test, GOPATH mode, Debian govmomi)`, () => {
    let goRun: GoRun | undefined
    let failure: unknown

    beforeAll(async () => {
      try {
        const toolchain = await findToolchain()
        const result = await run(toolchain.go, ['test', '-json', '-count=1', '.'], {
          cwd: dir,
          env: goEnv(toolchain.gopath),
        })
        const results = new Map<string, string>()
        const outputs = new Map<string, string>()
        for (const line of result.stdout.split('\n')) {
          if (!line.startsWith('{')) continue
          const event = JSON.parse(line) as GoTestEvent
          if (!event.Test) continue
          const top = event.Test.split('/')[0] as string
          if (event.Output) outputs.set(top, (outputs.get(top) ?? '') + event.Output)
          if (event.Test === top && ['pass', 'fail', 'skip'].includes(event.Action))
            results.set(top, event.Action)
        }
        goRun = { code: result.code ?? -1, results, outputs, stderr: result.stderr }
      } catch (e) {
        failure = e
      }
    }, 600_000)

    function finished(): GoRun {
      if (!goRun) throw failure ?? new Error('go test did not run')
      return goRun
    }

    it('finds the Go tests', () => {
      expect(GO_TESTS.length).toBeGreaterThanOrEqual(atLeast)
    })

    for (const name of GO_TESTS) {
      it(name, () => {
        const r = finished()
        const output = r.outputs.get(name) ?? r.stderr
        expect(r.results.get(name), output).toBe('pass')
      })
    }

    it('go test ran exactly these tests and passed as a whole', () => {
      const r = finished()
      expect([...r.results.keys()].sort()).toEqual(GO_TESTS)
      expect(r.code, r.stderr).toBe(0)
    })
  })
}

goSuite('tools/vcsim', TOOLS_VCSIM, 30)
goSuite('tools/govmomi-peer', TOOLS_PEER, 1)
