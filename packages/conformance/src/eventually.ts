/** How {@link eventually} waits. */
export interface EventuallyOptions {
  /**
   * Lets `ms` of backend time pass between checks: pass the backend's `advance` for a virtual
   * clock. Default: a real `setTimeout` wait.
   */
  advance?: (ms: number) => Promise<void>
  /** Time let pass between checks. Default 50. */
  pollMs?: number
  /**
   * Give up once this much time has been let pass through `advance`, or this much real time has
   * gone by, whichever comes first. Default 5,000.
   */
  timeoutMs?: number
  /** What is awaited, for the error message. */
  message?: string
}

/** A condition's result once it holds. */
export type Held<T> = Exclude<T, false | null | undefined>

const realWait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Checks `condition` until it holds, letting backend time pass between checks, and resolves with
 * its result. The condition holds when it returns anything but `false`, `null` or `undefined`
 * without throwing; a thrown error (e.g. a failed `expect`) means "not yet" and is reported as
 * the cause if the deadline passes.
 *
 * The first check runs at once, so a condition that already holds costs one call.
 */
export async function eventually<T>(
  condition: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Held<T>> {
  const advance = options.advance ?? realWait
  const pollMs = options.pollMs ?? 50
  const timeoutMs = options.timeoutMs ?? 5_000
  const startedAt = Date.now()
  let advanced = 0
  let checks = 0
  let last: { error: unknown } | { value: unknown } = { value: undefined }
  for (;;) {
    checks++
    try {
      const value = await condition()
      if (value !== false && value !== null && value !== undefined) return value as Held<T>
      last = { value }
    } catch (error) {
      last = { error }
    }
    if (advanced >= timeoutMs || Date.now() - startedAt >= timeoutMs) break
    await advance(pollMs)
    advanced += pollMs
  }
  const what = options.message ?? 'condition'
  const detail =
    'error' in last ? `last error: ${errorText(last.error)}` : `last result: ${String(last.value)}`
  throw new Error(
    `eventually: ${what} did not hold after ${checks} checks (${advanced} ms of backend time, ` +
      `${Date.now() - startedAt} ms real); ${detail}`,
    'error' in last ? { cause: last.error } : undefined,
  )
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
