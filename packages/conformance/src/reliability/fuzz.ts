import {
  type ContainerConfig,
  type ContainerState,
  type Handle,
  type ID,
  MAX_MESSAGE_LENGTH,
  type PortLayer,
  PortLayerError,
  type ResourceLimits,
} from '@portlayer/contracts'
import fc from 'fast-check'
import { describeValue } from '../outcome.js'
import { type Hostile, hostileValue } from './hostile.js'

// Model-based fuzzing: one model and one command set for every backend. After each command: no
// crash, every failure a PortLayerError with a short message, the result what the model says,
// and after any failure the container reads (config, state, list) exactly as the model has it —
// the model is not changed by a failed command, so this checks "a failure changed nothing".

/** What the fuzzer runs against. */
export interface FuzzTarget {
  readonly pl: PortLayer
  /** The limits of a container that never had any, and of `-1`. */
  readonly defaultLimits: ResourceLimits
  /** Waits for a call; a virtual-clock backend advances its clock here. Default: `await`. */
  settle?<T>(work: Promise<T>): Promise<T>
}

/** Options of {@link fuzzPortLayer}: how many commands, from which seed, on which backend. */
export interface FuzzOptions {
  /** Commands to run in all (at least). */
  readonly commands: number
  /** Commands per fast-check run (at most; runs are drawn shorter too). Default 60. */
  readonly commandsPerRun?: number
  readonly seed: number
  /** A fast-check replay path printed by a failure. */
  readonly path?: string
  /** Stop at the first failure without shrinking (slow backends). */
  readonly endOnFailure?: boolean
  /** Makes the backend for one fast-check run, and cleans up after it. */
  readonly target: () => Promise<FuzzTarget>
  /** Cleans up after a run: `ids` are the containers the run created. Default: destroy them. */
  readonly release?: (target: FuzzTarget, ids: readonly ID[]) => Promise<void>
}

/** What {@link fuzzPortLayer} ran. */
export interface FuzzReport {
  readonly commands: number
  readonly runs: number
  /** Commands by kind and outcome (`commit:ok`, `commit:CONFLICT`, `hostile:INVALID_ARGUMENT`…). */
  readonly counts: Record<string, number>
}

type Status = 'created' | 'running' | 'stopped'
interface Entry {
  readonly workDir: string
  readonly execPath: string
  readonly execArgs: string
}
interface FileCopy {
  readonly dir: string
  readonly name: string
  readonly data: Uint8Array
}
interface MProc {
  /** Exit code once exited; `null` when it exited with a code the model does not know. */
  exitCode: number | null | undefined
  status: 'started' | 'exited'
}
interface MContainer {
  readonly id: ID
  exists: boolean
  name: string
  limits: ResourceLimits
  entry: Entry | null
  status: Status
  /** The main process of the last run: undefined before the first start. */
  main: MProc | undefined
  /** vSphere notices an exit only when it reads the container: until then a list may say running. */
  exitUnobserved: boolean
  /** Bumped by every change that lands. */
  epoch: number
  /** Bumped by events that may or may not move the version depending on the backend. */
  unsure: number
  /** Paths that are directories or files (landed, plus pending ones for the conflict rules). */
  kinds: Map<string, 'dir' | 'file'>
  /** Landed files by path. */
  files: Map<string, Uint8Array>
  pending: FileCopy[]
  execs: Map<ID, MProc & { unobserved: boolean }>
}
interface MHandle {
  readonly handle: Handle
  readonly container: number
  readonly epoch: number
  readonly unsure: number
}
interface Model {
  containers: MContainer[]
  handles: MHandle[]
  readonly defaults: ResourceLimits
}
interface Real {
  readonly t: FuzzTarget
  readonly counts: Record<string, number>
  executed: number
}

const BASE_DIRS = ['/', '/bin', '/etc', '/tmp', '/usr', '/usr/local', '/usr/local/bin']
const DIRS = ['/tmp', '/srv', '/srv/a', '/srv/a/b'] as const
const NAMES = ['a', 'b', 'f'] as const

