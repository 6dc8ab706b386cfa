import { exitedToDrop, messageOf } from '@portlayer/backend-kit'
import {
  type ContainerConfig,
  type ContainerEventType,
  type ContainerState,
  type EntryPoint,
  EXIT_NOT_FOUND,
  ExitMessage,
  type Handle,
  type HandleFactory,
  ignoresSigterm,
  type PendingCommit,
  type ProcessState,
  type ResourceLimits,
  SIGNAL_EXIT_BASE,
  Signal,
  splitExecArgs,
} from '@portlayer/contracts'
import { runBuiltin } from './builtins.js'
import type { Call } from './call.js'
import type { InternalClock } from './clock.js'
import { conflict, containerNotFound, invalidState } from './errors.js'
import type { EventHub } from './events.js'
import { checkCopies, fsOf, landCopies, ownCopies } from './fs-tree.js'
import { ProcOutput, STDERR, type StreamIndex } from './output.js'
import { type ProcessHost, ProcessRun, type ProgramDefinition } from './program-context.js'
import {
  Container,
  CREATED,
  DESTROYED,
  EXITED,
  MODE_IDLE,
  MODE_IDLE_IGNORES_TERM,
  MODE_NONE,
  MODE_PROGRAM,
  NOT_STARTED,
  PROCESS_STATUS_NAMES,
  Proc,
  type ProgramRun,
  RUN_STATE_NAMES,
  RUNNING,
  STARTED,
  STOPPED,
  StopState,
  wake,
} from './records.js'

/** An extension's value to record with the container when a commit applies. */
export interface AppliedSlot {
  readonly namespace: string
  /** `undefined` removes the recorded value. */
  readonly applied: unknown
}

function isEmpty(p: PendingCommit): boolean {
  return (
    p.limits === undefined && p.runState === undefined && p.mainProcess === undefined && p.files.length === 0
  )
}

/**
 * The simulated world and its rules, all synchronous: whatever the engine does between two
 * awaits of the port layer is atomic, which is what makes commits linearizable.
 */
export class Engine implements ProcessHost {
  readonly containers = new Map<string, Container>()
  /** Every process of every container, by process ID (main processes once they have an ID). */
  readonly procs = new Map<string, Proc>()
  readonly running = new Set<Container>()
  /** Create-handle IDs handed out by createContainer and not yet committed. */
  readonly issued = new Set<string>()
  /** Last version given to any container; never reused, not even across restore. */
  version = 0

  constructor(
    readonly clock: InternalClock,
    readonly events: EventHub,
    readonly programs: Map<string, ProgramDefinition>,
    readonly factory: HandleFactory,
    readonly defaults: ResourceLimits,
    readonly graceMs: number,
    /** How many exited exec'd processes a container keeps listed. */
    readonly maxExitedExecs: number,
    /** How many bytes of each stream a process keeps (the last ones). */
    readonly outputLimit: number,
  ) {}

  nowMs(): number {
    return this.clock.nowMs()
  }
  setTimer(ms: number, fn: () => void): unknown {
    return this.clock.setTimer(ms, fn)
  }
  clearTimer(timer: unknown): void {
    this.clock.clearTimer(timer)
  }

  /**
   * Appends what `p` wrote to `stream`. `data` is owned from now on (callers pass a fresh copy);
   * readers following the process are woken.
   */
  write(p: Proc, stream: StreamIndex, data: Uint8Array): void {
    if (data.byteLength === 0) return
    let out = p.output
    if (out === null) {
      out = new ProcOutput()
      p.output = out
    }
    out.write(stream, data, this.outputLimit)
    if (p.watchers !== null) wake(p)
  }

  emit(type: ContainerEventType, c: Container, p?: Proc): void {
    if (this.events.size === 0) return
    const at = new Date(this.clock.nowMs())
    this.events.emit(
      p === undefined
        ? { type, containerId: c.id, at }
        : { type, containerId: c.id, at, processId: p.id, exitCode: p.exitCode },
    )
  }

