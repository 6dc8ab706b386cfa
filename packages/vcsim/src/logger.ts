/**
 * Where the harness reports what it does: the shape of `console` and of a pino logger, with every
 * method optional (a missing one drops its messages; `{}` is silent).
 *
 * - `debug`: each start and stop, the binary used, the cache directory chosen.
 * - `info`: build progress (a cold build takes about a minute), a cache directory that had to
 *   fall back to the temporary directory.
 * - `warn`: a harness that exited while nobody had stopped it, with the end of its stderr.
 */
export interface VcsimLogger {
  debug?(message: string): void
  info?(message: string): void
  warn?(message: string): void
  error?(message: string): void
}

/**
 * The logger used when none is given: `info`, `warn` and `error` go to stderr, `debug` nowhere, so
 * a one-minute build is never silent.
 */
export const stderrLogger: VcsimLogger = {
  info: (message) => process.stderr.write(`${message}\n`),
  warn: (message) => process.stderr.write(`${message}\n`),
  error: (message) => process.stderr.write(`${message}\n`),
}

/** Calls one method of a user's logger; a logger that throws never breaks the harness. */
export function log(logger: VcsimLogger, level: keyof VcsimLogger, message: string): void {
  try {
    logger[level]?.(message)
  } catch {
    // A broken logger loses its message, nothing else.
  }
}