/** Main programs and how they end by themselves (`undefined`: they run until signalled). */
const PROGRAMS: ReadonlyArray<{ entry: Entry; exits?: number }> = [
  { entry: { workDir: '/', execPath: '/bin/sleep', execArgs: '3600' } },
  { entry: { workDir: '/tmp', execPath: '/bin/sleep', execArgs: '7200' } },
  { entry: { workDir: '/', execPath: '/bin/true', execArgs: '' }, exits: 0 },
  { entry: { workDir: '/', execPath: '/bin/sh', execArgs: '-c "exit 3"' }, exits: 3 },
  { entry: { workDir: '/', execPath: '/bin/false', execArgs: '' }, exits: 1 },
  { entry: { workDir: '/', execPath: '/no/such/program', execArgs: '' }, exits: 127 },
]
const exitsOf = (e: Entry | null): number | undefined =>
  PROGRAMS.find(
    (p) =>
      p.entry.execPath === e?.execPath && p.entry.execArgs === e.execArgs && p.entry.workDir === e.workDir,
  )?.exits

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`)

class Violation extends Error {
  override name = 'FuzzViolation'
}
function fail(what: string): never {
  throw new Violation(what)
}

/** Runs `work`; a synchronous throw counts as a failure too. */
async function attempt<T>(
  real: Real,
  work: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: PortLayerError }> {
  let error: unknown
  try {
    const p = work()
    return { ok: true, value: await (real.t.settle ? real.t.settle(p) : p) }
  } catch (e) {
    error = e
  }
  if (!PortLayerError.isInstance(error)) {
    fail(
      `failed with something that is not a PortLayerError: ${error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error)}`,
    )
  }
  if (typeof error.message !== 'string' || error.message.length > MAX_MESSAGE_LENGTH)
    fail(`${error.code} with a message of ${String(error.message?.length)} characters`)
  if (error.outcome !== 'not-applied')
    fail(`${error.code} with outcome ${error.outcome} although nothing failed below`)
  return { ok: false, error }
}

const count = (real: Real, key: string) => {
  real.counts[key] = (real.counts[key] ?? 0) + 1
}

/** Expects `r` to be an error of one of `codes`. */
function expectError(
  r: { ok: boolean; error?: PortLayerError },
  codes: readonly string[],
  what: string,
): void {
  if (r.ok) fail(`${what}: succeeded, the model expected ${codes.join(' or ')}`)
  const code = r.error?.code as string
  if (!codes.includes(code))
    fail(`${what}: ${code} (${r.error?.message}), the model expected ${codes.join(' or ')}`)
}

// ---- checks against the model -------------------------------------------------------------

async function verifyContainer(real: Real, c: MContainer, why: string): Promise<void> {
  const pl = real.t.pl
  const cfg = await attempt(real, () => pl.getContainerConfig(c.id))
  const st = await attempt(real, () => pl.getContainerState(c.id))
  if (!c.exists) {
    expectError(cfg, ['NOT_FOUND'], `${why}: config of destroyed ${c.id}`)
    expectError(st, ['NOT_FOUND'], `${why}: state of destroyed ${c.id}`)
    return
  }
  if (!cfg.ok) fail(`${why}: getContainerConfig(${c.id}) failed: ${cfg.error.code} ${cfg.error.message}`)
  if (!st.ok) fail(`${why}: getContainerState(${c.id}) failed: ${st.error.code} ${st.error.message}`)
  checkConfig(c, cfg.value, why)
  checkState(c, st.value, why)
  // A state read notices exits (vSphere records them then).
  c.exitUnobserved = false
  for (const p of c.execs.values()) p.unobserved = false
}

function checkConfig(c: MContainer, cfg: ContainerConfig, why: string): void {
  const got = {
    id: cfg.containerId,
    name: cfg.name,
    limits: { memoryMb: cfg.limits.memoryMb, cpuMhz: cfg.limits.cpuMhz },
    entry: cfg.mainProcess
      ? {
          workDir: cfg.mainProcess.workDir,
          execPath: cfg.mainProcess.execPath,
          execArgs: cfg.mainProcess.execArgs,
        }
      : null,
    execs: cfg.execdProcs.map((p) => p.processId).sort(),
  }
  const want = { id: c.id, name: c.name, limits: c.limits, entry: c.entry, execs: [...c.execs.keys()].sort() }
  if (JSON.stringify(got) !== JSON.stringify(want))
    fail(`${why}: config of ${c.id} is ${JSON.stringify(got)}, the model has ${JSON.stringify(want)}`)
}

function checkProc(what: string, p: MProc, s: { status: string; exitCode: number }, why: string): void {
  if (p.status === 'started' && s.status !== 'started')
    fail(`${why}: ${what} is ${s.status}, the model has it started`)
  if (p.status === 'exited') {
    if (s.status !== 'exited') fail(`${why}: ${what} is ${s.status}, the model has it exited`)
    if (typeof p.exitCode === 'number' && s.exitCode !== p.exitCode)
      fail(`${why}: ${what} exited with ${s.exitCode}, the model expects ${p.exitCode}`)
  }
}

function checkState(c: MContainer, st: ContainerState, why: string): void {
  if (st.status !== c.status) fail(`${why}: ${c.id} is ${st.status}, the model has it ${c.status}`)
  if (c.main === undefined) {
    const want = c.entry ? 'not-started' : null
    const got = st.mainProcess ? st.mainProcess.status : null
    if (got !== want) fail(`${why}: main process of ${c.id} is ${got}, the model expects ${want}`)
  } else {
    if (!st.mainProcess) fail(`${why}: ${c.id} has no main process state`)
    checkProc(`main process of ${c.id}`, c.main, st.mainProcess, why)
  }
  const ids = st.execdProcs.map((p) => p.processId).sort()
  const want = [...c.execs.keys()].sort()
  if (JSON.stringify(ids) !== JSON.stringify(want))
    fail(`${why}: exec'd processes of ${c.id} are ${ids.length}, the model has ${want.length}`)
  for (const p of st.execdProcs) {
    const mp = c.execs.get(p.processId) as MProc
    checkProc(`exec'd process ${p.processId}`, mp, p, why)
  }
}

