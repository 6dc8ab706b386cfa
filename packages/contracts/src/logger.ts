/**
 * Where a backend, a gateway or the vcsim harness reports what happens outside any call: the
 * shape of `console` and of pino's loggers, so either can be passed as is. Background failures
 * go to `warn`; messages never carry credentials.
 */
export interface Logger {
  /** What happens step by step (starts, stops, retries); usually dropped. */
  debug(message: string, ...details: unknown[]): void
  /** Progress worth seeing, e.g. a build that takes a while. */
  info(message: string, ...details: unknown[]): void
  /** A failure outside any call (a background task, a release), which no caller will see. */
  warn(message: string, ...details: unknown[]): void
  /** A failure that leaves the component unusable. */
  error(message: string, ...details: unknown[]): void
}

/** True when `value` has the four methods of a {@link Logger}. */
export function isLogger(value: unknown): value is Logger {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  try {
    const v = value as Record<string, unknown>
    return (
      typeof v.debug === 'function' &&
      typeof v.info === 'function' &&
      typeof v.warn === 'function' &&
      typeof v.error === 'function'
    )
  } catch {
    // A proxy that throws on access is not a logger.
    return false
  }
}
