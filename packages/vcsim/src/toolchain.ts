import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { UnavailableError } from '@portlayer/contracts'

/** The Debian packages that provide Go and govmomi's source for the harness build. */
export const DEBIAN_PACKAGES = ['golang-go', 'golang-github-vmware-govmomi-dev'] as const

/** Where Debian's golang-github-vmware-govmomi-dev puts its GOPATH. */
export const DEFAULT_GOPATH = '/usr/share/gocode'

const INSTALL_HINT = `install the Debian packages ${DEBIAN_PACKAGES.join(' and ')} (\`pnpm vcsim:setup\` as root, or \`apt-get install -y ${DEBIAN_PACKAGES.join(' ')}\`)`

export interface Toolchain {
  /** The `go` executable. */
  readonly go: string
  /** `go version` output, part of the build cache key. */
  readonly version: string
  /** A GOPATH that holds github.com/vmware/govmomi. */
  readonly gopath: string
}

export interface ProcessResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion, collecting its output; rejects only when it cannot be started. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * Finds Go and govmomi's source, or fails with an `UNAVAILABLE` error that names the Debian
 * packages to install.
 */
export async function findToolchain(
  gopath = process.env.PORTLAYER_VCSIM_GOPATH ?? DEFAULT_GOPATH,
): Promise<Toolchain> {
  const go = process.env.PORTLAYER_VCSIM_GO ?? 'go'
  let result: ProcessResult
  try {
    result = await run(go, ['version'], { env: goEnv(gopath) })
  } catch (cause) {
    throw new UnavailableError(`vcsim harness: Go (\`${go}\`) was not found: ${INSTALL_HINT}`, {
      backend: 'vcsim',
      cause,
    })
  }
  if (result.code !== 0) {
    throw new UnavailableError(
      `vcsim harness: \`${go} version\` failed (${result.stderr.trim()}): ${INSTALL_HINT}`,
      {
        backend: 'vcsim',
      },
    )
  }
  const simulatorDir = join(gopath.split(':')[0] ?? gopath, 'src/github.com/vmware/govmomi/simulator')
  if (!gopath.split(':').some((p) => existsSync(join(p, 'src/github.com/vmware/govmomi/simulator')))) {
    throw new UnavailableError(
      `vcsim harness: govmomi's simulator source was not found at ${simulatorDir}: ${INSTALL_HINT}`,
      { backend: 'vcsim' },
    )
  }
  return { go, version: result.stdout.trim(), gopath }
}

/** The environment of every Go invocation: GOPATH mode, Debian's sources only, no downloads. */
export function goEnv(gopath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: gopath,
    GOPROXY: 'off',
    GOFLAGS: '-buildvcs=false',
  }
  // Go refuses to run without a build cache location.
  if (!env.GOCACHE && !env.XDG_CACHE_HOME && !env.HOME)
    env.GOCACHE = join(process.cwd(), '.vcsim-cache', 'go-build')
  return env
}
