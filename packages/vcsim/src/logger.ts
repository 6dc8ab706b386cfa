import type { Logger } from '@portlayer/contracts'

/**
 * The logger used when none is given: `info`, `warn` and `error` go to stderr, `debug` nowhere, so
 * a one-minute build is never silent.
 */
export const stderrLogger: Logger = {
  debug: () => {},
  info: (message) => process.stderr.write(`${message}\n`),
  warn: (message) => process.stderr.write(`${message}\n`),
  error: (message) => process.stderr.write(`${message}\n`),
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

/** Calls one method of a user's logger; a logger that throws never breaks the harness. */
export function log(logger: Logger, level: keyof Logger, message: string): void {
  try {
    logger[level](message)
  } catch {
    // A broken logger loses its message, nothing else.
  }
}
