import { spawn } from 'node:child_process'
import { constants, existsSync } from 'node:fs'
import { access, mkdir } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { UnavailableError } from '@portlayer/contracts'

/** The Debian packages that provide Go and govmomi's source for the harness build. */
export const DEBIAN_PACKAGES = ['golang-go', 'golang-github-vmware-govmomi-dev'] as const

/** Where Debian's golang-github-vmware-govmomi-dev puts its GOPATH. */
export const DEFAULT_GOPATH = '/usr/share/gocode'

/** What to do about a missing toolchain, for messages. */
export const INSTALL_HINT = `install the Debian packages ${DEBIAN_PACKAGES.join(' and ')} (as root: \`npx portlayer-vcsim setup\`, in the portlayer repository \`pnpm vcsim:setup\`; or \`apt-get install -y ${DEBIAN_PACKAGES.join(' ')}\`)`

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
  options: { cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    // With `signal`, an abort kills the command and rejects with an AbortError.
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

/**
 * The environment of every Go invocation: GOPATH mode, Debian's sources only, no downloads.
 * `gocache` is Go's build cache when Go's own default cannot be used.
 */
export function goEnv(gopath: string, gocache?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: gopath,
    GOPROXY: 'off',
    GOFLAGS: '-buildvcs=false',
  }
  if (gocache !== undefined) env.GOCACHE = gocache
  return env
}

/**
 * Go's build cache for a build whose binary goes to `cacheDir`: `GOCACHE` when set, else Go's
 * default (`$XDG_CACHE_HOME/go-build` or `~/.cache/go-build`, shared with the user's other Go
 * builds) when it can be written, else `<cacheDir>/go-build` (a home that cannot be written).
 */
export async function goBuildCache(cacheDir: string): Promise<string | undefined> {
  if (process.env.GOCACHE) return undefined
  const xdg = process.env.XDG_CACHE_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : process.env.HOME ? join(process.env.HOME, '.cache') : undefined
  if (base !== undefined) {
    const dir = join(base, 'go-build')
    const ok = await mkdir(dir, { recursive: true })
      .then(() => access(dir, constants.W_OK))
      .then(
        () => true,
        () => false,
      )
    if (ok) return undefined
  }
  return join(cacheDir, 'go-build')
}
