import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import {
  CancelledError,
  type Logger,
  type PortLayerError,
  TimeoutError,
  UnavailableError,
} from '@portlayer/contracts'
import { createAdmin, type VcsimAdmin } from './admin.js'
import { asPortLayerError, type BuildOptions, buildVcsim } from './build.js'
import { log, stderrLogger } from './logger.js'
import { startOptions } from './options.js'

/** Options of {@link startVcsim}; those of {@link BuildOptions} choose the sources, Go and the cache. */
export interface StartVcsimOptions extends BuildOptions {
  /** Serve HTTPS with a freshly generated self-signed certificate. Default: false. */
  tls?: boolean
  /**
   * How long exited guest processes stay in `ListProcessesInGuest`, in ms. Default: 300000
   * (about what vSphere keeps); 0 keeps them until the VM powers off.
   */
  exitedProcessRetentionMs?: number
  /** Deadline for building (when needed) and starting the harness (`TIMEOUT` past it). Default: 300000 ms. */
  timeoutMs?: number
  /**
   * Aborts building and starting (`CANCELLED`, with the signal's reason as `cause`); a harness
   * already started is not affected (stop it with `stop()`).
   */
  signal?: AbortSignal
  /**
   * Build progress, starts and stops (`debug`), and a harness that exits unexpectedly (`warn`).
   * A `Logger` (`console` and pino fit). Default: `info` and above to stderr.
   */
  logger?: Logger
}

/** Credentials that guest operations accept (`NamePasswordAuthentication`). */
export interface GuestCredentials {
  /** The guest user (`root`). */
  readonly username: string
  /** The guest password, fresh for every harness. */
  readonly password: string
}

/** A running vcsim harness. */
export interface Vcsim {
  /** The SOAP endpoint, e.g. `http://127.0.0.1:PORT/sdk` (`https` with `tls`). */
  readonly url: string
  /** The SOAP user name (`administrator@vsphere.local`). */
  readonly username: string
  /** The SOAP password, fresh for every harness. */
  readonly password: string
  /** SHA-256 thumbprint of the server certificate, `AB:CD:…` (with `tls` only). */
  readonly thumbprint?: string
  /** The server certificate in PEM, usable as a custom CA (with `tls` only). */
  readonly certificatePem?: string
  /** Credentials that guest operations accept. */
  readonly guest: GuestCredentials
  /** The loopback-only admin endpoint (plain HTTP). */
  readonly adminUrl: string
  /** Fault injection and counters. */
  readonly admin: VcsimAdmin
  /** The harness process ID. */
  readonly pid: number
  /** Stops the harness and waits for it to exit; idempotent. */
  stop(): Promise<void>
  /** The same as {@link Vcsim.stop}. */
  close(): Promise<void>
  /** The same as {@link Vcsim.stop}, for `await using vc = await startVcsim()`. */
  [Symbol.asyncDispose](): Promise<void>
}

interface ReadyLine {
  url: string
  username: string
  password: string
  thumbprint?: string
  certificatePem?: string
  guest: GuestCredentials
  adminUrl: string
}

const STOP_GRACE_MS = 5_000
const STDERR_KEEP = 16_384

// Killed synchronously if this process exits without stopping them; a harness whose parent dies
// uncleanly exits on its own when its stdin closes.
const live = new Set<ChildProcessWithoutNullStreams>()
let exitHookInstalled = false

/**
 * Builds the harness when needed (see {@link buildVcsim}), starts it on a free loopback port and
 * resolves once it serves.
 * @throws UnavailableError when Go or govmomi is missing (and no binary is cached for these
 * sources), the build fails, or the harness exits before it serves.
 * @throws TimeoutError when building and starting take longer than `timeoutMs`.
 * @throws CancelledError when `signal` aborts first.
 * @throws InvalidArgumentError for a malformed option.
 */
export async function startVcsim(options: StartVcsimOptions = {}): Promise<Vcsim> {
  const opts = startOptions(options)
  const logger = opts.logger ?? stderrLogger
  const userSignal = opts.signal
  // One signal for both steps: the caller's abort or the deadline, told apart afterwards.
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), opts.timeoutMs)
  const signal = userSignal ? AbortSignal.any([userSignal, deadline.signal]) : deadline.signal
  const failure = (e: unknown, what: string): PortLayerError => {
    if (userSignal?.aborted)
      return new CancelledError(`vcsim harness: ${what} cancelled`, {
        backend: 'vcsim',
        cause: userSignal.reason,
      })
    if (deadline.signal.aborted)
      return new TimeoutError(`vcsim harness: ${what} took longer than ${opts.timeoutMs} ms`, {
        backend: 'vcsim',
        detail: { timeoutMs: opts.timeoutMs },
      })
    return asPortLayerError(e, what)
  }
  try {
    let binary: string
    try {
      binary = await buildVcsim({ ...opts, logger, signal })
    } catch (e) {
      throw failure(e, 'building the vcsim harness')
    }
    try {
      return await spawnHarness(binary, opts, logger, signal)
    } catch (e) {
      throw failure(e, 'starting the vcsim harness')
    }
  } finally {
    clearTimeout(timer)
  }
}