async function verifyList(m: Model, real: Real, why: string, filter?: Status): Promise<void> {
  const r = await attempt(real, () => real.t.pl.listContainers(filter))
  if (!r.ok) fail(`${why}: listContainers(${filter ?? ''}) failed: ${r.error.code} ${r.error.message}`)
  const shown = new Set(r.value)
  for (const c of m.containers) {
    const may = new Set<boolean>()
    if (!c.exists) may.add(false)
    else if (filter === undefined) may.add(true)
    else {
      may.add(c.status === filter)
      // An exit vSphere has not noticed yet: the list may still say running.
      if (c.exitUnobserved) may.add(filter === 'running')
    }
    if (!may.has(shown.has(c.id)))
      fail(
        `${why}: listContainers(${filter ?? ''}) ${shown.has(c.id) ? 'shows' : 'lacks'} ${c.id} (model: ${c.exists ? c.status : 'destroyed'})`,
      )
  }
}

/** After a failure: the container and the list read exactly as before (the model is unchanged). */
async function unchanged(m: Model, real: Real, c: MContainer | undefined, why: string): Promise<void> {
  if (c) await verifyContainer(real, c, `after ${why}`)
  await verifyList(m, real, `after ${why}`)
}

// ---- the model's rules ---------------------------------------------------------------------

/** The pending-file rules: a path cannot be a file and a directory. Returns an error or null. */
function copiesConflict(c: MContainer | undefined, files: readonly FileCopy[]): string | null {
  const kinds = new Map<string, 'dir' | 'file'>(c ? c.kinds : BASE_DIRS.map((d) => [d, 'dir'] as const))
  for (const f of files) {
    const parts = f.dir.split('/').filter(Boolean)
    let path = ''
    for (const p of parts) {
      path += `/${p}`
      if (kinds.get(path) === 'file') return `${path} is a file`
      kinds.set(path, 'dir')
    }
    const target = join(f.dir, f.name)
    if (kinds.get(target) === 'dir') return `${target} is a directory`
    kinds.set(target, 'file')
  }
  return null
}

/**
 * Whether `files` conflict only with files that have landed in a container that is not running:
 * a backend whose guest is off (vSphere) cannot see those before the next start, so the model
 * does not decide; the fuzzer leaves such copies out.
 */
function undecided(c: MContainer, files: readonly FileCopy[]): boolean {
  if (c.status === 'running' || copiesConflict(c, files) === null) return false
  const known: MContainer = { ...c, kinds: new Map(BASE_DIRS.map((d) => [d, 'dir'] as const)) }
  recordKinds(known, c.pending)
  return copiesConflict(known, files) === null
}

function recordKinds(c: MContainer, files: readonly FileCopy[]): void {
  for (const f of files) {
    let path = ''
    for (const p of f.dir.split('/').filter(Boolean)) {
      path += `/${p}`
      c.kinds.set(path, 'dir')
    }
    c.kinds.set(join(f.dir, f.name), 'file')
  }
}

function land(c: MContainer, files: readonly FileCopy[]): void {
  for (const f of files) c.files.set(join(f.dir, f.name), f.data)
}

function start(c: MContainer): void {
  land(c, c.pending)
  c.pending = []
  const exits = exitsOf(c.entry)
  c.main =
    exits === undefined ? { status: 'started', exitCode: undefined } : { status: 'exited', exitCode: exits }
  c.status = exits === undefined ? 'running' : 'stopped'
  c.exitUnobserved = exits !== undefined
}

function stop(c: MContainer): void {
  if (c.main?.status === 'started') c.main = { status: 'exited', exitCode: 143 }
  for (const p of c.execs.values()) {
    if (p.status === 'started') {
      p.status = 'exited'
      p.exitCode = null
    }
  }
  c.status = 'stopped'
  c.exitUnobserved = false
}

const running = (c: MContainer) => c.exists && c.status === 'running'

// ---- commands ------------------------------------------------------------------------------

interface Change {
  readonly limits?: readonly [number, number]
  readonly program?: number
  readonly runState?: 'running' | 'stopped'
  readonly files: readonly FileCopy[]
}

/**
 * Builds the handle. A copy that conflicts with an earlier copy of the same handle (a path both a
 * file and a directory) may be refused at once by `copyTo` (INVALID_ARGUMENT) instead of by the
 * commit: then `'refused'`.
 */