  // ---- commit ------------------------------------------------------------------------------

  /**
   * The checks of a commit, in the decided order after the handle's shape: the container exists
   * (or, for a create-handle, was issued and not yet committed), the version is current, and the
   * change makes sense. Returns the container (`null` when the commit creates it).
   */
  check(h: Handle): Container | null {
    const id = h.containerId
    const c = this.containers.get(id)
    if (h.baseVersion === null) {
      if (c !== undefined || !this.issued.has(id)) {
        throw conflict(`container ${id} was already created (a create-handle commits once)`, id)
      }
    } else {
      if (c === undefined) throw containerNotFound(id)
      if (String(c.version) !== h.baseVersion) {
        throw conflict(
          `container ${id} changed since the handle was made (handle version ${h.baseVersion}, now ${c.version})`,
          id,
        )
      }
    }
    const p = h.pending
    if (p.runState === 'running' && p.mainProcess === undefined && (c === undefined || c.entry === null)) {
      throw invalidState(`container ${id} cannot run: it has no entry point`, id)
    }
    if (p.files.length > 0) {
      checkCopies(c ?? null, id, p.files, c !== undefined && c.status !== RUNNING ? c.pendingFiles : null)
    }
    return c ?? null
  }

  /**
   * Applies a checked handle. Returns true when the commit must then wait for the stop sequence
   * it began (processes that ignore SIGTERM), see {@link waitStop}.
   */
  apply(h: Handle, existing: Container | null, slots: readonly AppliedSlot[] | null): boolean {
    const p = h.pending
    const now = this.clock.nowMs()
    let c = existing
    const creating = c === null
    if (c === null) {
      c = new Container(
        h.containerId,
        p.name as string,
        now,
        0,
        CREATED,
        this.defaults.memoryMb,
        this.defaults.cpuMhz,
        null,
      )
      this.containers.set(c.id, c)
      this.issued.delete(c.id)
    } else if (slots === null && isEmpty(p)) {
      return false
    }
    c.version = ++this.version
    if (p.limits !== undefined && c.status !== RUNNING) {
      c.memoryMb = p.limits.memoryMb === -1 ? this.defaults.memoryMb : p.limits.memoryMb
      c.cpuMhz = p.limits.cpuMhz === -1 ? this.defaults.cpuMhz : p.limits.cpuMhz
    }
    if (p.mainProcess !== undefined) c.entry = frozenEntry(p.mainProcess)
    if (slots !== null) {
      for (const s of slots) {
        if (s.applied === undefined) {
          if (c.ext !== null) delete c.ext[s.namespace]
        } else {
          c.ext ??= Object.create(null) as Record<string, unknown>
          c.ext[s.namespace] = s.applied
        }
      }
    }
    if (creating) this.emit('created', c)
    if (p.files.length > 0) {
      const files = ownCopies(p.files)
      if (c.status === RUNNING) landCopies(c, files)
      else c.pendingFiles = c.pendingFiles === null ? files : [...c.pendingFiles, ...files]
    }
    if (p.runState === 'running') {
      if (c.status !== RUNNING) this.start(c, now)
    } else if (p.runState === 'stopped' && c.status === RUNNING) {
      return this.beginStop(c, now)
    }
    return false
  }

  // ---- processes ---------------------------------------------------------------------------

  ensureMain(c: Container): Proc {
    let m = c.main
    if (m === null) {
      m = new Proc(this.factory.newId(), c, true, c.entry as EntryPoint)
      c.main = m
      this.procs.set(m.id, m)
    }
    return m
  }

  private start(c: Container, now: number): void {
    if (c.pendingFiles !== null) {
      landCopies(c, c.pendingFiles)
      c.pendingFiles = null
    }
    c.status = RUNNING
    this.running.add(c)
    const m = this.ensureMain(c)
    m.config = c.entry as EntryPoint
    this.begin(m, now)
    this.emit('started', c)
    this.launch(m)
  }

