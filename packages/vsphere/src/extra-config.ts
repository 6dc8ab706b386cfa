import { type ID, isId, type ProcessConfig, type RequestedLimits, validateLimit } from '@portlayer/contracts'
import type { OptionValue } from '@portlayer/contracts/vmomi'
import { parseRevs } from './commit-tokens.js'

// What a container keeps in its VM's extraConfig, and how it is read back. Every key lives under
// `guestinfo.portlayer.`; values are strings (JSON for structured ones). Readers take the last
// entry per key, because vcsim appends on reconfigure where vCenter merges, and an empty value
// means the key is gone (that is how vSphere deletes an extraConfig key).

/**
 * The prefix of every extraConfig key portlayer writes on a container's VM
 * (`guestinfo.portlayer.`). A VM with `guestinfo.portlayer.id` is a container; other keys under
 * the prefix are portlayer's, so leave them to it. `guestinfo.*` values can be read from inside
 * the guest through VMware Tools.
 */
export const KEY_PREFIX = 'guestinfo.portlayer.'

export const Key = {
  /** The container ID: what makes a VM a portlayer container. */
  id: `${KEY_PREFIX}id`,
  name: `${KEY_PREFIX}name`,
  /** ISO 8601 time of the first commit. */
  created: `${KEY_PREFIX}created`,
  /** Limits as requested (`-1` kept as asked); the applied ones are the VM's memoryMB and CPU limit. */
  limits: `${KEY_PREFIX}limits`,
  /** The main process configuration. */
  main: `${KEY_PREFIX}main`,
  /** The recorded state of the main process and of the run it belongs to. */
  mainState: `${KEY_PREFIX}main.state`,
  /** Files to copy in when the container next starts. */
  files: `${KEY_PREFIX}files`,
  /**
   * The tokens of the last commits, oldest first (see `commit-tokens.ts`), so a commit whose
   * answer was lost can tell whether it landed.
   */
  rev: `${KEY_PREFIX}rev`,
  /** The token of a destroy under way: it makes destroys exclusive (see destroy.ts). */
  destroying: `${KEY_PREFIX}destroying`,
  /**
   * A start under way that has not taken effect yet (see staged-start.ts): what readers see
   * instead of the keys it wrote, until its record step removes it.
   */
  pending: `${KEY_PREFIX}pending`,
  /** The token of a power-off under way that is not a stop's (see power-off-claim.ts). */
  poweringOff: `${KEY_PREFIX}poweroff`,
} as const

const EXEC_PREFIX = `${KEY_PREFIX}exec.`
const EXT_PREFIX = `${KEY_PREFIX}ext.`

/** The key of exec'd process `processId` (its configuration and recorded state). */
export function execKey(processId: ID): string {
  return `${EXEC_PREFIX}${processId}`
}

/** The exec'd processes whose records `options` delete. */
export function deletedExecs(options: readonly OptionValue[]): ID[] {
  return options
    .filter((o) => o.value === '' && o.key.startsWith(EXEC_PREFIX))
    .map((o) => o.key.slice(EXEC_PREFIX.length))
}

/** The key of the value extension `namespace` applied. */
export function extensionKey(namespace: string): string {
  return `${EXT_PREFIX}${namespace}`
}

/** Where a run of the main process is. */
export type RunPhase = 'starting' | 'started' | 'stopping' | 'exited'

/**
 * The recorded state of the main process. `run` names the latest start: a start writes
 * `starting` with a fresh run token before powering on (keeping the previous run's fields, so a
 * start that fails reads as before), `started` once the program runs, `stopping` before a stop
 * signals it, and `exited` once its end is recorded.
 */
export interface MainStateRecord {
  readonly phase: RunPhase
  readonly run: string
  readonly pid: number
  readonly startedAt: string | null
  readonly finishedAt: string | null
  readonly exitCode: number
  readonly exitMsg: string
}

/**
 * A start written but not yet taken effect: the values its keys had before (what readers see
 * meanwhile), and the VM's power state and limits then.
 */
export interface PendingStart {
  /** The start's commit token (also its run token). */
  readonly token: string
  /** The previous value of every key the start's commit wrote (`''`: the key was absent). */
  readonly undo: readonly OptionValue[]
  readonly powerState: 'poweredOn' | 'poweredOff' | 'suspended'
  readonly memoryMb?: number
  readonly cpuMhz?: number
}

/** An exec'd process: its configuration, the run it was started in, and its recorded state. */
export interface ExecRecord extends ProcessConfig {
  readonly run: string
  readonly pid: number
  readonly startedAt: string
  /** Set once its end is recorded. */
  readonly finishedAt: string | null
  readonly exitCode: number
  readonly exitMsg: string
  readonly exited: boolean
}