async function applySetters(real: Real, h: Handle, ch: Change): Promise<Handle | 'refused'> {
  const pl = real.t.pl
  const step = async (what: string, work: () => Promise<Handle>): Promise<Handle> => {
    const r = await attempt(real, work)
    if (!r.ok) fail(`${what} with valid arguments failed: ${r.error.code} ${r.error.message}`)
    return r.value
  }
  let next = h
  if (ch.limits) {
    const [mem, cpu] = ch.limits
    next = await step('setLimits', () => pl.setLimits(next, mem, cpu))
  }
  if (ch.program !== undefined) {
    const e = (PROGRAMS[ch.program] as { entry: Entry }).entry
    next = await step('setEntryPoint', () => pl.setEntryPoint(next, e.workDir, e.execPath, e.execArgs))
  }
  for (const [i, f] of ch.files.entries()) {
    const current = next
    const r = await attempt(real, () => pl.copyTo(current, f.dir, f.name, 0o644, f.data))
    if (!r.ok) {
      if (r.error.code === 'INVALID_ARGUMENT' && copiesConflict(undefined, ch.files.slice(0, i + 1)))
        return 'refused'
      fail(`copyTo ${join(f.dir, f.name)} failed: ${r.error.code} ${r.error.message}`)
    }
    next = r.value
  }
  if (ch.runState) {
    const rs = ch.runState
    next = await step('setRunState', () => pl.setRunState(next, rs))
  }
  return next
}

function resolved(m: Model, l: readonly [number, number]): ResourceLimits {
  return {
    memoryMb: l[0] === -1 ? m.defaults.memoryMb : l[0],
    cpuMhz: l[1] === -1 ? m.defaults.cpuMhz : l[1],
  }
}

type Action =
  | { kind: 'create'; name: string; change: Change }
  | { kind: 'getHandle'; c: number }
  | { kind: 'commit'; h: number; change: Change }
  | { kind: 'exec'; c: number; program: number }
  | { kind: 'signal'; c: number; exec: number | null; signal: number }
  | { kind: 'destroy'; c: number }
  | { kind: 'list'; filter?: Status }
  | { kind: 'read'; c: number }
  | { kind: 'copyFrom'; c: number; dir: string; name: string }
  | { kind: 'unknownId'; method: number; id: ID }
  | { kind: 'hostile'; method: number; arg: number; value: Hostile; c: number }

const MAX_CONTAINERS = 5
const MAX_EXECS = 12

class Cmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly a: Action) {}

  check(m: Readonly<Model>): boolean {
    const a = this.a
    switch (a.kind) {
      case 'create':
        return m.containers.filter((c) => c.exists).length < MAX_CONTAINERS
      case 'commit':
        return m.handles.length > 0
      case 'exec':
        return (
          m.containers.length > 0 &&
          [...(m.containers[a.c % m.containers.length]?.execs.values() ?? [])].length < MAX_EXECS
        )
      case 'list':
      case 'unknownId':
        return true
      default:
        return m.containers.length > 0
    }
  }

  async run(m: Model, real: Real): Promise<void> {
    real.executed++
    const a = this.a
    const pl = real.t.pl
    const pickC = (i: number) => m.containers[i % m.containers.length] as MContainer
    switch (a.kind) {
      case 'create': {
        const made = await attempt(real, () => pl.createContainer(a.name))
        if (!made.ok)
          fail(`createContainer(${JSON.stringify(a.name)}) failed: ${made.error.code} ${made.error.message}`)
        const h = await applySetters(real, made.value, a.change)
        if (h === 'refused') {
          count(real, 'create:refused by copyTo')
          return verifyList(m, real, 'a refused copyTo')
        }
        const r = await attempt(real, () => pl.commit(h))
        count(real, `create:${r.ok ? 'ok' : r.error.code}`)
        const entry =
          a.change.program === undefined ? null : (PROGRAMS[a.change.program] as { entry: Entry }).entry
        if (a.change.runState === 'running' && !entry) {
          expectError(r, ['INVALID_STATE'], 'create+start without an entry point')
          return verifyList(m, real, 'a refused create')
        }
        const conflict = copiesConflict(undefined, a.change.files)
        if (conflict) {
          expectError(r, ['INVALID_ARGUMENT'], `create with conflicting files (${conflict})`)
          return verifyList(m, real, 'a refused create')
        }
        if (!r.ok) {
          await verifyList(m, real, 'a failed create')
          fail(`create failed: ${r.error.code} ${r.error.message}`)
        }
        if (r.value !== h.containerId) fail(`commit returned ${r.value}, not the handle's ${h.containerId}`)
        const c: MContainer = {
          id: h.containerId,
          exists: true,
          name: a.name,
          limits: a.change.limits ? resolved(m, a.change.limits) : { ...m.defaults },
          entry,
          status: 'created',
          main: undefined,
          exitUnobserved: false,
          epoch: 1,
          unsure: 0,
          kinds: new Map(BASE_DIRS.map((d) => [d, 'dir'] as const)),
          files: new Map(),
          pending: [...a.change.files],
          execs: new Map(),
        }
        recordKinds(c, a.change.files)
        m.containers.push(c)
        if (a.change.runState === 'running') start(c)
        // A second commit of the create-handle is refused.
        const again = await attempt(real, () => pl.commit(h))
        expectError(again, ['CONFLICT'], 'a second commit of a create-handle')
        return
      }
      case 'getHandle': {
        const c = pickC(a.c)
        const r = await attempt(real, () => pl.getHandle(c.id))
        count(real, `getHandle:${r.ok ? 'ok' : r.error.code}`)
        if (!c.exists) return expectError(r, ['NOT_FOUND'], `getHandle of destroyed ${c.id}`)
        if (!r.ok) fail(`getHandle(${c.id}) failed: ${r.error.code} ${r.error.message}`)
        c.exitUnobserved = false
        m.handles.push({
          handle: r.value,
          container: m.containers.indexOf(c),
          epoch: c.epoch,
          unsure: c.unsure,
        })
        if (m.handles.length > 12) m.handles.shift()
        return
      }
      case 'commit':
        return commitCmd(m, real, m.handles[a.h % m.handles.length] as MHandle, a.change)
      case 'exec': {
        const c = pickC(a.c)
        const p = PROGRAMS[a.program % 3 === 0 ? 0 : a.program % 3 === 1 ? 2 : 3] as {
          entry: Entry
          exits?: number
        }
        if (c.exitUnobserved) return // the main process may still be seen running: not decided
        const r = await attempt(real, () =>
          pl.execProcess(c.id, p.entry.workDir, p.entry.execPath, p.entry.execArgs),
        )
        count(real, `exec:${r.ok ? 'ok' : r.error.code}`)
        if (!c.exists) return expectError(r, ['NOT_FOUND'], `exec in destroyed ${c.id}`)
        if (c.status !== 'running') {
          expectError(r, ['INVALID_STATE'], `exec in ${c.status} ${c.id}`)
          return unchanged(m, real, c, 'a refused exec')
        }
        if (!r.ok) {
          await unchanged(m, real, c, 'a failed exec')
          fail(`exec failed: ${r.error.code} ${r.error.message}`)
        }
        c.execs.set(r.value, {
          status: p.exits === undefined ? 'started' : 'exited',
          exitCode: p.exits,
          unobserved: p.exits !== undefined,
        })
        c.unsure++
        return
      }
      case 'signal': {
        const c = pickC(a.c)
        if (c.exitUnobserved) return
        const execIds = [...c.execs.keys()]
        const target =
          a.exec === null || execIds.length === 0 ? c.id : (execIds[a.exec % execIds.length] as ID)
        const r = await attempt(real, () => pl.signal(target, a.signal))
        count(real, `signal:${r.ok ? 'ok' : r.error.code}`)
        if (!c.exists) return expectError(r, ['NOT_FOUND'], `signal in destroyed ${c.id}`)
        const proc = target === c.id ? c.main : c.execs.get(target)
        if (proc?.status !== 'started' || !running(c)) {
          expectError(r, ['INVALID_STATE'], `signal to a process that is not running in ${c.status} ${c.id}`)
          return unchanged(m, real, c, 'a refused signal')
        }
        if (!r.ok) {
          await unchanged(m, real, c, 'a failed signal')
          fail(`signal failed: ${r.error.code} ${r.error.message}`)
        }
        c.unsure++
        if (target === c.id) {
          stop(c)
          ;(c.main as MProc).exitCode = 128 + a.signal
          c.exitUnobserved = true
        } else {
          const p = c.execs.get(target) as MProc & { unobserved: boolean }
          p.status = 'exited'
          p.exitCode = 128 + a.signal
          p.unobserved = true
        }
        return
      }
      case 'destroy': {
        const c = pickC(a.c)
        const r = await attempt(real, () => pl.destroyContainer(c.id))
        count(real, `destroy:${r.ok ? 'ok' : r.error.code}`)
        if (!c.exists) return expectError(r, ['NOT_FOUND'], `destroy of destroyed ${c.id}`)
        c.exitUnobserved = false
        if (c.status === 'running') {
          expectError(r, ['INVALID_STATE'], `destroy of running ${c.id}`)
          return unchanged(m, real, c, 'a refused destroy')
        }
        if (!r.ok) {
          await unchanged(m, real, c, 'a failed destroy')
          fail(`destroy failed: ${r.error.code} ${r.error.message}`)
        }
        c.exists = false
        return verifyList(m, real, 'a destroy')
      }
      case 'list':
        count(real, 'list')
        return verifyList(m, real, 'list', a.filter)
      case 'read':
        count(real, 'read')
        return verifyContainer(real, pickC(a.c), 'read')
      case 'copyFrom': {
        const c = pickC(a.c)
        if (c.exitUnobserved) return
        const r = await attempt(real, () => pl.copyFrom(c.id, a.dir, a.name))
        count(real, `copyFrom:${r.ok ? 'ok' : r.error.code}`)
        if (!c.exists) return expectError(r, ['NOT_FOUND'], `copyFrom destroyed ${c.id}`)
        if (c.status !== 'running') return expectError(r, ['INVALID_STATE'], `copyFrom ${c.status} ${c.id}`)
        const path = join(a.dir, a.name)
        const data = c.files.get(path)
        if (data) {
          if (!r.ok) fail(`copyFrom ${path} failed: ${r.error.code} ${r.error.message}`)
          if (Buffer.compare(Buffer.from(r.value), Buffer.from(data)) !== 0)
            fail(`copyFrom ${path} read other bytes`)
        } else if (c.kinds.get(a.dir) === 'dir' && c.kinds.get(path) === undefined) {
          expectError(r, ['NOT_FOUND'], `copyFrom missing ${path}`)
        }
        return
      }
      case 'unknownId': {
        const calls = [
          () => pl.getHandle(a.id),
          () => pl.getContainerConfig(a.id),
          () => pl.getContainerState(a.id),
          () => pl.destroyContainer(a.id),
          () => pl.copyFrom(a.id, '/tmp', 'a'),
          () => pl.execProcess(a.id, '/', '/bin/true', ''),
          () => pl.signal(a.id, 15),
        ]
        const r = await attempt(real, calls[a.method % calls.length] as () => Promise<unknown>)
        count(real, `unknownId:${r.ok ? 'ok' : r.error.code}`)
        return expectError(r, ['NOT_FOUND'], `call ${a.method % calls.length} on an unknown ID`)
      }
      case 'hostile':
        return hostileCmd(m, real, a)
    }
  }

  toString(): string {
    const a = this.a
    const files = (ch: Change) => ch.files.map((f) => `${join(f.dir, f.name)}`).join(',')
    switch (a.kind) {
      case 'create':
      case 'commit': {
        const ch = a.change
        const parts = [
          a.kind === 'create' ? `name=${JSON.stringify(a.name)}` : `h#${a.h}`,
          ch.limits ? `limits=${ch.limits.join('/')}` : '',
          ch.program === undefined
            ? ''
            : `entry=${(PROGRAMS[ch.program] as { entry: Entry }).entry.execPath}`,
          ch.files.length ? `files=${files(ch)}` : '',
          ch.runState ? `run=${ch.runState}` : '',
        ]
        return `${a.kind}(${parts.filter(Boolean).join(' ')})`
      }
      case 'hostile':
        return `hostile(${HOSTILE_METHODS[a.method % HOSTILE_METHODS.length]?.name} arg ${a.arg}: ${a.value.label})`
      default:
        return `${a.kind}(${JSON.stringify({ ...a, kind: undefined })})`
    }
  }
}