async function spawnHarness(
  binary: string,
  opts: ReturnType<typeof startOptions>,
  logger: Logger,
  signal: AbortSignal,
): Promise<Vcsim> {
  if (signal.aborted) throw new CancelledError('vcsim harness: cancelled', { backend: 'vcsim' })
  const args: string[] = []
  if (opts.tls) args.push('-tls')
  if (opts.exitedProcessRetentionMs !== undefined) {
    args.push(`-exited-retention=${opts.exitedProcessRetentionMs}ms`)
  }
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  installExitHook()
  live.add(child)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP)
  })
  // The pipe may break when the harness dies first; that is reported through 'exit'.
  child.stdin.on('error', () => {})

  let stopRequested = false
  let ready: ReadyLine | undefined
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, sig) => {
      live.delete(child)
      if (!stopRequested && ready !== undefined) {
        // Tests waiting on this harness will see connections refused; say why here.
        const tail = stderr.trim().split('\n').slice(-5).join('\n')
        log(
          logger,
          'warn',
          `vcsim harness (pid ${child.pid}) exited unexpectedly (${sig ?? `code ${code}`})${tail ? `:\n${tail}` : ''}`,
        )
      }
      resolve(code ?? (sig ? -1 : null))
    })
  })

  const onAbort = () => child.kill('SIGKILL')
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    ready = await readReadyLine(child, exited, () => stderr)
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  if (signal.aborted) {
    child.kill('SIGKILL')
    throw new CancelledError('vcsim harness: cancelled', { backend: 'vcsim' })
  }
  // From here on the harness must not keep this process alive: tests stop it, and if they do
  // not, its stdin closes when this process exits and it exits too.
  child.unref()
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    ;(stream as unknown as { unref?: () => void }).unref?.()
  }
  log(logger, 'debug', `vcsim harness: pid ${child.pid} serves ${ready.url} (${binary})`)

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      stopRequested = true
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end()
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
        await exited
        clearTimeout(timer)
        log(logger, 'debug', `vcsim harness: pid ${child.pid} stopped`)
      }
    })()
    return stopping
  }

  return {
    url: ready.url,
    username: ready.username,
    password: ready.password,
    ...(ready.thumbprint === undefined ? {} : { thumbprint: ready.thumbprint }),
    ...(ready.certificatePem === undefined ? {} : { certificatePem: ready.certificatePem }),
    guest: ready.guest,
    adminUrl: ready.adminUrl,
    admin: createAdmin(ready.adminUrl),
    pid: child.pid as number,
    stop,
    close: stop,
    [Symbol.asyncDispose]: stop,
  }
}

function readReadyLine(
  child: ChildProcessWithoutNullStreams,
  exited: Promise<number | null>,
  stderr: () => string,
): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    let done = false
    lines.once('line', (line) => {
      done = true
      try {
        const parsed = JSON.parse(line) as ReadyLine
        if (typeof parsed.url !== 'string' || typeof parsed.adminUrl !== 'string')
          throw new Error('missing url')
        resolve(parsed)
      } catch (cause) {
        reject(
          new UnavailableError(`vcsim harness printed an unreadable start line: ${line}`, {
            backend: 'vcsim',
            cause,
          }),
        )
      }
      // Keep draining stdout so the harness never blocks on a full pipe.
      child.stdout.resume()
    })
    child.once('error', (cause) => {
      if (!done)
        reject(new UnavailableError('vcsim harness could not be started', { backend: 'vcsim', cause }))
    })
    void exited.then((code) => {
      if (!done) {
        reject(
          new UnavailableError(
            `vcsim harness exited (code ${code}) before it was ready:\n${stderr().trim()}`,
            {
              backend: 'vcsim',
            },
          ),
        )
      }
    })
  })
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    // SIGTERM, not SIGKILL: the harness removes its temporary datastore directories on the way out.
    for (const child of live) child.kill('SIGTERM')
  })
}
