import type { EntryPoint, FileCopy } from '@portlayer/contracts'
import type { FsMap } from './fs-tree.js'
import type { ProcOutput } from './output.js'

/** What a process record needs of the execution of a registered program (`ProcessRun`). */
export interface ProgramRun {
  handler: ((signal: number) => void) | null
  end(): void
}

// Run and process states as small integers: records stay compact and comparisons cheap.
export const CREATED = 0
export const RUNNING = 1
export const STOPPED = 2
/** Set on a record once it is destroyed, so stale references (program contexts, fs views) notice. */
export const DESTROYED = 3
export const RUN_STATE_NAMES = ['created', 'running', 'stopped', 'destroyed'] as const

export const NOT_STARTED = 0
export const STARTED = 1
export const EXITED = 2
export const PROCESS_STATUS_NAMES = ['not-started', 'started', 'exited'] as const

/** How a started process runs, which decides what snapshot/restore and signals do with it. */
export const MODE_NONE = 0
/** Runs until signalled; no code and no timer (an executable file, a restored program). */
export const MODE_IDLE = 1
/** `/bin/sleep`: exits 0 at `deadline` through `timer`. */
export const MODE_SLEEP = 2
/** A registered program whose code runs in `run`. */
export const MODE_PROGRAM = 3
/** Like {@link MODE_IDLE}, but SIGTERM does nothing: an executable file that traps it (`ignoresSigterm`). */
export const MODE_IDLE_IGNORES_TERM = 4

/** Why a stop sequence is waiting: the grace timer and the commits blocked on it. */
export class StopState {
  timer: unknown = null
  deadline = 0
  waiters: Array<() => void> = []

  /** Lets every commit blocked on this stop go on; each then checks the world again. */
  release(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

/**
 * One committed container. Idle containers carry no maps, arrays, closures or timers: the file
 * system, process objects and extension state are created on first use.
 */
export class Container {
  /** Number of live (started, not exited) processes, main included. */
  live = 0
  /** Last guest pid handed out in this container. */
  nextPid = 0
  /** The main process, made on first start or first observation (its ID is fixed then). */
  main: Proc | null = null
  /** Every exec'd process, oldest first. */
  execd: Proc[] | null = null
  /** Exec'd processes still running. */
  runningExecd: Proc[] | null = null
  /** Own file system; `null` means the shared default directories (copy-on-write). */
  fs: FsMap | null = null
  /** Copies waiting for the next start. */
  pendingFiles: readonly FileCopy[] | null = null
  /** Applied values of commit extensions, by namespace. */
  ext: Record<string, unknown> | null = null
  stopping: StopState | null = null

  constructor(
    readonly id: string,
    readonly name: string,
    readonly created: number,
    public version: number,
    public status: number,
    public memoryMb: number,
    public cpuMhz: number,
    public entry: EntryPoint | null,
  ) {}
}

/** One process (the main process of a container, or an exec'd one). */
export class Proc {
  status = NOT_STARTED
  pid = 0
  exitCode = 0
  exitMsg = ''
  startedAt = -1
  finishedAt = -1
  mode = MODE_NONE
  /** Clock timer of a sleeping process. */
  timer: unknown = null
  /** When a sleeping process wakes (clock ms). */
  deadline = 0
  /** The running registered program, if any. */
  run: ProgramRun | null = null
  /** What the current (or last) run wrote; made on the first write. */
  output: ProcOutput | null = null
  /**
   * Told of every write, exit and restart of this process and of the world's end (restore,
   * close): waits for its exit and readers following its output. Made on first use.
   */
  watchers: Set<() => void> | null = null

  constructor(
    readonly id: string,
    readonly container: Container,
    readonly isMain: boolean,
    /** What it runs: for the main process, the entry point as of its last start. */
    public config: EntryPoint,
  ) {}
}

/** The container's exec'd processes and its main process (once it has one). */
export function processesOf(c: Container): Proc[] {
  const procs = c.execd === null ? [] : [...c.execd]
  if (c.main !== null) procs.push(c.main)
  return procs
}

/** Tells every watcher of `p` that something about it changed; each checks what. */
export function wake(p: Proc): void {
  const watchers = p.watchers
  if (watchers === null) return
  // A watcher removes itself while being told: go over a copy.
  for (const w of Array.from(watchers)) w()
}

/** Adds a watcher to `p`; returns the function that removes it. */
export function watch(p: Proc, watcher: () => void): () => void {
  let set = p.watchers
  if (set === null) {
    set = new Set()
    p.watchers = set
  }
  set.add(watcher)
  return () => {
    const current = p.watchers
    if (current === null) return
    current.delete(watcher)
    if (current.size === 0) p.watchers = null
  }
}