async function commitCmd(m: Model, real: Real, mh: MHandle, given: Change): Promise<void> {
  const c = m.containers[mh.container] as MContainer
  const ch = c.exists && undecided(c, given.files) ? { ...given, files: [] } : given
  const h = await applySetters(real, mh.handle, ch)
  if (h === 'refused') {
    count(real, 'commit:refused by copyTo')
    return unchanged(m, real, c, 'a refused copyTo')
  }
  const r = await attempt(real, () => real.t.pl.commit(h))
  count(real, `commit:${r.ok ? 'ok' : r.error.code}`)
  if (!c.exists) return expectError(r, ['NOT_FOUND'], `commit on destroyed ${c.id}`)
  const why = `commit ${describeChange(ch)} on ${c.status} ${c.id}`
  if (mh.epoch < c.epoch) {
    expectError(r, ['CONFLICT'], `stale ${why}`)
    return unchanged(m, real, c, `a stale ${why}`)
  }
  const certain = mh.unsure === c.unsure
  if (!r.ok && r.error.code === 'CONFLICT' && !certain) return unchanged(m, real, c, `a conflicting ${why}`)
  const entry = ch.program === undefined ? c.entry : (PROGRAMS[ch.program] as { entry: Entry }).entry
  if (ch.runState === 'running' && !entry) {
    expectError(r, ['INVALID_STATE'], `start without an entry point: ${why}`)
    await unchanged(m, real, c, why)
    return sameVersion(real, c, mh, certain, why)
  }
  // Files go to the guest of a running container, else they wait (conflict rules include pending).
  const conflict = copiesConflict(c, ch.files)
  if (conflict) {
    expectError(r, ['INVALID_ARGUMENT'], `${why} with conflicting files (${conflict})`)
    await unchanged(m, real, c, why)
    return sameVersion(real, c, mh, certain, why)
  }
  if (!r.ok) {
    await unchanged(m, real, c, why)
    fail(`${why} failed: ${r.error.code} ${r.error.message}`)
  }
  c.exitUnobserved = false
  const wasRunning = c.status === 'running'
  if (ch.limits && !wasRunning) c.limits = resolved(m, ch.limits)
  if (ch.program !== undefined) c.entry = entry
  recordKinds(c, ch.files)
  if (wasRunning) land(c, ch.files)
  else c.pending.push(...ch.files)
  const changesRun = (ch.runState === 'running' && !wasRunning) || (ch.runState === 'stopped' && wasRunning)
  if (ch.runState === 'running' && !wasRunning) start(c)
  else if (ch.runState === 'stopped' && wasRunning) stop(c)
  // A commit whose every change was ignored (or that had none) may or may not move the version:
  // both backends return early for an empty one, so committing it again is not refused.
  const ignored =
    !changesRun && ch.program === undefined && ch.files.length === 0 && (!ch.limits || wasRunning)
  if (ignored) c.unsure++
  else c.epoch++
}

