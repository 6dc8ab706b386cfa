import {
  type CommitExtension,
  type HandleFactory,
  MAX_LIMITS,
  type ResourceLimits,
} from '@portlayer/contracts'
import { invalidArgument } from './errors.js'
import type { SimProgram } from './program-context.js'

/** Limits of a container that never had any set, or asked for `-1`: 2048 MiB and 2000 MHz. */
export const DEFAULT_LIMITS: Readonly<ResourceLimits> = Object.freeze({ memoryMb: 2048, cpuMhz: 2000 })

/** How long a stop waits after SIGTERM before SIGKILL: 10 s of simulator time. */
export const DEFAULT_STOP_GRACE_PERIOD_MS = 10_000

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
  /** Programs to register at once, by absolute path. */
  programs?: Readonly<Record<string, SimProgram>>
  /** Commit extensions to register at once. */
  // biome-ignore lint/suspicious/noExplicitAny: extensions of any slot type are accepted
  extensions?: readonly CommitExtension<any>[]
}

export function resolveLimits(given: Partial<ResourceLimits> | undefined): Readonly<ResourceLimits> {
  const limits = { ...DEFAULT_LIMITS, ...given }
  for (const key of ['memoryMb', 'cpuMhz'] as const) {
    const v = limits[key]
    if (!Number.isInteger(v) || v <= 0 || v > MAX_LIMITS[key]) {
      throw invalidArgument(
        `defaultLimits.${key} must be a positive integer up to ${MAX_LIMITS[key]}, got ${v}`,
      )
    }
  }
  return Object.freeze(limits)
}

export function resolveGrace(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_STOP_GRACE_PERIOD_MS
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw invalidArgument(`stopGracePeriodMs must be a finite number ≥ 0, got ${String(ms)}`)
  }
  return ms
}

export function resolveStart(start: Date | number | undefined): number {
  if (start === undefined) return Date.now()
  const ms = start instanceof Date ? start.getTime() : start
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw invalidArgument('startTime must be a valid Date or number')
  return ms
}