  exec(c: Container, config: EntryPoint): Proc {
    const p = new Proc(this.factory.newId(), c, false, config)
    this.procs.set(p.id, p)
    if (c.execd === null) c.execd = [p]
    else c.execd.push(p)
    if (c.runningExecd === null) c.runningExecd = [p]
    else c.runningExecd.push(p)
    this.begin(p, this.clock.nowMs())
    this.launch(p)
    return p
  }

  /** `now`: the clock as the operation that starts `p` read it (one reading per operation). */
  private begin(p: Proc, now: number): void {
    const c = p.container
    p.status = STARTED
    p.pid = ++c.nextPid
    p.exitCode = 0
    p.exitMsg = ''
    p.startedAt = now
    p.finishedAt = -1
    // A main process starting again writes afresh (as its capture files are truncated on vSphere).
    p.output = null
    c.live++
  }

  private launch(p: Proc): void {
    const path = p.config.execPath
    const program = this.programs.get(path)
    if (program !== undefined) {
      this.runProgram(p, program)
      return
    }
    if (runBuiltin(this, p)) return
    const node = fsOf(p.container).get(path)
    if (node !== undefined && !node.dir && (node.perms & 0o111) !== 0) {
      // Read once here, so a signal costs one comparison and a file changed later does not matter.
      p.mode = node.data !== null && ignoresSigterm(node.data) ? MODE_IDLE_IGNORES_TERM : MODE_IDLE
      return
    }
    this.write(p, STDERR, encoder.encode(`${ExitMessage.notFound(path)}\n`))
    this.exitProcess(p, EXIT_NOT_FOUND, ExitMessage.notFound(path))
  }