/**
 * A file waiting for the next start. Small files are kept inline (base64); larger ones are
 * uploaded to the datastore first and only their location is recorded.
 */
export type PendingFileRecord =
  | {
      readonly dir: string
      readonly name: string
      readonly perms: number
      readonly size: number
      readonly data: string
    }
  | {
      readonly dir: string
      readonly name: string
      readonly perms: number
      readonly size: number
      readonly datastore: string
      readonly path: string
    }

/** Everything portlayer recorded about one container. */
export interface ContainerRecord {
  readonly id: ID
  readonly name: string
  readonly created: Date
  readonly limits: RequestedLimits | null
  readonly main: ProcessConfig | null
  readonly mainState: MainStateRecord | null
  /** In the order they were started. */
  readonly execs: readonly ExecRecord[]
  readonly files: readonly PendingFileRecord[]
  /** Applied extension values by namespace. */
  readonly extensions: ReadonlyMap<string, unknown>
  /** The last commit's token. */
  readonly rev: string | null
  /** The tokens of the last commits, oldest first. */
  readonly revs: readonly string[]
  /** The token of a destroy under way, if any. */
  readonly destroying: string | null
  /** A start under way that has not taken effect yet, if any. */
  readonly pending: PendingStart | null
  /** The token of a claimed power-off under way, if any. */
  readonly poweringOff: string | null
}

/**
 * The portlayer keys of an extraConfig list: the last entry per key wins, and an empty value
 * removes the key. Other keys are dropped.
 */
export function portlayerEntries(extraConfig: readonly OptionValue[] | undefined): Map<string, string> {
  const entries = new Map<string, string>()
  for (const option of extraConfig ?? []) {
    if (typeof option?.key !== 'string' || !option.key.startsWith(KEY_PREFIX)) continue
    const value = typeof option.value === 'string' ? option.value : ''
    if (value === '') entries.delete(option.key)
    else entries.set(option.key, value)
  }
  return entries
}

function json(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)
const isTime = (v: unknown): v is string => isStr(v) && !Number.isNaN(Date.parse(v))
const isTimeOrNull = (v: unknown): v is string | null => v === null || isTime(v)
const PHASES: ReadonlySet<string> = new Set(['starting', 'started', 'stopping', 'exited'])

function parseProcessConfig(v: unknown): ProcessConfig | null {
  if (!isObject(v)) return null
  const { processId, workDir, execPath, execArgs } = v
  if (!isId(processId) || !isStr(workDir) || !isStr(execPath) || !isStr(execArgs)) return null
  return { processId, workDir, execPath, execArgs }
}

function parseLimits(v: unknown): RequestedLimits | null {
  if (!isObject(v)) return null
  try {
    return { memoryMb: validateLimit(v.memoryMb, 'memoryMb'), cpuMhz: validateLimit(v.cpuMhz, 'cpuMhz') }
  } catch {
    return null
  }
}

function parseMainState(v: unknown): MainStateRecord | null {
  if (!isObject(v)) return null
  const { phase, run, pid, startedAt, finishedAt, exitCode, exitMsg } = v
  if (!isStr(phase) || !PHASES.has(phase) || !isStr(run) || !isInt(pid) || pid < 0) return null
  if (!isTimeOrNull(startedAt) || !isTimeOrNull(finishedAt) || !isInt(exitCode) || !isStr(exitMsg))
    return null
  return { phase: phase as RunPhase, run, pid, startedAt, finishedAt, exitCode, exitMsg }
}

function parseExec(processId: string, v: unknown): ExecRecord | null {
  const config = parseProcessConfig(isObject(v) ? { ...v, processId } : v)
  if (!config || !isObject(v)) return null
  const { run, pid, startedAt, finishedAt, exitCode, exitMsg, exited } = v
  if (!isStr(run) || !isInt(pid) || pid < 0 || !isTime(startedAt) || !isTimeOrNull(finishedAt)) return null
  if (!isInt(exitCode) || !isStr(exitMsg) || typeof exited !== 'boolean') return null
  return { ...config, run, pid, startedAt, finishedAt, exitCode, exitMsg, exited }
}

function parseFiles(v: unknown): PendingFileRecord[] {
  if (!Array.isArray(v)) return []
  const files: PendingFileRecord[] = []
  for (const f of v) {
    if (!isObject(f) || !isStr(f.dir) || !isStr(f.name) || !isInt(f.perms) || !isInt(f.size)) continue
    if (isStr(f.data)) files.push({ dir: f.dir, name: f.name, perms: f.perms, size: f.size, data: f.data })
    else if (isStr(f.datastore) && isStr(f.path))
      files.push({
        dir: f.dir,
        name: f.name,
        perms: f.perms,
        size: f.size,
        datastore: f.datastore,
        path: f.path,
      })
  }
  return files
}