/** A commit refused for its content must not move the version (a handle taken before still commits). */
async function sameVersion(
  real: Real,
  c: MContainer,
  mh: MHandle,
  certain: boolean,
  why: string,
): Promise<void> {
  if (!certain) return
  const r = await attempt(real, () => real.t.pl.getHandle(c.id))
  if (!r.ok) fail(`getHandle after ${why}: ${r.error.code}`)
  if (r.value.baseVersion !== mh.handle.baseVersion)
    fail(`${why} was refused but moved the version from ${mh.handle.baseVersion} to ${r.value.baseVersion}`)
}

function describeChange(ch: Change): string {
  return [
    ch.limits ? `limits ${ch.limits.join('/')}` : '',
    ch.program === undefined ? '' : `entry ${(PROGRAMS[ch.program] as { entry: Entry }).entry.execPath}`,
    ch.files.length ? `${ch.files.length} file(s)` : '',
    ch.runState ?? '',
  ]
    .filter(Boolean)
    .join(', ')
}

// Every method with the positions of its arguments; `valid` gives valid arguments to start from.
interface HostileMethod {
  readonly name: string
  readonly args: number
  call(pl: PortLayer, args: unknown[]): Promise<unknown>
  valid(c: MContainer, h: Handle): unknown[]
}
const HOSTILE_METHODS: readonly HostileMethod[] = [
  {
    name: 'createContainer',
    args: 1,
    call: (pl, a) => pl.createContainer(a[0] as string),
    valid: () => ['ok'],
  },
  { name: 'getHandle', args: 1, call: (pl, a) => pl.getHandle(a[0] as ID), valid: (c) => [c.id] },
  {
    name: 'setLimits',
    args: 3,
    call: (pl, a) => pl.setLimits(a[0] as Handle, a[1] as number, a[2] as number),
    valid: (_c, h) => [h, 256, 1000],
  },
  {
    name: 'setEntryPoint',
    args: 4,
    call: (pl, a) => pl.setEntryPoint(a[0] as Handle, a[1] as string, a[2] as string, a[3] as string),
    valid: (_c, h) => [h, '/', '/bin/true', ''],
  },
  {
    name: 'setRunState',
    args: 2,
    call: (pl, a) => pl.setRunState(a[0] as Handle, a[1] as 'running'),
    valid: (_c, h) => [h, 'running'],
  },
  {
    name: 'copyTo',
    args: 5,
    call: (pl, a) =>
      pl.copyTo(a[0] as Handle, a[1] as string, a[2] as string, a[3] as number, a[4] as Uint8Array),
    valid: (_c, h) => [h, '/tmp', 'x', 0o644, new Uint8Array(2)],
  },
  { name: 'commit', args: 1, call: (pl, a) => pl.commit(a[0] as Handle), valid: (_c, h) => [h] },
  {
    name: 'destroyContainer',
    args: 1,
    call: (pl, a) => pl.destroyContainer(a[0] as ID),
    valid: (c) => [c.id],
  },
  {
    name: 'listContainers',
    args: 1,
    call: (pl, a) => pl.listContainers(a[0] as 'running'),
    valid: () => ['running'],
  },
  {
    name: 'getContainerConfig',
    args: 1,
    call: (pl, a) => pl.getContainerConfig(a[0] as ID),
    valid: (c) => [c.id],
  },
  {
    name: 'getContainerState',
    args: 1,
    call: (pl, a) => pl.getContainerState(a[0] as ID),
    valid: (c) => [c.id],
  },
  {
    name: 'copyFrom',
    args: 3,
    call: (pl, a) => pl.copyFrom(a[0] as ID, a[1] as string, a[2] as string),
    valid: (c) => [c.id, '/tmp', 'a'],
  },
  {
    name: 'execProcess',
    args: 4,
    call: (pl, a) => pl.execProcess(a[0] as ID, a[1] as string, a[2] as string, a[3] as string),
    valid: (c) => [c.id, '/', '/bin/true', ''],
  },
  {
    name: 'signal',
    args: 2,
    call: (pl, a) => pl.signal(a[0] as ID, a[1] as number),
    valid: (c) => [c.id, 15],
  },
]

async function hostileCmd(m: Model, real: Real, a: Extract<Action, { kind: 'hostile' }>): Promise<void> {
  const method = HOSTILE_METHODS[a.method % HOSTILE_METHODS.length] as HostileMethod
  const c = m.containers[a.c % m.containers.length] as MContainer
  if (a.value.nameOnly && method.name !== 'createContainer') return
  // A handle of the container if it exists (else a create-handle), so only the hostile value is wrong.
  const base = c.exists ? await attempt(real, () => real.t.pl.getHandle(c.id)) : undefined
  let h: Handle
  if (base?.ok) h = base.value
  else {
    const made = await attempt(real, () => real.t.pl.createContainer('hostile'))
    if (!made.ok) fail(`createContainer failed: ${made.error.code}`)
    h = made.value
  }
  if (base?.ok) c.exitUnobserved = false
  const args = method.valid(c, h)
  const position = a.arg % method.args
  args[position] = a.value.value()
  const r = await attempt(real, () => method.call(real.t.pl, args))
  count(real, `hostile:${r.ok ? 'ok' : r.error.code}`)
  expectError(r, ['INVALID_ARGUMENT'], `${method.name} with ${a.value.label} as argument ${position + 1}`)
  await unchanged(m, real, c.exists ? c : undefined, `${method.name} with ${a.value.label}`)
}

