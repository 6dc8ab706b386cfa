import { describeValue, type ID, type OutputStreamName } from '@portlayer/contracts'
import { invalidArgument } from './errors.js'
import { FsView, type SimFileSystem } from './fs.js'
import { STDERR, STDOUT, type StreamIndex } from './output.js'
import { type Proc, STARTED } from './records.js'

/** What a registered program sees of its process. */
export interface ProgramContext {
  readonly containerId: ID
  readonly processId: ID
  /** The guest pid, unique within the container. */
  readonly pid: number
  readonly execPath: string
  /** `execArgs` split the POSIX-shell way. */
  readonly args: readonly string[]
  readonly workDir: string
  /** True for the container's main process. */
  readonly isMain: boolean
  /** The container's file system; relative paths resolve against `workDir`. */
  readonly fs: SimFileSystem
  /** True until the process exits (by itself, by `exit`, or by a signal). */
  readonly running: boolean
  /** Simulator time. */
  now(): Date
  /** Resolves after `ms` of simulator time; never resolves if the process ends first. */
  sleep(ms: number): Promise<void>
  /**
   * Ends the process with `code` (0–255) and an optional exit message. Does nothing once the
   * process has ended.
   */
  exit(code?: number, message?: string): void
  /**
   * Handles signals from now on instead of the default (exit with 128 + n); `null` restores the
   * default. SIGKILL (9) always ends the process.
   */
  onSignal(handler: ((signal: number) => void) | null): void
  /** A promise that never settles: `return ctx.forever()` keeps a program running until signalled. */
  forever(): Promise<never>
  /**
   * Writes `data` (text is written as UTF-8) to the process's stdout, or to `stream`: what
   * `readOutput` returns. Does nothing once the process has ended.
   * @throws InvalidArgumentError unless `data` is a string or a Uint8Array and `stream` is
   * `'stdout'` or `'stderr'`.
   */
  write(data: string | Uint8Array, stream?: OutputStreamName): void
}

/**
 * A program the simulator can run beside the built-ins. `run` starts it: the process exits with
 * the number it returns or resolves to (0 for none), with 1 and the error's message if it throws
 * or rejects, or earlier through `ctx.exit` or a signal. `onSignal`, when present, receives every
 * signal but SIGKILL instead of the default action (use `() => {}` to ignore SIGTERM).
 */
export interface ProgramDefinition {
  /**
   * Runs the program in a new process. The exit code is what it returns or resolves to (0 for
   * nothing); a throw or rejection exits with 1 and the error's message.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a program may return nothing, or an exit code
  run(ctx: ProgramContext): void | number | Promise<void | number>
  /**
   * Receives every signal but SIGKILL (9) sent to the process, in place of the default (exit
   * with 128 + signal); omit it for the default. A throw ends the process as a throw from `run`
   * does. `ctx.onSignal` replaces it while the process runs (`null` restores the default).
   */
  onSignal?(ctx: ProgramContext, signal: number): void
}

/** A program definition, or just its `run` function. */
export type SimProgram = ProgramDefinition | ProgramDefinition['run']

/** The engine calls a process run needs; kept narrow so contexts stay decoupled from it. */
export interface ProcessHost {
  nowMs(): number
  setTimer(ms: number, fn: () => void): unknown
  clearTimer(timer: unknown): void
  exitProcess(proc: Proc, code: number, message: string): void
  write(proc: Proc, stream: StreamIndex, data: Uint8Array): void
}

const encoder = new TextEncoder()

const NEVER = new Promise<never>(() => {})

/** One execution of a registered program: its context, signal handler and timers. */
export class ProcessRun implements ProgramContext {
  handler: ((signal: number) => void) | null = null
  private timers: Set<unknown> | null = null
  private view: FsView | null = null

  constructor(
    private readonly host: ProcessHost,
    private readonly proc: Proc,
    readonly args: readonly string[],
  ) {}

  get containerId(): ID {
    return this.proc.container.id
  }
  get processId(): ID {
    return this.proc.id
  }
  get pid(): number {
    return this.proc.pid
  }
  get execPath(): string {
    return this.proc.config.execPath
  }
  get workDir(): string {
    return this.proc.config.workDir
  }
  get isMain(): boolean {
    return this.proc.isMain
  }
  get fs(): SimFileSystem {
    this.view ??= new FsView(this.proc.container, this.proc.config.workDir)
    return this.view
  }
  get running(): boolean {
    return this.proc.run === this && this.proc.status === STARTED
  }

  now(): Date {
    return new Date(this.host.nowMs())
  }

  sleep(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      return Promise.reject(invalidArgument(`sleep(ms) needs a finite number ≥ 0, got ${describeValue(ms)}`))
    }
    if (!this.running) return NEVER
    return new Promise((resolve) => {
      if (this.timers === null) this.timers = new Set()
      const timers = this.timers
      const t = this.host.setTimer(ms, () => {
        timers.delete(t)
        if (this.running) resolve()
      })
      timers.add(t)
    })
  }

  exit(code = 0, message = ''): void {
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      throw invalidArgument(`exit code must be an integer from 0 to 255, got ${describeValue(code)}`)
    }
    if (this.running)
      this.host.exitProcess(this.proc, code, typeof message === 'string' ? message : describeValue(message))
  }

  onSignal(handler: ((signal: number) => void) | null): void {
    if (handler !== null && typeof handler !== 'function') {
      throw invalidArgument('onSignal needs a function or null')
    }
    this.handler = handler
  }

  forever(): Promise<never> {
    return NEVER
  }

  write(data: string | Uint8Array, stream: OutputStreamName = 'stdout'): void {
    if (stream !== 'stdout' && stream !== 'stderr') {
      throw invalidArgument(`write: stream must be 'stdout' or 'stderr', got ${describeValue(stream)}`)
    }
    let bytes: Uint8Array
    if (typeof data === 'string') bytes = encoder.encode(data)
    else if (data instanceof Uint8Array) {
      try {
        // A copy: the program may reuse its buffer.
        bytes = Uint8Array.prototype.slice.call(data)
      } catch (e) {
        throw invalidArgument('write: data could not be read (a detached buffer?)', undefined, e)
      }
    } else throw invalidArgument(`write: data must be a string or a Uint8Array, got ${describeValue(data)}`)
    if (this.running) this.host.write(this.proc, stream === 'stdout' ? STDOUT : STDERR, bytes)
  }

  /** Called once when the process ends: cancels the run's pending sleeps. */
  end(): void {
    if (this.timers !== null) {
      for (const t of this.timers) this.host.clearTimer(t)
      this.timers = null
    }
  }
}
