import { describeValue, type ErrorCode, isErrorCode } from '@portlayer/contracts'
import type { Call } from './call.js'
import type { InternalClock } from './clock.js'
import { closed, injected, invalidArgument } from './errors.js'

/** The operations faults can be injected into: every port-layer call. */
export const SIM_OPERATIONS = [
  'createContainer',
  'getHandle',
  'copyTo',
  'setEntryPoint',
  'setLimits',
  'setRunState',
  'commit',
  'destroyContainer',
  'listContainers',
  'getContainerConfig',
  'getContainerState',
  'copyFrom',
  'execProcess',
  'signal',
  'getExtensionState',
  'waitForExit',
  'readOutput',
] as const
/**
 * The name of one port-layer operation of the simulator (an element of {@link SIM_OPERATIONS}):
 * what `faults.failNext` and `faults.setLatency` target, and what an injected error names.
 */
export type SimOperation = (typeof SIM_OPERATIONS)[number]

/** `'*'` stands for every operation. */
export type FaultTarget = SimOperation | '*'

/**
 * Fault injection. Injected faults act when a call begins, before validation, and change nothing:
 * latency first (on the simulator clock, so a virtual clock must be advanced), then failure.
 */
export interface SimFaults {
  /**
   * The next `count` calls of `operation` fail with `code` (a `PortLayerError` with
   * `detail.injected === true`). Adds to any failures already armed for it.
   */
  failNext(operation: FaultTarget, count?: number, code?: ErrorCode): void
  /**
   * Every call of `operation` first waits `ms` (plus a random extra up to `jitterMs`) of
   * simulator time. `0` removes the latency. A specific operation's latency overrides `'*'`.
   */
  setLatency(operation: FaultTarget, ms: number, jitterMs?: number): void
  /** Removes armed failures and latency of `operation`, or of everything. */
  clear(operation?: FaultTarget): void
}

const OPERATIONS: ReadonlySet<string> = new Set([...SIM_OPERATIONS, '*'])

interface Latency {
  ms: number
  jitterMs: number
}

/**
 * The gate every port-layer call passes when it begins: injected latency and failures, and after
 * `close()` the UNAVAILABLE failure of a closed simulator.
 */
export class Faults implements SimFaults {
  /** True while anything is armed or the simulator is closed; the hot path tests only this. */
  armed = false
  closed = false
  private readonly failures = new Map<string, Array<{ code: ErrorCode; left: number }>>()
  private readonly latency = new Map<string, Latency>()
  /** Calls waiting on latency; close() cancels their timers, so it must fail them itself. */
  private readonly waiting = new Set<() => void>()

  constructor(private readonly clock: InternalClock) {}

  close(): void {
    this.closed = true
    this.armed = true
    for (const fail of this.waiting) fail()
    this.waiting.clear()
  }

  /** For a call resuming after an await: it must not go on once the simulator is closed. */
  checkOpen(operation: SimOperation, target: string | undefined): void {
    if (this.closed) throw closed(operation, target)
  }

  failNext(operation: FaultTarget, count = 1, code: ErrorCode = 'UNAVAILABLE'): void {
    checkOperation(operation)
    if (!Number.isInteger(count) || count < 1)
      throw invalidArgument(`count must be a positive integer, got ${describeValue(count)}`)
    if (!isErrorCode(code))
      throw invalidArgument(`code must be a portlayer error code, got ${describeValue(code)}`)
    const list = this.failures.get(operation) ?? []
    list.push({ code, left: count })
    this.failures.set(operation, list)
    this.armed = true
  }

  setLatency(operation: FaultTarget, ms: number, jitterMs = 0): void {
    checkOperation(operation)
    for (const [what, v] of [
      ['ms', ms],
      ['jitterMs', jitterMs],
    ] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw invalidArgument(`${what} must be a finite number ≥ 0, got ${describeValue(v)}`)
    }
    if (ms === 0 && jitterMs === 0) this.latency.delete(operation)
    else this.latency.set(operation, { ms, jitterMs })
    this.rearm()
  }

  clear(operation?: FaultTarget): void {
    if (operation === undefined) {
      this.failures.clear()
      this.latency.clear()
    } else {
      checkOperation(operation)
      this.failures.delete(operation)
      this.latency.delete(operation)
    }
    this.rearm()
  }

  /**
   * Applies latency and armed failures to one call of `operation`. Latency ends early, with
   * nothing applied, when the call is aborted or its deadline passes.
   */
  async enter(operation: SimOperation, target: string | undefined, call?: Call): Promise<void> {
    this.checkOpen(operation, target)
    const lat = this.latency.get(operation) ?? this.latency.get('*')
    if (lat !== undefined) {
      const ms = lat.ms + (lat.jitterMs > 0 ? Math.random() * lat.jitterMs : 0)
      await new Promise<void>((resolve, reject) => {
        let unwatch = noop
        const fail = (): void => {
          unwatch()
          reject(closed(operation, target))
        }
        this.waiting.add(fail)
        const timer = this.clock.setTimer(ms, () => {
          this.waiting.delete(fail)
          unwatch()
          resolve()
        })
        if (call !== undefined) {
          unwatch = call.watch((error) => {
            this.waiting.delete(fail)
            this.clock.clearTimer(timer)
            reject(error)
          })
        }
      })
      this.checkOpen(operation, target)
    }
    const code = this.take(operation) ?? this.take('*')
    if (code !== undefined) throw injected(code, operation, target)
  }

  private take(key: string): ErrorCode | undefined {
    const list = this.failures.get(key)
    const first = list?.[0]
    if (list === undefined || first === undefined) return undefined
    if (--first.left === 0) list.shift()
    if (list.length === 0) {
      this.failures.delete(key)
      this.rearm()
    }
    return first.code
  }

  private rearm(): void {
    this.armed = this.closed || this.failures.size > 0 || this.latency.size > 0
  }
}

function noop(): void {}

function checkOperation(operation: string): void {
  if (!OPERATIONS.has(operation)) {
    throw invalidArgument(
      `unknown operation ${describeValue(operation)}; one of ${[...OPERATIONS].join(', ')}`,
    )
  }
}
