import { createHash } from 'node:crypto'
import { constants, existsSync } from 'node:fs'
import { access, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CancelledError, type Logger, PortLayerError, UnavailableError } from '@portlayer/contracts'
import { log, stderrLogger } from './logger.js'
import { buildOptions } from './options.js'
import { defaultCacheDir, defaultSourceDir, fallbackCacheDir, writableCacheDir } from './paths.js'
import { findToolchain, goBuildCache, goEnv, run, type Toolchain } from './toolchain.js'

/** Where and how {@link buildVcsim} finds the sources, Go and govmomi, and caches the binary. */
export interface BuildOptions {
  /** The harness's Go sources. Default: {@link defaultSourceDir}. */
  sourceDir?: string
  /** GOPATH holding govmomi. Default: `PORTLAYER_VCSIM_GOPATH`, else `/usr/share/gocode`. */
  gopath?: string
  /**
   * Where binaries are cached. Default: {@link defaultCacheDir} (per user), falling back to the
   * temporary directory when that cannot be written.
   */
  cacheDir?: string
  /** Build progress (`info`) and the cache used (`debug`). Default: `info` and above to stderr. */
  logger?: Logger
  /**
   * Aborts waiting for the build (`CANCELLED`). The `go build` itself is stopped once no caller
   * waits for it any more.
   */
  signal?: AbortSignal
}

/** How long a build may take before another process waiting on its lock takes over. */
const STALE_LOCK_MS = 10 * 60_000
const LOCK_POLL_MS = 250
/** How often a running build says it is still running. */
const PROGRESS_MS = 15_000
/** Binaries of other sources are kept this long after their last use, at most KEEP_OTHERS of them. */
const KEEP_UNUSED_MS = 7 * 24 * 3_600_000
const KEEP_OTHERS = 4

const BINARY = /^vcsim-([0-9a-f]{16})-([0-9a-f]{8})$/

interface SharedBuild {
  readonly promise: Promise<string>
  readonly controller: AbortController
  waiters: number
  settled: boolean
}

// Builds in flight in this process, so that harnesses starting at once share one.
const building = new Map<string, SharedBuild>()

/**
 * Returns the path of a harness binary for the current sources, building it when needed.
 *
 * Binaries are cached per user (see {@link BuildOptions.cacheDir}) under a name made of a hash of
 * the Go sources (and platform) and a hash of the Go version and govmomi, so an edit or an upgrade
 * rebuilds and nothing is ever written next to the sources: a read-only `node_modules` works.
 * Without Go or govmomi, a binary cached for the same sources is used as it is. A lock file keeps
 * parallel processes (e.g. vitest workers) from building twice; the build writes to a temporary
 * file that is renamed into place, so no one runs a half-written one.
 * @throws UnavailableError when Go or govmomi is missing and nothing is cached, or the build fails.
 * @throws CancelledError when `signal` aborts first.
 */
export async function buildVcsim(options: BuildOptions = {}): Promise<string> {
  const opts = buildOptions(options)
  const logger = opts.logger ?? stderrLogger
  const { signal } = opts
  throwIfAborted(signal)
  const sourceDir = opts.sourceDir ?? defaultSourceDir()
  const key = await sourceKey(sourceDir)
  const lookIn =
    opts.cacheDir !== undefined ? [resolve(opts.cacheDir)] : [defaultCacheDir(), fallbackCacheDir()]

  let toolchain: Toolchain
  try {
    toolchain = await findToolchain(opts.gopath)
  } catch (e) {
    // A machine without Go still runs a binary built earlier for exactly these sources.
    const cached = await newestCached(lookIn, key)
    if (cached === undefined) throw e
    log(logger, 'debug', `vcsim harness: no Go toolchain; using ${cached}, cached for these sources`)
    await touch(cached)
    return cached
  }
  const name = `vcsim-${key}-${await toolKey(toolchain)}`
  for (const dir of lookIn) {
    const existing = join(dir, name)
    if (await isExecutable(existing)) {
      await touch(existing)
      return existing
    }
  }
  throwIfAborted(signal)
  const cacheDir = await writableCacheDir(opts.cacheDir, logger)
  const binary = join(cacheDir, name)
  return shared(binary, signal, (buildSignal) =>
    ensureBinary(sourceDir, binary, toolchain, logger, buildSignal),
  )
}

