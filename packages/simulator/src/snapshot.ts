import { Engine } from './engine.js'
import { invalidArgument } from './errors.js'
import {
  Container,
  DESTROYED,
  MODE_IDLE,
  MODE_PROGRAM,
  MODE_SLEEP,
  Proc,
  processesOf,
  RUNNING,
  STARTED,
  StopState,
} from './records.js'

/**
 * A deep copy of the simulated world at one moment: every container with its configuration,
 * version, run state, file system, pending copies, processes (with pids, exit codes and times)
 * and applied extension values, what each process wrote (its kept output), plus the
 * create-handles issued but not yet committed.
 * Controls are not part of it: programs, extensions, faults, listeners and the clock stay as they
 * are when restoring.
 *
 * Running processes come back running, consistently with their container:
 * - `/bin/sleep` keeps the time it had left when the snapshot was taken, counted from the
 *   restore (the clock is never rewound), and exits 0 when it runs out;
 * - a stop sequence in its grace period keeps the grace time it had left;
 * - an executable file keeps running until signalled (still ignoring SIGTERM if it traps it);
 * - a registered program keeps running, but its code cannot be copied: it comes back as a
 *   process that runs until signalled, any signal ending it with 128 + n.
 * Commits waiting for a stop of the replaced world resolve; timers of the replaced world are
 * cancelled; file-system views and program contexts of the replaced world stop working.
 * `waitForExit` calls look again in the restored world (NOT_FOUND, at once, or on its exit
 * there); output reads of the replaced world end (NOT_FOUND if the process is not in the
 * restored one); every `events()` stream yields a `resync` event.
 * Versions are never reused: restoring keeps the version counter at its highest value, so a
 * handle made after the snapshot is never mistaken for one of the restored world.
 */
export interface SimulatorSnapshot {
  /** Simulator time when it was taken. */
  readonly takenAt: Date
  /** How many committed containers it holds. */
  readonly containers: number
}

interface World {
  readonly version: number
  readonly issued: readonly string[]
  /** Copies whose deadlines are stored as time left, not absolute times. */
  readonly containers: readonly Container[]
}

const WORLDS = new WeakMap<SimulatorSnapshot, World>()

/** Copies a container and its processes; `shift` maps each deadline (absolute ↔ time left). */
function cloneContainer(src: Container, shift: (deadline: number) => number): Container {
  const d = new Container(
    src.id,
    src.name,
    src.created,
    src.version,
    src.status,
    src.memoryMb,
    src.cpuMhz,
    src.entry,
  )
  d.live = src.live
  d.nextPid = src.nextPid
  // Nodes, file bytes and pending copies are never changed in place, so sharing them is a copy.
  d.fs = src.fs === null ? null : new Map(src.fs)
  d.pendingFiles = src.pendingFiles
  d.ext = src.ext === null ? null : Object.assign(Object.create(null) as Record<string, unknown>, src.ext)
  const copies = new Map<Proc, Proc>()
  const cloneProc = (p: Proc): Proc => {
    const q = new Proc(p.id, d, p.isMain, p.config)
    q.status = p.status
    q.pid = p.pid
    q.exitCode = p.exitCode
    q.exitMsg = p.exitMsg
    q.startedAt = p.startedAt
    q.finishedAt = p.finishedAt
    q.mode = p.mode === MODE_PROGRAM ? MODE_IDLE : p.mode
    q.deadline = p.mode === MODE_SLEEP ? shift(p.deadline) : 0
    q.output = p.output === null ? null : p.output.clone()
    copies.set(p, q)
    return q
  }
  d.main = src.main === null ? null : cloneProc(src.main)
  d.execd = src.execd === null ? null : src.execd.map(cloneProc)
  d.runningExecd = src.runningExecd === null ? null : src.runningExecd.map((p) => copies.get(p) as Proc)
  if (src.stopping !== null) {
    d.stopping = new StopState()
    d.stopping.deadline = shift(src.stopping.deadline)
  }
  return d
}

export function takeSnapshot(engine: Engine): SimulatorSnapshot {
  const now = engine.clock.nowMs()
  const toLeft = (deadline: number) => Math.max(0, deadline - now)
  const containers = Array.from(engine.containers.values(), (c) => cloneContainer(c, toLeft))
  const snapshot: SimulatorSnapshot = Object.freeze({ takenAt: new Date(now), containers: containers.length })
  WORLDS.set(snapshot, { version: engine.version, issued: [...engine.issued], containers })
  return snapshot
}

/** Retires `old` and returns a new engine holding a fresh copy of the snapshot's world. */
export function restoreWorld(old: Engine, snapshot: SimulatorSnapshot): Engine {
  const world = WORLDS.get(snapshot)
  if (world === undefined) {
    throw invalidArgument('restore needs a snapshot taken by sim.snapshot()')
  }
  retire(old)
  const engine = new Engine(
    old.clock,
    old.events,
    old.programs,
    old.factory,
    old.defaults,
    old.graceMs,
    old.maxExitedExecs,
    old.outputLimit,
  )
  engine.version = Math.max(old.version, world.version)
  for (const id of world.issued) engine.issued.add(id)
  const now = engine.clock.nowMs()
  for (const stored of world.containers) {
    const c = cloneContainer(stored, (left) => now + left)
    engine.containers.set(c.id, c)
    if (c.status === RUNNING) engine.running.add(c)
    for (const p of processesOf(c)) {
      engine.procs.set(p.id, p)
      if (p.status === STARTED && p.mode === MODE_SLEEP) engine.armSleep(p, p.deadline - now)
    }
    if (c.stopping !== null) engine.armGrace(c, c.stopping, c.stopping.deadline - now)
  }
  return engine
}

/** Stops everything the old world had scheduled and detaches what still points into it. */
function retire(old: Engine): void {
  for (const c of old.containers.values()) {
    for (const p of processesOf(c)) {
      if (p.timer !== null) {
        old.clock.clearTimer(p.timer)
        p.timer = null
      }
      const run = p.run
      if (run !== null) {
        p.run = null
        run.end()
      }
    }
    const st = c.stopping
    if (st !== null) {
      c.stopping = null
      if (st.timer !== null) old.clock.clearTimer(st.timer)
      st.release()
    }
    c.status = DESTROYED
  }
}
