import { spawn } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { type Logger, UnavailableError } from '@portlayer/contracts'
import { log } from './logger.js'
import { DEBIAN_PACKAGES, findToolchain, type Toolchain } from './toolchain.js'

/** Options of {@link provisionToolchain}. */
export interface ProvisionOptions {
  /** GOPATH holding govmomi (see `BuildOptions.gopath`). */
  gopath?: string
  logger: Logger
  /** The command a user runs as root to install the toolchain, named when this process cannot. */
  setupCommand: string
}

/** Whether an executable named `name` is on PATH. */
async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const ok = await access(join(dir, name), constants.X_OK).then(
      () => true,
      () => false,
    )
    if (ok) return true
  }
  return false
}

/**
 * Finds Go and govmomi, installing Debian's packages with apt-get when they are missing and this
 * process runs as root on a machine with apt-get.
 * @throws UnavailableError whose message is one line naming what to run, when they are missing
 * and cannot be installed from here, or the installation fails.
 */
export async function provisionToolchain(options: ProvisionOptions): Promise<Toolchain> {
  const { logger } = options
  try {
    return await findToolchain(options.gopath)
  } catch {
    // Missing: install below when this process may.
  }
  const packages = DEBIAN_PACKAGES.join(' ')
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root) {
    throw new UnavailableError(
      `vcsim harness: Go or govmomi is missing and this user cannot install them: run \`sudo apt-get install -y ${packages}\` (or \`${options.setupCommand}\` as root)`,
      { backend: 'vcsim' },
    )
  }
  if (!(await onPath('apt-get'))) {
    throw new UnavailableError(
      `vcsim harness: Go or govmomi is missing and there is no apt-get: install Go (≥ 1.19) and govmomi 0.24's source into a GOPATH, then set PORTLAYER_VCSIM_GOPATH to it`,
      { backend: 'vcsim' },
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...DEBIAN_PACKAGES]]) {
    log(logger, 'info', `vcsim harness: apt-get ${args.join(' ')}`)
    const { code, output } = await runQuietly('apt-get', args, env)
    if (code !== 0) {
      const tail = output.trim().split('\n').slice(-5).join(' | ')
      throw new UnavailableError(
        `vcsim harness: apt-get ${args[0]} failed (exit ${code}): ${tail}; install ${packages} by hand`,
        { backend: 'vcsim' },
      )
    }
  }
  return findToolchain(options.gopath)
}

function runQuietly(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-8_192)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.once('error', (e) => resolve({ code: -1, output: String(e) }))
    child.once('close', (code) => resolve({ code, output }))
  })
}