  private runProgram(p: Proc, program: ProgramDefinition): void {
    let words: string[]
    try {
      words = splitExecArgs(p.config.execArgs)
    } catch (e) {
      this.exitProcess(p, 2, (e as Error).message)
      return
    }
    const run = new ProcessRun(this, p, Object.freeze(words))
    p.run = run
    p.mode = MODE_PROGRAM
    const onSignal = program.onSignal
    if (onSignal !== undefined) run.handler = (signal) => onSignal.call(program, run, signal)
    let result: unknown
    try {
      result = program.run(run)
    } catch (e) {
      this.programFailed(p, run, e)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (v) => this.programReturned(p, run, v),
        (e) => this.programFailed(p, run, e),
      )
    } else this.programReturned(p, run, result)
  }

  private programReturned(p: Proc, run: ProcessRun, value: unknown): void {
    if (p.run !== run) return
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255) {
      this.exitProcess(p, value, '')
    } else if (typeof value === 'number') {
      this.exitProcess(p, 1, `program returned an invalid exit code ${value}`)
    } else this.exitProcess(p, 0, '')
  }

  private programFailed(p: Proc, run: ProgramRun, error: unknown): void {
    if (p.run !== run) return
    this.exitProcess(p, 1, messageOf(error))
  }

  armSleep(p: Proc, ms: number): void {
    p.timer = this.clock.setTimer(ms, () => {
      p.timer = null
      this.exitProcess(p, 0, '')
    })
  }

  /** Ends a started process; a main process takes its container (and exec'd processes) down. */
  exitProcess(p: Proc, code: number, message: string, now = this.clock.nowMs()): void {
    if (p.status !== STARTED) return
    if (p.timer !== null) {
      this.clock.clearTimer(p.timer)
      p.timer = null
    }
    const run = p.run
    if (run !== null) {
      p.run = null
      run.end()
    }
    p.status = EXITED
    p.exitCode = code
    p.exitMsg = message
    p.finishedAt = now
    p.mode = MODE_NONE
    if (p.watchers !== null) wake(p)
    const c = p.container
    c.live--
    if (!p.isMain) {
      const list = c.runningExecd as Proc[]
      const i = list.indexOf(p)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) c.runningExecd = null
      this.dropOldExited(c)
    }
    this.emit('exited', c, p)
    if (c.stopping !== null) {
      if (c.live === 0) this.markStopped(c)
      return
    }
    if (p.isMain) {
      // As when a VM powers off: whatever else runs dies with the main process.
      const rest = c.runningExecd
      if (rest !== null) {
        for (const q of rest.slice()) {
          this.exitProcess(q, SIGNAL_EXIT_BASE + Signal.SIGKILL, 'killed: the main process exited')
        }
      }
      this.markStopped(c)
    }
  }

  /**
   * Keeps at most `maxExitedExecs` exited exec'd processes: the ones that finished first are
   * forgotten (config, state and signal lookups alike), so a container exec'd into forever (a
   * health check) does not grow without bound. Processes still running are never dropped.
   */
  private dropOldExited(c: Container): void {
    const execd = c.execd as Proc[]
    const exited = execd.length - (c.runningExecd === null ? 0 : c.runningExecd.length)
    // Counting first keeps the common exit (under the bound) free of the shared rule's sorting.
    if (exited <= this.maxExitedExecs) return
    const gone = exitedToDrop(execd, this.maxExitedExecs, (q) => ({
      exited: q.status === EXITED,
      finishedAt: q.finishedAt,
      startedAt: q.startedAt,
    }))
    for (const q of gone) {
      execd.splice(execd.indexOf(q), 1)
      this.procs.delete(q.id)
    }
  }

  /**
   * Delivers `signal` to a started process: to its handler if it has one, else it ends it; an
   * executable file that traps SIGTERM lets SIGTERM pass.
   */
  deliver(p: Proc, signal: number, now?: number): void {
    if (p.status !== STARTED) return
    if (signal === Signal.SIGTERM && p.mode === MODE_IDLE_IGNORES_TERM) return
    const run = p.run
    if (signal !== Signal.SIGKILL && run !== null && run.handler !== null) {
      try {
        run.handler(signal)
      } catch (e) {
        this.programFailed(p, run, e)
      }
      return
    }
    this.exitProcess(p, SIGNAL_EXIT_BASE + signal, ExitMessage.signalled(signal), now)
  }

  findByPid(c: Container, pid: number): Proc | undefined {
    if (c.main !== null && c.main.pid === pid && c.main.status !== NOT_STARTED) return c.main
    return c.execd?.find((p) => p.pid === pid)
  }

  // ---- stop --------------------------------------------------------------------------------

  /**
   * SIGTERM to every process; the rest is killed when the grace period ends. True when some
   * process is still running (the grace period has begun).
   */
  beginStop(c: Container, now = this.clock.nowMs()): boolean {
    const st = new StopState()
    c.stopping = st
    const execd = c.runningExecd
    if (execd !== null) for (const p of execd.slice()) this.deliver(p, Signal.SIGTERM, now)
    const m = c.main
    if (m !== null) this.deliver(m, Signal.SIGTERM, now)
    if (c.stopping !== st) return false
    if (c.live === 0) {
      this.markStopped(c)
      return false
    }
    this.armGrace(c, st, this.graceMs)
    return true
  }

  armGrace(c: Container, st: StopState, ms: number): void {
    st.deadline = this.clock.nowMs() + ms
    st.timer = this.clock.setTimer(ms, () => {
      st.timer = null
      this.killRest(c, st, 'killed by SIGKILL: the stop grace period ended')
    })
  }

  /** Ends stop sequence `st` now: every process still running is killed (137). */
  private killRest(c: Container, st: StopState, why: string): void {
    if (c.stopping !== st) return
    const execd = c.runningExecd
    if (execd !== null)
      for (const p of execd.slice()) this.exitProcess(p, SIGNAL_EXIT_BASE + Signal.SIGKILL, why)
    if (c.main !== null) this.exitProcess(c.main, SIGNAL_EXIT_BASE + Signal.SIGKILL, why)
  }

  /**
   * Resolves when the container's current stop sequence has finished. With a `call`, an abort
   * or deadline rejects it at once with CANCELLED/TIMEOUT (for a commit that has applied nothing
   * yet); with `finish` it instead cuts the grace period short, killing what still runs, so the
   * stop the call already applied completes now (a change that landed is never reported as failed).
   */
  waitStop(c: Container, call?: Call, finish = false): Promise<void> {
    const st = c.stopping
    if (st === null) return Promise.resolve()
    if (call === undefined) return new Promise((resolve) => st.waiters.push(resolve))
    return new Promise((resolve, reject) => {
      let unwatch = noop
      const waiter = (): void => {
        unwatch()
        resolve()
      }
      st.waiters.push(waiter)
      unwatch = call.watch((error) => {
        if (finish) {
          const how = error.code === 'TIMEOUT' ? 'timed out' : 'was cancelled'
          this.killRest(c, st, `killed by SIGKILL: the stop's grace period was cut short (its commit ${how})`)
          return
        }
        const i = st.waiters.indexOf(waiter)
        if (i >= 0) st.waiters.splice(i, 1)
        reject(error)
      })
    })
  }

  private markStopped(c: Container): void {
    c.status = STOPPED
    this.running.delete(c)
    const st = c.stopping
    if (st !== null) {
      c.stopping = null
      if (st.timer !== null) this.clock.clearTimer(st.timer)
      st.release()
    }
    this.emit('stopped', c)
  }

  /** Close: commits blocked on a stop go on (and find the simulator closed); the stops stay as they are. */
  releaseStopWaiters(): void {
    for (const c of this.running) c.stopping?.release()
  }

  // ---- destroy and queries -----------------------------------------------------------------

  destroy(c: Container): void {
    if (c.status === RUNNING) {
      throw invalidState(`container ${c.id} is running; stop it before destroying it`, c.id)
    }
    this.containers.delete(c.id)
    if (c.main !== null) this.procs.delete(c.main.id)
    if (c.execd !== null) for (const p of c.execd) this.procs.delete(p.id)
    c.status = DESTROYED
    this.emit('destroyed', c)
  }

  config(c: Container): ContainerConfig {
    const e = c.entry
    return {
      containerId: c.id,
      created: new Date(c.created),
      name: c.name,
      limits: { memoryMb: c.memoryMb, cpuMhz: c.cpuMhz },
      mainProcess:
        e === null
          ? null
          : {
              processId: this.ensureMain(c).id,
              workDir: e.workDir,
              execPath: e.execPath,
              execArgs: e.execArgs,
            },
      execdProcs:
        c.execd === null
          ? []
          : c.execd.map((p) => ({
              processId: p.id,
              workDir: p.config.workDir,
              execPath: p.config.execPath,
              execArgs: p.config.execArgs,
            })),
    }
  }

  state(c: Container): ContainerState {
    return {
      status: RUN_STATE_NAMES[c.status] as ContainerState['status'],
      mainProcess: c.entry === null ? null : processState(this.ensureMain(c)),
      execdProcs: c.execd === null ? [] : c.execd.map(processState),
    }
  }
}

function noop(): void {}

const encoder = new TextEncoder()

/** The public state of a process record. */
export function processState(p: Proc): ProcessState {
  return {
    processId: p.id,
    status: PROCESS_STATUS_NAMES[p.status] as ProcessState['status'],
    guestPid: p.pid,
    exitCode: p.exitCode,
    exitMsg: p.exitMsg,
    startedAt: p.startedAt < 0 ? null : new Date(p.startedAt),
    finishedAt: p.finishedAt < 0 ? null : new Date(p.finishedAt),
  }
}

/** Entry points from the handle are kept as they are when frozen (BasicHandleFactory's are). */
function frozenEntry(e: EntryPoint): EntryPoint {
  if (Object.isFrozen(e)) return e
  return Object.freeze({ workDir: e.workDir, execPath: e.execPath, execArgs: e.execArgs })
}
