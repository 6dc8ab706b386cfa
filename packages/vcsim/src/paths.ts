import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { lstat, mkdir, open, unlink } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Logger, UnavailableError } from '@portlayer/contracts'
import { log } from './logger.js'

/** This package's root: src/ (tests) and dist/ (everything else) are both one level below it. */
function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..')
}

/**
 * Where the harness's Go sources are: `PORTLAYER_VCSIM_DIR` when set; inside the portlayer
 * repository its `tools/vcsim`; otherwise the copy this package ships in `dist/harness`.
 */
export function defaultSourceDir(): string {
  if (process.env.PORTLAYER_VCSIM_DIR) return resolve(process.env.PORTLAYER_VCSIM_DIR)
  const root = packageRoot()
  // In the repository the sources under tools/ are the ones being edited; dist/harness is only a
  // copy made by the last build.
  const repo = resolve(root, '../..')
  const tools = join(repo, 'tools/vcsim')
  if (existsSync(join(repo, 'pnpm-workspace.yaml')) && existsSync(join(tools, 'main.go'))) return tools
  return join(root, 'dist/harness')
}

/**
 * The per-user cache the harness binary is built into: `PORTLAYER_VCSIM_CACHE_DIR` when set,
 * else `$XDG_CACHE_HOME/portlayer/vcsim`, else `~/.cache/portlayer/vcsim`. Where that cannot be
 * written (a read-only or missing home), {@link buildVcsim} falls back to
 * `<tmpdir>/portlayer-<uid>/vcsim`.
 */
export function defaultCacheDir(): string {
  if (process.env.PORTLAYER_VCSIM_CACHE_DIR) return resolve(process.env.PORTLAYER_VCSIM_CACHE_DIR)
  const xdg = process.env.XDG_CACHE_HOME
  // The XDG spec says a relative value is to be ignored.
  if (xdg && isAbsolute(xdg)) return join(xdg, 'portlayer', 'vcsim')
  return join(homedir(), '.cache', 'portlayer', 'vcsim')
}

/** The fallback of {@link defaultCacheDir}: one directory per user under the temporary directory. */
export function fallbackCacheDir(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : 'user'
  return join(tmpdir(), `portlayer-${user}`, 'vcsim')
}

/** True when files can be created in `dir` (created first when missing). */
async function writable(dir: string): Promise<true | string> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    // access(W_OK) says yes to root on a read-only mount; creating a file is the real test.
    const probe = join(dir, `.probe-${process.pid}-${randomBytes(6).toString('hex')}`)
    const handle = await open(probe, 'wx')
    await handle.close()
    await unlink(probe)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e)
  }
}

/**
 * A cache directory this process can write: `preferred` (an explicit option: it or an error),
 * else {@link defaultCacheDir}, else {@link fallbackCacheDir}.
 * @throws UnavailableError when none can be written.
 */
export async function writableCacheDir(preferred: string | undefined, logger: Logger): Promise<string> {
  if (preferred !== undefined) {
    const dir = resolve(preferred)
    const ok = await writable(dir)
    if (ok === true) return dir
    throw new UnavailableError(`vcsim harness: cache directory ${dir} cannot be written (${ok})`, {
      backend: 'vcsim',
    })
  }
  const dir = defaultCacheDir()
  const ok = await writable(dir)
  if (ok === true) return dir
  const fallback = fallbackCacheDir()
  const second = await writable(fallback)
  if (second === true && (await ownedPrivately(fallback))) {
    log(logger, 'info', `vcsim harness: ${dir} cannot be written (${ok}); caching in ${fallback}`)
    return fallback
  }
  throw new UnavailableError(
    `vcsim harness: no writable cache directory (${dir}: ${ok}; ${fallback}: ${second === true ? 'not owned by this user' : second}); set PORTLAYER_VCSIM_CACHE_DIR`,
    { backend: 'vcsim' },
  )
}

/**
 * The shared temporary directory is writable by everyone, so a directory there is used only when
 * this user owns it and no one else may write into it: otherwise another user could plant the
 * binary that tests run.
 */
async function ownedPrivately(dir: string): Promise<boolean> {
  if (typeof process.getuid !== 'function') return true
  const uid = process.getuid()
  for (const path of [dir, dirname(dir)]) {
    const s = await lstat(path).catch(() => undefined)
    if (!s?.isDirectory() || s.uid !== uid || (s.mode & 0o022) !== 0) return false
  }
  return true
}
