import type { ExtensibleBackend, HandleFactory, Interaction, PortLayer } from '@portlayer/contracts'

/** What `describeConformance` runs against: one backend, made fresh (or reused) for each test. */
export interface ConformanceBackend {
  /**
   * The port layer under test; extension tests use registerExtension/getExtensionState when
   * present. The interaction tests need `events`, `waitForExit` and `readOutput` (every backend
   * has them; a test fails, naming the method, when one is missing), and the disposal tests its
   * `close()` and `Symbol.asyncDispose`.
   */
  portLayer: PortLayer & Partial<Interaction> & Partial<ExtensibleBackend>
  /** Lets `ms` of backend time pass: a virtual clock advances it; a real backend waits. */
  advance(ms: number): Promise<void>
  /** Called after each test. */
  close?(): Promise<void>
  /**
   * What the backend reported as background failures (its `onBackgroundError` or logger) since
   * it was made. When given, the extension tests check that a failing `release` is reported.
   */
  backgroundErrors?(): readonly unknown[]
  /**
   * A second client of the same backend (the same containers), as another process would connect
   * to it: for the test that events caused by another client are reported. The suite does not
   * close it (closing one client of a simulator closes its world); close it in `close`. Without
   * it that test is skipped.
   */
  otherClient?(): Promise<PortLayer>
}

/** Tuning for slow backends. */
export interface ConformanceOptions {
  /** Per-test (and per-hook) timeout in real milliseconds. Default 20,000. */
  timeoutMs?: number
  /** How much backend time `eventually` lets pass between checks. Default 50. */
  pollMs?: number
  /**
   * How the suite puts a value into a handle's extension slot. By default it copies the handle
   * as plain data with the slot added, which suits any factory whose handles are plain data
   * (such as `BasicHandleFactory`); pass the backend's factory when its handles are not.
   */
  handleFactory?: Pick<HandleFactory, 'withExtension'>
  /**
   * The backend's bound on kept records of exited exec'd processes per container, as it was
   * configured for the backends `createBackend` makes. A small one keeps the test short, but not
   * below 4: other tests expect to find up to 4 exec'd processes in one container. The suite
   * cannot find the bound out, so the test of it is skipped when it is not given.
   */
  maxExitedExecs?: number
  /**
   * The backend's `outputLimitBytes` (bytes of each output stream kept per process) as it was
   * configured for the backends `createBackend` makes. A small one keeps the test short, but not
   * below 1,024: other tests read up to 512 bytes of one stream. The suite cannot find the bound
   * out, so the test of `dropped` is skipped when it is not given.
   */
  outputLimitBytes?: number
}

/** The options with every default filled in. */
export interface ResolvedOptions {
  readonly timeoutMs: number
  readonly pollMs: number
  /** The deadline `eventually` gives a condition, in backend and in real milliseconds. */
  readonly waitMs: number
  readonly handleFactory: Pick<HandleFactory, 'withExtension'> | undefined
  readonly maxExitedExecs: number | undefined
  readonly outputLimitBytes: number | undefined
}

export function resolveOptions(options: ConformanceOptions = {}): ResolvedOptions {
  const timeoutMs = positive(options.timeoutMs, 20_000, 'timeoutMs')
  const pollMs = positive(options.pollMs, 50, 'pollMs')
  return {
    timeoutMs,
    pollMs,
    // Half the test's budget, so a condition that never holds fails with eventually's message
    // (what was awaited, the last value seen) instead of a bare test timeout.
    waitMs: Math.max(pollMs, Math.floor(timeoutMs / 2)),
    handleFactory: options.handleFactory,
    maxExitedExecs: bound(options.maxExitedExecs, 'maxExitedExecs', 1),
    outputLimitBytes: bound(options.outputLimitBytes, 'outputLimitBytes', 1024),
  }
}

function bound(value: number | undefined, what: string, least: number): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || value < least) {
    throw new TypeError(`describeConformance: options.${what} must be an integer ≥ ${least}, got ${value}`)
  }
  return value
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`describeConformance: options.${what} must be a positive number, got ${value}`)
  }
  return value
}