// ---- arbitraries ---------------------------------------------------------------------------

const bytes = fc.uint8Array({ minLength: 0, maxLength: 6 })
const fileCopy: fc.Arbitrary<FileCopy> = fc.record({
  dir: fc.constantFrom(...DIRS),
  name: fc.constantFrom(...NAMES),
  data: bytes,
})
const limits = fc.oneof(
  fc.constant([-1, -1] as const),
  fc.tuple(fc.integer({ min: 64, max: 4096 }), fc.integer({ min: 100, max: 3000 })),
)
const change: fc.Arbitrary<Change> = fc.record(
  {
    limits,
    // Mostly programs that run until signalled, so containers stay running for exec and copies.
    program: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(0, 1) },
      { weight: 1, arbitrary: fc.integer({ min: 2, max: PROGRAMS.length - 1 }) },
    ),
    runState: fc.oneof(
      { weight: 2, arbitrary: fc.constant('running' as const) },
      { weight: 1, arbitrary: fc.constant('stopped' as const) },
    ),
    files: fc.array(fileCopy, { maxLength: 2 }),
  },
  { requiredKeys: ['files'] },
)
const index = fc.nat({ max: 1000 })
const validName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/)

const weighted = (weight: number, arbitrary: fc.Arbitrary<Action>) => ({ weight, arbitrary })
const ACTIONS: fc.Arbitrary<Action> = fc.oneof(
  weighted(3, fc.record({ kind: fc.constant('create' as const), name: validName, change })),
  weighted(5, fc.record({ kind: fc.constant('getHandle' as const), c: index })),
  weighted(8, fc.record({ kind: fc.constant('commit' as const), h: index, change })),
  weighted(3, fc.record({ kind: fc.constant('exec' as const), c: index, program: index })),
  weighted(
    2,
    fc.record({
      kind: fc.constant('signal' as const),
      c: index,
      exec: fc.option(index, { nil: null }) as fc.Arbitrary<number | null>,
      signal: fc.constantFrom(9, 10, 15),
    }),
  ),
  weighted(1, fc.record({ kind: fc.constant('destroy' as const), c: index })),
  weighted(
    2,
    fc.record(
      {
        kind: fc.constant('list' as const),
        filter: fc.constantFrom('created', 'running', 'stopped') as fc.Arbitrary<Status>,
      },
      { requiredKeys: ['kind'] },
    ),
  ),
  weighted(3, fc.record({ kind: fc.constant('read' as const), c: index })),
  weighted(
    2,
    fc.record({
      kind: fc.constant('copyFrom' as const),
      c: index,
      dir: fc.constantFrom(...DIRS),
      name: fc.constantFrom(...NAMES),
    }),
  ),
  weighted(
    1,
    fc.record({ kind: fc.constant('unknownId' as const), method: index, id: fc.uuid({ version: 4 }) }),
  ),
  weighted(
    3,
    fc.record({
      kind: fc.constant('hostile' as const),
      method: index,
      arg: index,
      value: hostileValue(),
      c: index,
    }),
  ),
)

/** The commands: mostly handles and commits, some of everything else. */
export const fuzzCommands = (): fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] => [
  ACTIONS.map((a) => new Cmd(a)),
]

/**
 * Runs model-based fuzzing until at least `options.commands` commands ran. Throws (with the seed,
 * the replay path and the failing command sequence, from fast-check) at the first violation.
 */
export async function fuzzPortLayer(options: FuzzOptions): Promise<FuzzReport> {
  const per = options.commandsPerRun ?? 60
  const counts: Record<string, number> = {}
  let executed = 0
  let runs = 0
  for (let round = 0; executed < options.commands; round++) {
    const seed = options.seed + round
    const property = fc.asyncProperty(
      fc.commands(fuzzCommands(), { maxCommands: per, size: 'max' }),
      async (cmds) => {
        const target = await options.target()
        const real: Real = { t: target, counts, executed: 0 }
        const model: Model = { containers: [], handles: [], defaults: target.defaultLimits }
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds)
        } finally {
          executed += real.executed
          runs++
          await options.release?.(
            target,
            model.containers.filter((c) => c.exists).map((c) => c.id),
          )
        }
      },
    )
    const remaining = options.commands - executed
    const numRuns = Math.max(1, Math.ceil(remaining / (per * 0.6)))
    await fc.assert(property, {
      seed,
      numRuns: options.path ? 1 : numRuns,
      ...(options.path ? { path: options.path } : {}),
      endOnFailure: options.endOnFailure ?? false,
    })
    if (options.path) break
  }
  return {
    commands: executed,
    runs,
    counts: Object.fromEntries(Object.entries(counts).sort(([x], [y]) => (x < y ? -1 : 1))),
  }
}
