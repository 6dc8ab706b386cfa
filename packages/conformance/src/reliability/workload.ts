import type { Handle, ID, PortLayer, RunState } from '@portlayer/contracts'
import { type HistoryEvent, HistoryRecorder } from './history.js'
import { seededRandom } from './random.js'

/** Relative weights of what a client does next. */
export interface WorkloadMix {
  /** getHandle → getContainerConfig → setLimits(memoryMb + 1) → commit. */
  readonly readModifyCommit: number
  readonly start: number
  readonly stop: number
  /** Stop, then destroy (only in the last quarter of the run). */
  readonly destroy: number
  /** getContainerState or listContainers. */
  readonly read: number
}

/** The mix {@link runWorkload} uses by default: mostly read-modify-commit, some starts, stops and reads, a few destroys. */
export const DEFAULT_MIX: WorkloadMix = { readModifyCommit: 6, start: 2, stop: 2, destroy: 0.3, read: 2 }

/** Options of {@link runWorkload}: the backends, the clients, and how long or how much they work. */
export interface WorkloadOptions {
  /** The backend instances; client `i` uses instance `i % instances.length`. */
  readonly instances: readonly PortLayer[]
  /** Concurrent clients (default 16). */
  readonly clients?: number
  /** Containers the clients contend for (default 3). */
  readonly containers?: number
  /** How many create-handle commits race per container (default 4, spread over the instances). */
  readonly createRacers?: number
  /** Stop starting new actions after this many real milliseconds… */
  readonly durationMs?: number
  /** …or after this many actions per client (whichever comes first; at least one must be given). */
  readonly actionsPerClient?: number
  /** Main process of every container; it must run until signalled. */
  readonly entry?: { workDir: string; execPath: string; execArgs: string }
  readonly seed: number
  readonly mix?: WorkloadMix
  /** Containers' limits at creation; the counter lives in `memoryMb`. */
  readonly initialLimits?: readonly [number, number]
}

/** What {@link runWorkload} recorded: the history to check and the containers it created. */
export interface WorkloadResult {
  readonly history: HistoryEvent[]
  readonly ids: ID[]
  /** Count of recorded calls by kind and result (`commit:ok`, `commit:CONFLICT`, `commit:UNAVAILABLE?` for unknown outcomes…). */
  readonly counts: Record<string, number>
}

