import { resolve } from 'node:path'
import { PortLayerError } from '@portlayer/contracts'
import { newestCached, sourceKey, throwIfAborted } from './build.js'
import { silentLogger } from './logger.js'
import { buildOptions } from './options.js'
import { defaultCacheDir, defaultSourceDir, fallbackCacheDir, writableCacheDir } from './paths.js'
import { findToolchain } from './toolchain.js'

/** Whether {@link startVcsim} can run here; when not, a one-line reason that says what to install. */
export type VcsimAvailability =
  | {
      /** `startVcsim()` can run here. */
      readonly available: true
    }
  | {
      /** `startVcsim()` would fail. */
      readonly available: false
      /** Why, in one line that names what to install or set. */
      readonly reason: string
    }

/** Options of {@link vcsimAvailable}: the same sources, Go and cache that `startVcsim` would use. */
export interface VcsimAvailableOptions {
  /** See {@link BuildOptions.sourceDir}. */
  sourceDir?: string
  /** See {@link BuildOptions.gopath}. */
  gopath?: string
  /** See {@link BuildOptions.cacheDir}. */
  cacheDir?: string
  /** Aborts the check (`CANCELLED`). */
  signal?: AbortSignal
}

/**
 * Tells a test suite whether to run or skip its vcsim tests, without building or starting
 * anything: available when a binary for the current sources is cached (Go is then not needed), or
 * when Go and govmomi are installed and a cache directory can be written.
 *
 * ```ts
 * const vcsim = await vcsimAvailable()
 * describe.skipIf(!vcsim.available)('on vcsim', () => { … })
 * ```
 * @throws InvalidArgumentError for a malformed option; CancelledError when `signal` aborts.
 */
export async function vcsimAvailable(options: VcsimAvailableOptions = {}): Promise<VcsimAvailability> {
  const opts = buildOptions(options)
  throwIfAborted(opts.signal)
  const sourceDir = opts.sourceDir ?? defaultSourceDir()
  try {
    const key = await sourceKey(sourceDir)
    const dirs =
      opts.cacheDir !== undefined ? [resolve(opts.cacheDir)] : [defaultCacheDir(), fallbackCacheDir()]
    if ((await newestCached(dirs, key)) !== undefined) return { available: true }
    await findToolchain(opts.gopath)
    await writableCacheDir(opts.cacheDir, silentLogger)
    throwIfAborted(opts.signal)
    return { available: true }
  } catch (e) {
    throwIfAborted(opts.signal)
    const reason = PortLayerError.isInstance(e) ? e.message : `vcsim harness: ${String(e)}`
    return { available: false, reason }
  }
}