/** Joins (or starts) the in-process build of `binary`; the build is aborted when its last waiter leaves. */
async function shared(
  binary: string,
  signal: AbortSignal | undefined,
  start: (signal: AbortSignal) => Promise<string>,
): Promise<string> {
  let build = building.get(binary)
  if (!build) {
    const controller = new AbortController()
    const entry: SharedBuild = {
      controller,
      waiters: 0,
      settled: false,
      promise: start(controller.signal).finally(() => {
        entry.settled = true
        if (building.get(binary) === entry) building.delete(binary)
      }),
    }
    // Awaited by every waiter; an abandoned build's rejection has no one left to take it.
    entry.promise.catch(() => {})
    build = entry
    building.set(binary, entry)
  }
  const current = build
  current.waiters += 1
  try {
    return await abortable(current.promise, signal)
  } finally {
    current.waiters -= 1
    if (current.waiters === 0 && !current.settled) {
      building.delete(binary)
      current.controller.abort()
    }
  }
}

/** A hash of everything `go build` compiles, and of the platform: the first half of a binary's name. */
export async function sourceKey(sourceDir: string): Promise<string> {
  if (!existsSync(join(sourceDir, 'main.go'))) {
    throw new UnavailableError(
      `vcsim harness: Go sources not found in ${sourceDir} (set PORTLAYER_VCSIM_DIR to the harness's source directory)`,
      { backend: 'vcsim' },
    )
  }
  const hash = createHash('sha256')
  hash.update(`${process.platform}-${process.arch}\n`)
  // Go files and the assembly stub that permits go:linkname; tests are not compiled in.
  const files = (await readdir(sourceDir))
    .filter((f) => (f.endsWith('.go') && !f.endsWith('_test.go')) || f.endsWith('.s'))
    .sort()
  for (const file of files) {
    hash.update(`${file}\n`)
    hash.update(await readFile(join(sourceDir, file)))
  }
  return hash.digest('hex').slice(0, 16)
}

/** A hash of the Go version and the govmomi it builds against: the second half of a binary's name. */
export async function toolKey(toolchain: Toolchain): Promise<string> {
  const hash = createHash('sha256')
  hash.update(`${toolchain.version}\n`)
  // A govmomi upgrade must rebuild too; the simulator's main file stands for the package.
  for (const gopath of toolchain.gopath.split(':')) {
    const marker = join(gopath, 'src/github.com/vmware/govmomi/simulator/simulator.go')
    const s = await stat(marker).catch(() => undefined)
    if (s) hash.update(`${marker} ${s.size} ${s.mtimeMs}\n`)
  }
  return hash.digest('hex').slice(0, 8)
}

/** The most recently used binary built from sources with hash `key`, whatever Go built it. */
export async function newestCached(dirs: readonly string[], key: string): Promise<string | undefined> {
  let best: { path: string; mtimeMs: number } | undefined
  for (const dir of dirs) {
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (BINARY.exec(file)?.[1] !== key) continue
      const path = join(dir, file)
      if (!(await isExecutable(path))) continue
      const s = await stat(path)
      if (!best || s.mtimeMs > best.mtimeMs) best = { path, mtimeMs: s.mtimeMs }
    }
  }
  return best?.path
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const s = await stat(path)
    if (!s.isFile()) return false
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Marks a binary as used, for the clean-up of old ones; a read-only cache just keeps its times. */
async function touch(path: string): Promise<void> {
  const now = new Date()
  await utimes(path, now, now).catch(() => {})
}

async function ensureBinary(
  sourceDir: string,
  binary: string,
  toolchain: Toolchain,
  logger: Logger,
  signal: AbortSignal,
): Promise<string> {
  const lock = `${binary}.lock`
  let waitingSaid = false
  for (;;) {
    throwIfAborted(signal)
    if (existsSync(binary)) return binary
    const handle = await open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return undefined
      throw new UnavailableError(`vcsim harness: cannot create ${lock} (${e.code})`, {
        backend: 'vcsim',
        cause: e,
      })
    })
    if (handle) {
      try {
        await handle.writeFile(String(process.pid))
        await handle.close()
        if (!existsSync(binary)) await compile(sourceDir, binary, toolchain, logger, signal)
        await removeOldBinaries(binary)
        return binary
      } finally {
        await unlink(lock).catch(() => {})
      }
    }
    if (await lockIsStale(lock)) {
      await unlink(lock).catch(() => {})
      continue
    }
    if (!waitingSaid) {
      waitingSaid = true
      log(logger, 'info', `vcsim harness: waiting for another process that is building ${binary}`)
    }
    await sleep(LOCK_POLL_MS, signal)
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

