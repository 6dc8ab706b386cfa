import {
  type CommitExtension,
  DEFAULT_OUTPUT_LIMIT_BYTES,
  describeValue,
  type HandleFactory,
  isLogger,
  type Logger,
  MAX_LIMITS,
  PortLayerError,
  type ResourceLimits,
} from '@portlayer/contracts'
import { invalidArgument } from './errors.js'
import { DEFAULT_EVENT_QUEUE_LIMIT } from './events.js'
import type { SimProgram } from './program-context.js'

/** Limits of a container that never had any set, or asked for `-1`: 2048 MiB and 2000 MHz. */
export const DEFAULT_LIMITS: Readonly<ResourceLimits> = Object.freeze({ memoryMb: 2048, cpuMhz: 2000 })

/** How long a stop waits after SIGTERM before SIGKILL: 10 s of simulator time. */
export const DEFAULT_STOP_GRACE_PERIOD_MS = 10_000

/** How many exited exec'd processes each container keeps listed: 64. */
export const DEFAULT_MAX_EXITED_EXECS = 64

/**
 * Options of `createSimulator`; every one is optional. They are read once, into a copy, when the
 * simulator is made: changing the object later changes nothing. A malformed option (wrong type,
 * out of range, a getter that throws) makes `createSimulator` throw `INVALID_ARGUMENT`. Times
 * are in simulator milliseconds, which follow the wall clock unless `clock` is `'virtual'`.
 */
export interface SimulatorOptions {
  /** `'real'` (default) follows the wall clock; `'virtual'` moves only with `sim.clock.advance`. */
  clock?: 'real' | 'virtual'
  /** Start time of a virtual clock; default: the wall clock when the simulator is made. */
  startTime?: Date | number
  /** Makes every handle; default a `BasicHandleFactory`. The simulator never builds handles itself. */
  handleFactory?: HandleFactory
  /** Limits of containers without explicit ones (and for `-1`); default {@link DEFAULT_LIMITS}. */
  defaultLimits?: Partial<ResourceLimits>
  /** Time between SIGTERM and SIGKILL when stopping; default {@link DEFAULT_STOP_GRACE_PERIOD_MS}. */
  stopGracePeriodMs?: number
  /**
   * How many exited exec'd processes each container keeps in `execdProcs` (config and state);
   * when one more exits, the one that finished first is forgotten. Running ones are always kept.
   * A positive integer; default {@link DEFAULT_MAX_EXITED_EXECS}.
   */
  maxExitedExecs?: number
  /**
   * A deadline for every port-layer call, in simulator milliseconds (like latency and grace
   * periods, so a virtual clock must be advanced past it). A call still waiting when it passes
   * (on injected latency, another container's stop, an extension's `prepare`) fails with
   * `TIMEOUT` and applies nothing; a commit whose stop is already under way instead finishes it
   * at once (see the README). `0` (the default) means no deadline. A call that never waits never
   * times out.
   */
  callTimeoutMs?: number
  /** Programs to register at once, by absolute path. */
  programs?: Readonly<Record<string, SimProgram>>
  /**
   * Told of failures that must not fail the call they happen in: an extension's `release` that
   * threw on destroy, a plan's `commit` or `rollback` hook that threw. Default: `logger.warn`.
   */
  onBackgroundError?: (error: PortLayerError) => void
  /**
   * Where background failures go when `onBackgroundError` is not given (`warn`); the shape of
   * `console` and pino. Default `console`.
   */
  logger?: Logger
  /**
   * How many bytes of each output stream (stdout, stderr) a process keeps for `readOutput`: the
   * last ones; older bytes are dropped and reported as `dropped`. Default 1 MiB
   * (`DEFAULT_OUTPUT_LIMIT_BYTES` of `@portlayer/contracts`).
   */
  outputLimitBytes?: number
  /**
   * How many events an `events()` stream buffers for a reader that does not keep up. When one
   * more arrives, the buffered ones are dropped and the stream yields a `resync` event instead
   * (re-list to catch up). Default {@link DEFAULT_EVENT_QUEUE_LIMIT}.
   */
  eventQueueLimit?: number
  /** Commit extensions to register at once. */
  // biome-ignore lint/suspicious/noExplicitAny: extensions of any slot type are accepted
  extensions?: readonly CommitExtension<any>[]
}

const FACTORY_METHODS = [
  'newId',
  'create',
  'forVersion',
  'withChange',
  'withFile',
  'withExtension',
  'getExtension',
  'assertHandle',
] as const

const DATE_GET_TIME = Date.prototype.getTime

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks the shape of `createSimulator`'s options, so a wrong one fails there with
 * INVALID_ARGUMENT rather than as a TypeError at some later call. Each option is read once, into
 * a plain copy (a getter or proxy trap that throws is INVALID_ARGUMENT too). Values are checked by
 * the resolvers below and by the registries they feed.
 */
export function checkOptions(options: unknown): SimulatorOptions {
  try {
    return checkShape(copyOptions(options))
  } catch (e) {
    if (PortLayerError.isInstance(e)) throw e
    throw invalidArgument('options could not be read (a getter or proxy trap threw)', undefined, e)
  }
}

