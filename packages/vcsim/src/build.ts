import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UnavailableError } from '@portlayer/contracts'
import { findToolchain, goEnv, run, type Toolchain } from './toolchain.js'

export interface BuildOptions {
  /** The harness's Go sources. Default: `PORTLAYER_VCSIM_DIR`, else `tools/vcsim` of this repository. */
  sourceDir?: string
  /** GOPATH holding govmomi. Default: `PORTLAYER_VCSIM_GOPATH`, else `/usr/share/gocode`. */
  gopath?: string
}

/** How long a build may take before another process waiting on its lock takes over. */
const STALE_LOCK_MS = 10 * 60_000
const LOCK_POLL_MS = 250

// Builds in flight in this process, so that harnesses starting at once share one.
const building = new Map<string, Promise<string>>()

/** Finds the harness's Go sources: tools/vcsim next to this package in the repository. */
export function defaultSourceDir(): string {
  if (process.env.PORTLAYER_VCSIM_DIR) return resolve(process.env.PORTLAYER_VCSIM_DIR)
  // src/ and dist/ are both two levels below the package root, which is packages/vcsim.
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../tools/vcsim')
}

/**
 * Returns the path of an up-to-date harness binary, building it when missing or stale. The binary
 * is cached under `<sourceDir>/bin/`, keyed by a hash of the Go sources and the Go version; a
 * lock file keeps parallel processes (e.g. vitest workers) from building it twice, and the
 * build writes to a temporary file that is renamed into place, so no one runs a half-written one.
 * @throws UnavailableError when Go or govmomi is missing, or the build fails.
 */
export async function buildVcsim(options: BuildOptions = {}): Promise<string> {
  const sourceDir = options.sourceDir ? resolve(options.sourceDir) : defaultSourceDir()
  if (!existsSync(join(sourceDir, 'main.go'))) {
    throw new UnavailableError(
      `vcsim harness: Go sources not found in ${sourceDir} (set PORTLAYER_VCSIM_DIR to the tools/vcsim directory)`,
      { backend: 'vcsim' },
    )
  }
  const toolchain = await findToolchain(options.gopath)
  const hash = await sourceHash(sourceDir, toolchain)
  const binary = join(sourceDir, 'bin', `vcsim-${hash}`)
  let pending = building.get(binary)
  if (!pending) {
    pending = ensureBinary(sourceDir, binary, toolchain).finally(() => building.delete(binary))
    building.set(binary, pending)
  }
  return pending
}

async function sourceHash(sourceDir: string, toolchain: Toolchain): Promise<string> {
  const hash = createHash('sha256')
  hash.update(`${toolchain.version}\n${process.platform}-${process.arch}\n`)
  // Everything `go build` compiles: Go files and the assembly stub that permits go:linkname.
  const files = (await readdir(sourceDir))
    .filter((f) => (f.endsWith('.go') && !f.endsWith('_test.go')) || f.endsWith('.s'))
    .sort()
  for (const file of files) {
    hash.update(`${file}\n`)
    hash.update(await readFile(join(sourceDir, file)))
  }
  // A govmomi upgrade must rebuild too; the simulator's main file stands for the package.
  for (const gopath of toolchain.gopath.split(':')) {
    const marker = join(gopath, 'src/github.com/vmware/govmomi/simulator/simulator.go')
    if (existsSync(marker)) {
      const s = await stat(marker)
      hash.update(`${marker} ${s.size} ${s.mtimeMs}\n`)
    }
  }
  return hash.digest('hex').slice(0, 16)
}

async function ensureBinary(sourceDir: string, binary: string, toolchain: Toolchain): Promise<string> {
  await mkdir(dirname(binary), { recursive: true })
  const lock = `${binary}.lock`
  for (;;) {
    if (existsSync(binary)) return binary
    const handle = await open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return undefined
      throw e
    })
    if (handle) {
      try {
        await handle.writeFile(String(process.pid))
        await handle.close()
        if (!existsSync(binary)) await compile(sourceDir, binary, toolchain)
        await removeOldBinaries(dirname(binary), binary)
        return binary
      } finally {
        await unlink(lock).catch(() => {})
      }
    }
    if (await lockIsStale(lock)) {
      await unlink(lock).catch(() => {})
      continue
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS))
  }
}

async function lockIsStale(lock: string): Promise<boolean> {
  try {
    const [content, s] = await Promise.all([readFile(lock, 'utf8'), stat(lock)])
    if (Date.now() - s.mtimeMs > STALE_LOCK_MS) return true
    const pid = Number(content)
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - s.mtimeMs > 5_000
    process.kill(pid, 0)
    return false
  } catch (e) {
    // ESRCH: its owner died mid-build. ENOENT: it was released meanwhile (retry at once).
    return (e as NodeJS.ErrnoException).code === 'ESRCH' || (e as NodeJS.ErrnoException).code === 'ENOENT'
  }
}

async function compile(sourceDir: string, binary: string, toolchain: Toolchain): Promise<void> {
  const temp = `${binary}.${process.pid}.${Date.now()}.tmp`
  const args = ['build', '-trimpath', '-o', temp, '.']
  const result = await run(toolchain.go, args, { cwd: sourceDir, env: goEnv(toolchain.gopath) }).catch(
    (cause: unknown) => {
      throw new UnavailableError(`vcsim harness: could not run ${toolchain.go}`, { backend: 'vcsim', cause })
    },
  )
  if (result.code !== 0) {
    await rm(temp, { force: true })
    const output = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-20).join('\n')
    throw new UnavailableError(
      `vcsim harness: \`go ${args.join(' ')}\` failed in ${sourceDir} (GO111MODULE=off GOPATH=${toolchain.gopath}):\n${output}`,
      { backend: 'vcsim' },
    )
  }
  await rename(temp, binary)
}

/** Best effort: binaries of older sources are never used again, nor are leftovers of crashed builds. */
async function removeOldBinaries(binDir: string, keep: string): Promise<void> {
  for (const file of await readdir(binDir).catch(() => [] as string[])) {
    const path = join(binDir, file)
    if (path !== keep && /^vcsim-[0-9a-f]{16}$/.test(file)) await rm(path, { force: true }).catch(() => {})
    if (file.endsWith('.tmp')) {
      const s = await stat(path).catch(() => undefined)
      if (s && Date.now() - s.mtimeMs > STALE_LOCK_MS) await rm(path, { force: true }).catch(() => {})
    }
  }
}