async function compile(
  sourceDir: string,
  binary: string,
  toolchain: Toolchain,
  logger: Logger,
  signal: AbortSignal,
): Promise<void> {
  const temp = `${binary}.${process.pid}.${Date.now()}.tmp`
  const args = ['build', '-trimpath', '-o', temp, '.']
  const gocache = await goBuildCache(resolve(binary, '..'))
  const started = Date.now()
  log(
    logger,
    'info',
    `vcsim harness: building ${binary} from ${sourceDir} with ${toolchain.version} (about a minute the first time, then only when the sources change)`,
  )
  const progress = setInterval(() => {
    log(logger, 'info', `vcsim harness: still building (${Math.round((Date.now() - started) / 1000)} s)`)
  }, PROGRESS_MS)
  progress.unref()
  try {
    await mkdir(resolve(binary, '..'), { recursive: true })
    const result = await run(toolchain.go, args, {
      cwd: sourceDir,
      env: goEnv(toolchain.gopath, gocache),
      signal,
    }).catch((cause: unknown) => {
      if (signal.aborted)
        throw new CancelledError('vcsim harness: build cancelled', { backend: 'vcsim', cause })
      throw new UnavailableError(`vcsim harness: could not run ${toolchain.go}`, { backend: 'vcsim', cause })
    })
    if (result.code !== 0) {
      if (signal.aborted) throw new CancelledError('vcsim harness: build cancelled', { backend: 'vcsim' })
      const output = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-20).join('\n')
      throw new UnavailableError(
        `vcsim harness: \`go ${args.join(' ')}\` failed in ${sourceDir} (GO111MODULE=off GOPATH=${toolchain.gopath}):\n${output}`,
        { backend: 'vcsim' },
      )
    }
    await rename(temp, binary)
    log(logger, 'info', `vcsim harness: built in ${Math.round((Date.now() - started) / 1000)} s`)
  } finally {
    clearInterval(progress)
    await rm(temp, { force: true }).catch(() => {})
  }
}

/**
 * Best effort: binaries of other sources are kept a week after their last use (another checkout
 * or version of this package may still use them), at most four; leftovers of crashed builds go.
 */
async function removeOldBinaries(keep: string): Promise<void> {
  const dir = resolve(keep, '..')
  const others: { path: string; mtimeMs: number }[] = []
  for (const file of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, file)
    if (path === keep) continue
    const s = await stat(path).catch(() => undefined)
    if (!s) continue
    if (BINARY.test(file)) others.push({ path, mtimeMs: s.mtimeMs })
    else if (file.endsWith('.tmp') && Date.now() - s.mtimeMs > STALE_LOCK_MS)
      await rm(path, { force: true }).catch(() => {})
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs)
  for (const [i, other] of others.entries()) {
    if (i >= KEEP_OTHERS || Date.now() - other.mtimeMs > KEEP_UNUSED_MS)
      await rm(other.path, { force: true }).catch(() => {})
  }
}

/** Rejects with `CANCELLED` (cause: the signal's reason) when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new CancelledError('vcsim harness: cancelled', { backend: 'vcsim', cause: signal.reason })
  }
}

/** `promise`, or `CANCELLED` as soon as `signal` aborts (the work behind `promise` goes on). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  throwIfAborted(signal)
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () =>
      reject(new CancelledError('vcsim harness: cancelled', { backend: 'vcsim', cause: signal.reason }))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolvePromise(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return abortable(new Promise<void>((r) => setTimeout(r, ms)), signal)
}

/** Any error as a `PortLayerError`, so the harness never throws anything else. */
export function asPortLayerError(error: unknown, what: string): PortLayerError {
  if (PortLayerError.isInstance(error)) return error
  return new UnavailableError(`vcsim harness: ${what} failed`, { backend: 'vcsim', cause: error })
}