/**
 * Runs concurrent clients against one or more backend instances and records every call that
 * reads or changes a container, for {@link checkHistory}. Each container is created by several
 * clients committing one create-handle at once; then clients read-modify-commit a counter in
 * `memoryMb`, start, stop, read and (late in the run) destroy. Ends with a quiet read of every
 * container by each instance. Never throws for a failed call: failures are part of the history.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const {
    instances,
    clients = 16,
    containers = 3,
    createRacers = 4,
    durationMs,
    actionsPerClient,
    entry = { workDir: '/', execPath: '/bin/sleep', execArgs: '3600' },
    mix = DEFAULT_MIX,
    initialLimits = [256, 1000],
  } = options
  if (durationMs === undefined && actionsPerClient === undefined)
    throw new TypeError('runWorkload needs durationMs or actionsPerClient')
  const random = seededRandom(options.seed)
  const rec = new HistoryRecorder()
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
  const first = instances[0] as PortLayer

  // Creation: one create-handle per container, committed by several clients at once (on every
  // instance): exactly one may land.
  const handles: Handle[] = []
  for (let i = 0; i < containers; i++) {
    // Building the handle changes nothing; retried when a fault is injected into a setter.
    const h = await retried(async () => {
      const made = await first.createContainer(`lin-${i}`)
      const withEntry = await first.setEntryPoint(made, entry.workDir, entry.execPath, entry.execArgs)
      return first.setLimits(withEntry, initialLimits[0], initialLimits[1])
    })
    handles.push(h)
  }
  const ids = handles.map((h) => h.containerId)
  const createOne = (client: number, h: Handle) => {
    const instance = client % instances.length
    return rec.record(
      client,
      instance,
      { kind: 'create', id: h.containerId, limits: initialLimits, run: false },
      () => (instances[instance] as PortLayer).commit(h),
    )
  }
  await Promise.all(handles.flatMap((h) => Array.from({ length: createRacers }, (_, r) => createOne(r, h))))
  // A container none of whose commits landed (all faulted) gets a few more tries, so the run has
  // something to contend for.
  for (const h of handles) {
    for (let t = 0; t < 5; t++) {
      const landed = rec.events.some(
        (e) => e.input.kind === 'create' && e.input.id === h.containerId && e.result.ok,
      )
      const exists = await first.getHandle(h.containerId).then(
        () => true,
        () => false,
      )
      if (landed || exists) break
      await createOne(0, h)
    }
  }

  const deadline = durationMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + durationMs
  const started = Date.now()
  const total = Object.values(mix).reduce((a, b) => a + b, 0)
  const choose = (): keyof WorkloadMix => {
    let r = random() * total
    for (const [k, w] of Object.entries(mix) as Array<[keyof WorkloadMix, number]>) {
      r -= w
      if (r < 0) return k
    }
    return 'read'
  }

  const client = async (c: number): Promise<void> => {
    const instance = c % instances.length
    const pl = instances[instance] as PortLayer
    const call = <T>(
      input: Parameters<HistoryRecorder['record']>[2],
      fn: () => Promise<T>,
      value?: (v: T) => unknown,
    ) => rec.record(c, instance, input, fn, value)
    const getHandle = async (id: ID): Promise<Handle | undefined> => {
      const r = await call(
        { kind: 'getHandle', id },
        () => pl.getHandle(id),
        (h) => h.baseVersion,
      )
      return r.ok ? r.value : undefined
    }
    const commit = async (
      h: Handle,
      change: { limits?: [number, number]; runState?: Exclude<RunState, 'created'> },
    ) => {
      let next = h
      try {
        if (change.limits) next = await pl.setLimits(next, change.limits[0], change.limits[1])
        if (change.runState) next = await pl.setRunState(next, change.runState)
      } catch {
        return // a setter failed (injected fault): nothing was asked of the container
      }
      await call({ kind: 'commit', id: h.containerId, base: String(h.baseVersion), ...change }, () =>
        pl.commit(next),
      )
    }
    for (let n = 0; (actionsPerClient === undefined || n < actionsPerClient) && Date.now() < deadline; n++) {
      const id = pick(ids)
      let action = choose()
      const late =
        durationMs === undefined
          ? actionsPerClient !== undefined && n >= (actionsPerClient * 3) / 4
          : Date.now() - started >= (durationMs * 3) / 4
      if (action === 'destroy' && !late) action = 'stop'
      switch (action) {
        case 'readModifyCommit': {
          const h = await getHandle(id)
          if (!h) break
          const cfg = await call(
            { kind: 'config', id },
            () => pl.getContainerConfig(id),
            (v) => ({ ...v.limits }),
          )
          if (!cfg.ok) break
          await commit(h, { limits: [cfg.value.limits.memoryMb + 1, cfg.value.limits.cpuMhz] })
          break
        }
        case 'start':
        case 'stop': {
          const h = await getHandle(id)
          if (h) await commit(h, { runState: action === 'start' ? 'running' : 'stopped' })
          break
        }
        case 'destroy': {
          const h = await getHandle(id)
          if (h) await commit(h, { runState: 'stopped' })
          await call({ kind: 'destroy', id }, () => pl.destroyContainer(id))
          break
        }
        case 'read':
          if (random() < 0.5)
            await call(
              { kind: 'state', id },
              () => pl.getContainerState(id),
              (s) => s.status,
            )
          else
            await call(
              { kind: 'list', ids },
              () => pl.listContainers(),
              (list) => list.filter((x) => ids.includes(x)),
            )
          break
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)))
  await quietReads(rec, instances, ids, clients)
  return { history: rec.events, ids, counts: countOf(rec.events) }
}

/** After the run, each instance reads every container once more, one call at a time. */
export async function quietReads(
  rec: HistoryRecorder,
  instances: readonly PortLayer[],
  ids: readonly ID[],
  client: number,
): Promise<void> {
  for (const [instance, pl] of instances.entries()) {
    for (const id of ids) {
      await rec.record(
        client,
        instance,
        { kind: 'getHandle', id },
        () => pl.getHandle(id),
        (h) => h.baseVersion,
      )
      await rec.record(
        client,
        instance,
        { kind: 'config', id },
        () => pl.getContainerConfig(id),
        (v) => ({
          ...v.limits,
        }),
      )
      await rec.record(
        client,
        instance,
        { kind: 'state', id },
        () => pl.getContainerState(id),
        (s) => s.status,
      )
    }
    await rec.record(
      client,
      instance,
      { kind: 'list', ids },
      () => pl.listContainers(),
      (list) => list.filter((x) => ids.includes(x)),
    )
  }
}

async function retried<T>(fn: () => Promise<T>, tries = 1_000): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (e) {
      if (i >= tries) throw e
    }
  }
}

function countOf(events: readonly HistoryEvent[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const e of events) {
    const r = e.result
    const key = `${e.input.kind}:${r.ok ? 'ok' : r.outcome === 'unknown' ? `${r.code}?` : r.code}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)))
}
