/**
 * Where a backend, a gateway or the vcsim harness reports what happens outside any call: the
 * shape of `console` and of pino's loggers, so either can be passed as is. Background failures
 * go to `warn`; messages never carry credentials.
 */
export interface Logger {
  debug(message: string, ...details: unknown[]): void
  info(message: string, ...details: unknown[]): void
  warn(message: string, ...details: unknown[]): void
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
