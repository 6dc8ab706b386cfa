// The yardstick for the simulator's fixed costs (issue 11): the same lifecycle calls over a plain
// `Map` of containers, written the obvious way, doing the same checks. Not a port layer: no
// events, extensions, faults, deadlines, signals, clocks, snapshots, programs or file trees — only
// what the bench's lifecycle needs, with each argument validated by the contracts' validators,
// versions compared at commit, the entry point required to start, files landing at start, fresh
// random IDs for containers and processes, SIGTERM ending the processes at stop.
import { randomUUID } from 'node:crypto'
import {
  ConcurrentModificationError,
  type EntryPoint,
  findPendingFileConflict,
  type ID,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  type RunState,
  validateAbsolutePath,
  validateData,
  validateFileName,
  validateId,
  validateLimit,
  validateName,
  validatePerms,
  validateProcess,
  validateTargetRunState,
} from '@portlayer/contracts'

interface NaiveFile {
  targetDir: string
  fname: string
  perms: number
  data: Uint8Array
}

export interface NaiveHandle {
  containerId: ID
  baseVersion: number | null
  name?: string
  entry?: EntryPoint
  limits?: { memoryMb: number; cpuMhz: number }
  runState?: RunState
  files: NaiveFile[]
}

interface NaiveProcess {
  id: ID
  status: 'started' | 'exited'
  exitCode: number
}

interface NaiveContainer {
  id: ID
  name: string
  version: number
  status: 'created' | 'running' | 'stopped'
  memoryMb: number
  cpuMhz: number
  entry: EntryPoint | null
  files: Map<string, { perms: number; data: Uint8Array }>
  pending: NaiveFile[]
  main: NaiveProcess | null
  execd: NaiveProcess[]
}

export class NaiveStore {
  readonly #containers = new Map<ID, NaiveContainer>()
  readonly #issued = new Set<ID>()
  #version = 0

  async createContainer(name: string): Promise<NaiveHandle> {
    validateName(name)
    const id = randomUUID()
    this.#issued.add(id)
    return { containerId: id, baseVersion: null, name, files: [] }
  }

  async getHandle(id: ID): Promise<NaiveHandle> {
    return { containerId: id, baseVersion: this.#get(id).version, files: [] }
  }

  async setEntryPoint(
    h: NaiveHandle,
    workDir: string,
    execPath: string,
    execArgs: string,
  ): Promise<NaiveHandle> {
    return { ...h, entry: validateProcess(workDir, execPath, execArgs) }
  }

  async setLimits(h: NaiveHandle, memoryMb: number, cpuMhz: number): Promise<NaiveHandle> {
    return {
      ...h,
      limits: { memoryMb: validateLimit(memoryMb, 'memoryMb'), cpuMhz: validateLimit(cpuMhz, 'cpuMhz') },
    }
  }

  async setRunState(h: NaiveHandle, runState: RunState): Promise<NaiveHandle> {
    return { ...h, runState: validateTargetRunState(runState) }
  }

  async copyTo(
    h: NaiveHandle,
    targetDir: string,
    fname: string,
    perms: number,
    data: Uint8Array,
  ): Promise<NaiveHandle> {
    const file = {
      targetDir: validateAbsolutePath(targetDir, 'targetDir'),
      fname: validateFileName(fname),
      perms: validatePerms(perms),
      data: new Uint8Array(validateData(data)),
    }
    const files = [...h.files, file]
    const conflict = findPendingFileConflict(files)
    if (conflict !== undefined) throw new InvalidArgumentError(`pending files conflict: ${conflict}`)
    return { ...h, files }
  }

  async commit(h: NaiveHandle): Promise<ID> {
    const id = h.containerId
    let c = this.#containers.get(id)
    if (h.baseVersion === null) {
      if (c !== undefined || !this.#issued.has(id))
        throw new ConcurrentModificationError(`container ${id} was already created`)
    } else {
      if (c === undefined) throw new NotFoundError(`no container ${id}`)
      if (c.version !== h.baseVersion)
        throw new ConcurrentModificationError(`container ${id} changed since the handle was made`)
    }
    const entry = h.entry ?? c?.entry ?? null
    if (h.runState === 'running' && entry === null)
      throw new InvalidStateError(`container ${id} has no entry point`)
    if (c === undefined) {
      c = {
        id,
        name: h.name as string,
        version: 0,
        status: 'created',
        memoryMb: 2048,
        cpuMhz: 0,
        entry: null,
        files: new Map(),
        pending: [],
        main: null,
        execd: [],
      }
      this.#containers.set(id, c)
      this.#issued.delete(id)
    }
    c.version = ++this.#version
    if (h.limits !== undefined) {
      c.memoryMb = h.limits.memoryMb
      c.cpuMhz = h.limits.cpuMhz
    }
    c.entry = entry
    for (const f of h.files) c.pending.push(f)
    if (h.runState === 'running' && c.status !== 'running') {
      for (const f of c.pending) c.files.set(`${f.targetDir}/${f.fname}`, { perms: f.perms, data: f.data })
      c.pending = []
      const path = (c.entry as EntryPoint).execPath
      const file = c.files.get(path)
      if (file === undefined || (file.perms & 0o111) === 0)
        throw new InvalidStateError(`${path} is not executable`)
      c.main = { id: c.main?.id ?? randomUUID(), status: 'started', exitCode: 0 }
      c.status = 'running'
    } else if (h.runState === 'stopped' && c.status === 'running') {
      for (const p of c.execd)
        if (p.status === 'started') Object.assign(p, { status: 'exited', exitCode: 143 })
      if (c.main) Object.assign(c.main, { status: 'exited', exitCode: 143 })
      c.status = 'stopped'
    }
    return id
  }

  async execProcess(id: ID, workDir: string, execPath: string, execArgs: string): Promise<ID> {
    validateProcess(workDir, execPath, execArgs)
    const c = this.#get(id)
    if (c.status !== 'running') throw new InvalidStateError(`container ${id} is not running`)
    const p: NaiveProcess = { id: randomUUID(), status: 'started', exitCode: 0 }
    c.execd.push(p)
    return p.id
  }

  async destroyContainer(id: ID): Promise<void> {
    const c = this.#get(id)
    if (c.status === 'running') throw new InvalidStateError(`container ${id} is running`)
    this.#containers.delete(id)
  }

  #get(id: ID): NaiveContainer {
    const c = this.#containers.get(id)
    if (c === undefined) {
      validateId(id)
      throw new NotFoundError(`no container ${id}`)
    }
    return c
  }
}