/**
 * The container recorded in `entries`, or `null` when they do not hold a valid container ID (the
 * VM is not a portlayer container). Malformed optional values read as absent.
 */
export function decodeRecord(entries: ReadonlyMap<string, string>): ContainerRecord | null {
  const id = entries.get(Key.id)
  if (!isId(id)) return null
  const createdText = entries.get(Key.created)
  const created = new Date(createdText !== undefined && isTime(createdText) ? createdText : 0)
  const execs: ExecRecord[] = []
  const extensions = new Map<string, unknown>()
  for (const [key, value] of entries) {
    if (key.startsWith(EXEC_PREFIX)) {
      const exec = parseExec(key.slice(EXEC_PREFIX.length), json(value))
      if (exec) execs.push(exec)
    } else if (key.startsWith(EXT_PREFIX)) {
      const applied = json(value)
      if (applied !== undefined) extensions.set(key.slice(EXT_PREFIX.length), applied)
    }
  }
  const revs = parseRevs(entries.get(Key.rev))
  execs.sort((a, b) =>
    a.startedAt === b.startedAt ? (a.processId < b.processId ? -1 : 1) : a.startedAt < b.startedAt ? -1 : 1,
  )
  return {
    id,
    name: entries.get(Key.name) ?? '',
    created,
    limits: parseLimits(json(entries.get(Key.limits))),
    main: parseProcessConfig(json(entries.get(Key.main))),
    mainState: parseMainState(json(entries.get(Key.mainState))),
    execs,
    files: parseFiles(json(entries.get(Key.files))),
    extensions,
    rev: revs.at(-1) ?? null,
    revs,
    destroying: entries.get(Key.destroying) || null,
    pending: parsePending(json(entries.get(Key.pending))),
    poweringOff: entries.get(Key.poweringOff) || null,
  }
}

const POWER_STATES: ReadonlySet<string> = new Set(['poweredOn', 'poweredOff', 'suspended'])

function parsePending(v: unknown): PendingStart | null {
  if (!isObject(v) || !isStr(v.token) || !Array.isArray(v.undo) || !isStr(v.powerState)) return null
  if (!POWER_STATES.has(v.powerState)) return null
  const undo: OptionValue[] = []
  for (const o of v.undo) {
    if (!Array.isArray(o) || !isStr(o[0]) || !isStr(o[1])) return null
    undo.push({ key: o[0], value: o[1] })
  }
  return {
    token: v.token,
    undo,
    powerState: v.powerState as PendingStart['powerState'],
    ...(isInt(v.memoryMb) ? { memoryMb: v.memoryMb } : {}),
    ...(isInt(v.cpuMhz) ? { cpuMhz: v.cpuMhz } : {}),
  }
}

export function encodePending(pending: PendingStart): string {
  return JSON.stringify({
    token: pending.token,
    undo: pending.undo.map((o) => [o.key, o.value]),
    powerState: pending.powerState,
    memoryMb: pending.memoryMb,
    cpuMhz: pending.cpuMhz,
  })
}

/** One extraConfig entry; an empty `value` deletes the key. */
export function option(key: string, value: string): OptionValue {
  return { key, value }
}

export function encodeMain(main: ProcessConfig): string {
  return JSON.stringify({
    processId: main.processId,
    workDir: main.workDir,
    execPath: main.execPath,
    execArgs: main.execArgs,
  })
}

export function encodeMainState(state: MainStateRecord): string {
  return JSON.stringify({
    phase: state.phase,
    run: state.run,
    pid: state.pid,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    exitCode: state.exitCode,
    exitMsg: state.exitMsg,
  })
}

export function encodeExec(exec: ExecRecord): string {
  return JSON.stringify({
    workDir: exec.workDir,
    execPath: exec.execPath,
    execArgs: exec.execArgs,
    run: exec.run,
    pid: exec.pid,
    startedAt: exec.startedAt,
    finishedAt: exec.finishedAt,
    exitCode: exec.exitCode,
    exitMsg: exec.exitMsg,
    exited: exec.exited,
  })
}

export function encodeLimits(limits: RequestedLimits): string {
  return JSON.stringify({ memoryMb: limits.memoryMb, cpuMhz: limits.cpuMhz })
}

/** The files key's value; empty (deleting the key) when nothing is pending. */
export function encodeFiles(files: readonly PendingFileRecord[]): string {
  return files.length === 0 ? '' : JSON.stringify(files)
}

/** Applies `options` to `entries` the way vSphere would (last wins, empty deletes). */
export function applyOptions(
  entries: ReadonlyMap<string, string>,
  options: readonly OptionValue[],
): Map<string, string> {
  const next = new Map(entries)
  for (const o of options) {
    if (!o.key.startsWith(KEY_PREFIX)) continue
    if (o.value === '') next.delete(o.key)
    else next.set(o.key, o.value)
  }
  return next
}
