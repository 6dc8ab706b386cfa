import { describeValue, InvalidArgumentError } from '@portlayer/contracts'

/** The simulator's clock as tests see it. */
export interface SimClock {
  /** `real` follows the wall clock; `virtual` moves only when `advance` is called. */
  readonly kind: 'real' | 'virtual'
  /** The current simulator time. */
  now(): Date
  /**
   * Lets `ms` milliseconds pass. On a virtual clock it runs every timer that falls due, in time
   * order (letting promise callbacks settle after each), then sets the time and resolves. On the
   * real clock it simply waits. Calls are queued, never interleaved.
   * @throws InvalidArgumentError unless `ms` is a finite number ≥ 0.
   */
  advance(ms: number): Promise<void>
  /** How many timers (sleeps, grace periods, latencies) are scheduled and not yet run. */
  pendingTimers(): number
}

/** The clock as the simulator uses it internally. */
export interface InternalClock extends SimClock {
  nowMs(): number
  setTimer(ms: number, fn: () => void): unknown
  clearTimer(timer: unknown): void
  /** Cancels every timer, and arms none from now on (the simulator was closed). */
  close(): void
}

function checkMs(ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new InvalidArgumentError(`advance(ms) needs a finite number ≥ 0, got ${describeValue(ms)}`, {
      backend: 'simulator',
    })
  }
}

/** Lets every queued promise callback run before the next timer fires. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

// setTimeout's longest delay (about 24.8 days); Node fires a longer one after 1 ms instead.
const MAX_TIMEOUT_MS = 2 ** 31 - 1

class RealTimer {
  timeout: NodeJS.Timeout | null = null
  constructor(readonly fn: () => void) {}
}

export class RealClock implements InternalClock {
  readonly kind = 'real'
  private readonly timers = new Set<RealTimer>()
  private closed = false

  now(): Date {
    return new Date()
  }
  nowMs(): number {
    return Date.now()
  }
  setTimer(ms: number, fn: () => void): unknown {
    const t = new RealTimer(fn)
    if (!this.closed) {
      this.timers.add(t)
      this.arm(t, ms)
    }
    return t
  }
  private arm(t: RealTimer, ms: number): void {
    if (ms > MAX_TIMEOUT_MS) {
      t.timeout = setTimeout(() => this.arm(t, ms - MAX_TIMEOUT_MS), MAX_TIMEOUT_MS)
      return
    }
    t.timeout = setTimeout(() => {
      this.timers.delete(t)
      t.fn()
    }, ms)
  }
  clearTimer(timer: unknown): void {
    const t = timer as RealTimer
    if (t.timeout !== null && this.timers.delete(t)) clearTimeout(t.timeout)
  }
  close(): void {
    this.closed = true
    for (const t of this.timers) if (t.timeout !== null) clearTimeout(t.timeout)
    this.timers.clear()
  }
  pendingTimers(): number {
    return this.timers.size
  }
  async advance(ms: number): Promise<void> {
    checkMs(ms)
    let left = ms
    do {
      const step = Math.min(left, MAX_TIMEOUT_MS)
      await new Promise((resolve) => setTimeout(resolve, step))
      left -= step
    } while (left > 0)
  }
}

class VirtualTimer {
  done = false
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fn: () => void,
  ) {}
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** A clock that only moves when told to; timers run in (time, creation) order. */
export class VirtualClock implements InternalClock {
  readonly kind = 'virtual'
  private t: number
  private seq = 0
  private live = 0
  /** Cancelled timers still in the heap (removed lazily). */
  private dead = 0
  private heap: VirtualTimer[] = []
  private queue: Promise<void> = Promise.resolve()
  private closed = false

  constructor(start: number) {
    this.t = start
  }

  now(): Date {
    return new Date(this.t)
  }
  nowMs(): number {
    return this.t
  }
  setTimer(ms: number, fn: () => void): unknown {
    const timer = new VirtualTimer(this.t + Math.max(0, ms), this.seq++, fn)
    if (this.closed) {
      timer.done = true
      return timer
    }
    this.push(timer)
    this.live++
    return timer
  }
  clearTimer(timer: unknown): void {
    const t = timer as VirtualTimer
    if (!t.done) {
      t.done = true
      this.live--
      // Keep a heap of mostly-cancelled timers (e.g. sleeps that were killed) from growing.
      if (++this.dead > 1024 && this.dead * 2 > this.heap.length) this.compact()
    }
  }
  close(): void {
    this.closed = true
    for (const t of this.heap) t.done = true
    this.heap = []
    this.live = 0
    this.dead = 0
  }
  pendingTimers(): number {
    return this.live
  }

  advance(ms: number): Promise<void> {
    checkMs(ms)
    const run = this.queue.then(() => this.run(ms))
    this.queue = run.catch(() => undefined)
    return run
  }

  private async run(ms: number): Promise<void> {
    const target = this.t + ms
    let failure: unknown
    await settle()
    for (;;) {
      const next = this.heap[0]
      if (next === undefined || next.at > target) break
      this.pop()
      if (next.done) {
        this.dead--
        continue
      }
      next.done = true
      this.live--
      if (next.at > this.t) this.t = next.at
      try {
        next.fn()
      } catch (e) {
        failure ??= e
      }
      await settle()
    }
    if (target > this.t) this.t = target
    await settle()
    if (failure !== undefined) throw failure
  }

  private compact(): void {
    // A sorted array is a valid binary heap.
    this.heap = this.heap.filter((t) => !t.done).sort((a, b) => (before(a, b) ? -1 : 1))
    this.dead = 0
  }

  private push(timer: VirtualTimer): void {
    const h = this.heap
    let i = h.length
    h.push(timer)
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = h[parent] as VirtualTimer
      if (!before(timer, p)) break
      h[i] = p
      i = parent
    }
    h[i] = timer
  }

  private pop(): void {
    const h = this.heap
    const last = h.pop() as VirtualTimer
    if (h.length === 0) return
    let i = 0
    const n = h.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && before(h[r] as VirtualTimer, h[l] as VirtualTimer) ? r : l
      const c = h[child] as VirtualTimer
      if (!before(c, last)) break
      h[i] = c
      i = child
    }
    h[i] = last
  }
}