function copyOptions(options: unknown): SimulatorOptions {
  if (!isPlainRecord(options))
    throw invalidArgument(`options must be an object, got ${describeValue(options)}`)
  const o = options as SimulatorOptions
  const limits = o.defaultLimits
  const programs = o.programs
  const extensions = o.extensions
  return {
    clock: o.clock,
    startTime: o.startTime,
    handleFactory: o.handleFactory,
    defaultLimits: isPlainRecord(limits) ? { memoryMb: limits.memoryMb, cpuMhz: limits.cpuMhz } : limits,
    stopGracePeriodMs: o.stopGracePeriodMs,
    maxExitedExecs: o.maxExitedExecs,
    callTimeoutMs: o.callTimeoutMs,
    programs: isPlainRecord(programs) ? Object.fromEntries(Object.entries(programs)) : programs,
    extensions: Array.isArray(extensions) ? Array.from(extensions) : extensions,
    onBackgroundError: o.onBackgroundError,
    logger: o.logger,
    outputLimitBytes: o.outputLimitBytes,
    eventQueueLimit: o.eventQueueLimit,
  }
}

function checkShape(o: SimulatorOptions): SimulatorOptions {
  if (o.clock !== undefined && o.clock !== 'real' && o.clock !== 'virtual') {
    throw invalidArgument(`clock must be 'real' or 'virtual', got ${describeValue(o.clock)}`)
  }
  if (o.programs !== undefined && !isPlainRecord(o.programs)) {
    throw invalidArgument('programs must be an object of programs by path')
  }
  if (o.extensions !== undefined && !Array.isArray(o.extensions)) {
    throw invalidArgument('extensions must be an array of commit extensions')
  }
  if (o.onBackgroundError !== undefined && typeof o.onBackgroundError !== 'function') {
    throw invalidArgument(`onBackgroundError must be a function, got ${describeValue(o.onBackgroundError)}`)
  }
  if (o.logger !== undefined && !isLogger(o.logger)) {
    throw invalidArgument('logger must have debug, info, warn and error methods')
  }
  if (o.defaultLimits !== undefined && !isPlainRecord(o.defaultLimits)) {
    throw invalidArgument('defaultLimits must be an object with memoryMb and/or cpuMhz')
  }
  if (o.handleFactory !== undefined) {
    const f = o.handleFactory as unknown as Record<string, unknown> | null
    const missing = FACTORY_METHODS.filter((m) => typeof f?.[m] !== 'function')
    if (missing.length > 0) {
      throw invalidArgument(`handleFactory is not a HandleFactory: it lacks ${missing.join(', ')}`)
    }
  }
  return o
}

export function resolveLimits(given: Partial<ResourceLimits> | undefined): Readonly<ResourceLimits> {
  const limits = {
    memoryMb: given?.memoryMb ?? DEFAULT_LIMITS.memoryMb,
    cpuMhz: given?.cpuMhz ?? DEFAULT_LIMITS.cpuMhz,
  }
  for (const key of ['memoryMb', 'cpuMhz'] as const) {
    const v = limits[key]
    if (!Number.isInteger(v) || v <= 0 || v > MAX_LIMITS[key]) {
      throw invalidArgument(
        `defaultLimits.${key} must be a positive integer up to ${MAX_LIMITS[key]}, got ${describeValue(v)}`,
      )
    }
  }
  return Object.freeze(limits)
}

export function resolveGrace(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_STOP_GRACE_PERIOD_MS
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw invalidArgument(`stopGracePeriodMs must be a finite number ≥ 0, got ${describeValue(ms)}`)
  }
  return ms
}

export function resolveCallTimeout(ms: number | undefined): number {
  if (ms === undefined) return 0
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw invalidArgument(`callTimeoutMs must be a finite number ≥ 0, got ${describeValue(ms)}`)
  }
  return ms
}

/** A positive safe integer up to `max`, or `fallback` when not given. */
export function resolveCount(n: number | undefined, what: string, fallback: number, max: number): number {
  if (n === undefined) return fallback
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw invalidArgument(`${what} must be a positive integer up to ${max}, got ${describeValue(n)}`)
  }
  return n
}

export function resolveOutputLimit(n: number | undefined): number {
  return resolveCount(n, 'outputLimitBytes', DEFAULT_OUTPUT_LIMIT_BYTES, 1024 * 1024 * 1024)
}

export function resolveEventQueueLimit(n: number | undefined): number {
  return resolveCount(n, 'eventQueueLimit', DEFAULT_EVENT_QUEUE_LIMIT, 100_000_000)
}

/**
 * Where background failures go: `onBackgroundError` when given, else one line to `logger.warn`
 * (default `console`). A reporter that throws never breaks the work that reported.
 */
export function resolveBackgroundReporter(
  onBackgroundError: ((error: PortLayerError) => void) | undefined,
  logger: Logger | undefined,
): (error: PortLayerError) => void {
  if (onBackgroundError !== undefined) return onBackgroundError
  const log = logger ?? console
  return (error) => {
    try {
      log.warn(`portlayer simulator: background work failed: ${error.code}: ${error.message}`, error)
    } catch {
      // A logger that throws must not turn a background failure into a failed call.
    }
  }
}

export function resolveMaxExitedExecs(n: number | undefined): number {
  if (n === undefined) return DEFAULT_MAX_EXITED_EXECS
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw invalidArgument(`maxExitedExecs must be a positive integer, got ${describeValue(n)}`)
  }
  return n
}

export function resolveStart(start: Date | number | undefined): number {
  if (start === undefined) return Date.now()
  let ms: unknown = start
  if (typeof start === 'object' && start !== null) {
    try {
      // The built-in reads the internal slot: a look-alike or proxy is refused, never called.
      ms = DATE_GET_TIME.call(start)
    } catch {
      ms = undefined
    }
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw invalidArgument(`startTime must be a valid Date or number, got ${describeValue(start)}`)
  return ms
}
