import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { UnavailableError } from '@portlayer/contracts'
import { createAdmin, type VcsimAdmin } from './admin.js'
import { type BuildOptions, buildVcsim } from './build.js'

export interface StartVcsimOptions extends BuildOptions {
  /** Serve HTTPS with a freshly generated self-signed certificate. Default: false. */
  tls?: boolean
  /**
   * How long exited guest processes stay in `ListProcessesInGuest`, in ms. Default: 300000
   * (about what vSphere keeps); 0 keeps them until the VM powers off.
   */
  exitedProcessRetentionMs?: number
  /** Deadline for building (when needed) and starting the harness. Default: 300000 ms. */
  timeoutMs?: number
}

/** Credentials that guest operations accept (`NamePasswordAuthentication`). */
export interface GuestCredentials {
  readonly username: string
  readonly password: string
}

/** A running vcsim harness. */
export interface Vcsim {
  /** The SOAP endpoint, e.g. `http://127.0.0.1:PORT/sdk` (`https` with `tls`). */
  readonly url: string
  readonly username: string
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
 * @throws UnavailableError when Go or govmomi is missing, the build fails, or the harness does
 * not start in time.
 */
export async function startVcsim(options: StartVcsimOptions = {}): Promise<Vcsim> {
  const timeoutMs = options.timeoutMs ?? 300_000
  const deadline = Date.now() + timeoutMs
  const binary = await withDeadline(buildVcsim(options), timeoutMs, 'building the vcsim harness')
  const args: string[] = []
  if (options.tls) args.push('-tls')
  if (options.exitedProcessRetentionMs !== undefined) {
    args.push(`-exited-retention=${Math.max(0, Math.floor(options.exitedProcessRetentionMs))}ms`)
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

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child)
      resolve(code ?? (signal ? -1 : null))
    })
  })

  let ready: ReadyLine
  try {
    ready = await withDeadline(
      readReadyLine(child, exited, () => stderr),
      Math.max(1, deadline - Date.now()),
      'starting the vcsim harness',
    )
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  // From here on the harness must not keep this process alive: tests stop it, and if they do
  // not, its stdin closes when this process exits and it exits too.
  child.unref()
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    ;(stream as unknown as { unref?: () => void }).unref?.()
  }

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end()
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
        await exited
        clearTimeout(timer)
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

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UnavailableError(`vcsim harness: ${what} took longer than ${ms} ms`, { backend: 'vcsim' }),
        ),
      ms,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    // SIGTERM, not SIGKILL: the harness removes its temporary datastore directories on the way out.
    for (const child of live) child.kill('SIGTERM')
  })
}
