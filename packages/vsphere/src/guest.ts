import { DEFAULT_DIRECTORIES, type FileCopy, TimeoutError } from '@portlayer/contracts'
import type {
  GuestAuthentication,
  GuestPosixFileAttributes,
  GuestProcessInfo,
  MoRef,
  ObjectContent,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { BACKEND, faultOf, isCode, wrap } from './errors.js'
import type { Inventory } from './inventory.js'
import { captureCommand } from './output-capture.js'
import { guestPassword, type ResolvedGuestCredentials } from './settings.js'
import { retrieve } from './vim-calls.js'

/** A file to put into a guest. */
export interface GuestFile {
  readonly dir: string
  readonly name: string
  readonly perms: number
  readonly data: Uint8Array
}

// Directories every container already has, with their parents: no MakeDirectoryInGuest for them.
const KNOWN_DIRECTORIES: ReadonlySet<string> = (() => {
  const known = new Set<string>(['/'])
  for (const dir of DEFAULT_DIRECTORIES) {
    let d = dir
    while (d !== '' && d !== '/') {
      known.add(d)
      d = d.slice(0, d.lastIndexOf('/'))
    }
  }
  return known
})()

/** Faults meaning the guest cannot take operations right now (tools starting, VM not running). */
const GUEST_NOT_READY = [
  'GuestOperationsUnavailable',
  'ToolsUnavailable',
  'InvalidPowerState',
  'InvalidState',
]

const TOOLS_STATUS = 'guest.toolsRunningStatus'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Guest operations on container VMs, with the configured credentials. */
export class Guest {
  constructor(
    private readonly gateway: VmomiGateway,
    private readonly inventory: Inventory,
    // The password is not on this object; the authentication that carries it is made per call.
    private readonly credentials: ResolvedGuestCredentials,
  ) {}

  #auth(): GuestAuthentication {
    return {
      _type: 'NamePasswordAuthentication',
      interactiveSession: false,
      username: this.credentials.username,
      password: guestPassword(this.credentials),
    }
  }

  /** True when a failure means the guest was not ready for operations. */
  static notReady(error: unknown): boolean {
    const fault = faultOf(error)
    return fault !== undefined && GUEST_NOT_READY.includes(fault)
  }

  /**
   * Waits until the VM's guest tools run; one property read when they already do. Each read also
   * fetches `paths`, and the last one (taken with tools running) is returned.
   * @throws TimeoutError when they do not start within `timeoutMs`.
   */
  /** What {@link waitForTools} reads: the tools' state and `paths`. */
  toolsPaths(paths: readonly string[]): string[] {
    return [TOOLS_STATUS, ...paths]
  }

  async waitForTools(
    vm: MoRef,
    timeoutMs: number,
    target: string,
    paths: readonly string[] = [],
    seen?: ObjectContent,
  ): Promise<ObjectContent | undefined> {
    const deadline = Date.now() + timeoutMs
    let pause = 100
    // A read made already (with the power-on, see runTaskThenRead) may have found them running.
    let first = seen
    for (;;) {
      const [content] = first
        ? [first]
        : await retrieve(this.gateway, 'VirtualMachine', [vm], this.toolsPaths(paths))
      first = undefined
      const status = content?.propSet?.find((p) => p.name === TOOLS_STATUS)?.val
      if (status === 'guestToolsRunning') return content
      if (content === undefined || Date.now() + pause > deadline) {
        throw new TimeoutError(`guest tools of container ${target} did not start within ${timeoutMs} ms`, {
          backend: BACKEND,
          target,
          detail: { toolsRunningStatus: status },
        })
      }
      await sleep(pause)
      pause = Math.min(pause * 2, 2_000)
    }
  }

  /** Starts a program; resolves with its guest pid. */
  startProgram(vm: MoRef, programPath: string, args: string, workingDirectory?: string): Promise<number> {
    return this.gateway.call('StartProgramInGuest', {
      _this: this.inventory.processManager,
      vm,
      auth: this.#auth(),
      spec: {
        programPath,
        arguments: args,
        ...(workingDirectory === undefined ? {} : { workingDirectory }),
      },
    })
  }

  /**
   * Starts `execPath execArgs` as portlayer process `processId`, its stdout and stderr captured
   * to files in the guest (see output-capture.ts); resolves with its guest pid.
   */
  startCaptured(
    vm: MoRef,
    processId: string,
    execPath: string,
    execArgs: string,
    workingDirectory: string,
  ): Promise<number> {
    const { programPath, args } = captureCommand(processId, execPath, execArgs)
    return this.startProgram(vm, programPath, args, workingDirectory)
  }

  /** The guest's processes started through guest operations (with `pids`, just those). */
  listProcesses(vm: MoRef, pids?: readonly number[]): Promise<GuestProcessInfo[]> {
    return this.gateway.call('ListProcessesInGuest', {
      _this: this.inventory.processManager,
      vm,
      auth: this.#auth(),
      ...(pids === undefined ? {} : { pids: [...pids] }),
    })
  }

  /** Ends a guest process at once. */
  async terminate(vm: MoRef, pid: number): Promise<void> {
    await this.gateway.call('TerminateProcessInGuest', {
      _this: this.inventory.processManager,
      vm,
      auth: this.#auth(),
      pid,
    })
  }

  /**
   * Copies `files` in, creating missing directories (with parents) once per directory. Files of
   * the same commit go in the order given.
   */
  async copyIn(vm: MoRef, files: readonly GuestFile[], target: string): Promise<void> {
    // In three passes, so a file that cannot land (its directory is a file in the guest, its
    // path a directory) is refused before any file is written: directories first, then every
    // transfer is initiated (the guest checks each path then), and only then are bytes sent.
    const made = new Set<string>(KNOWN_DIRECTORIES)
    for (const file of files) {
      if (made.has(file.dir)) continue
      await this.makeDirectory(vm, file.dir, target)
      made.add(file.dir)
    }
    const urls: string[] = []
    for (const file of files) {
      const path = guestPath(file.dir, file.name)
      try {
        urls.push(
          await this.gateway.call('InitiateFileTransferToGuest', {
            _this: this.inventory.fileManager,
            vm,
            auth: this.#auth(),
            guestFilePath: path,
            fileAttributes: posixAttributes(file.perms),
            fileSize: file.data.byteLength,
            overwrite: true,
          }),
        )
      } catch (e) {
        throw wrap(e, `copying ${path} into container ${target}`, target)
      }
    }
    for (const [i, file] of files.entries()) {
      try {
        await this.gateway.transfer({ method: 'PUT', url: urls[i] as string, body: file.data })
      } catch (e) {
        throw wrap(e, `copying ${guestPath(file.dir, file.name)} into container ${target}`, target)
      }
    }
  }

  private async makeDirectory(vm: MoRef, dir: string, target: string): Promise<void> {
    try {
      await this.gateway.call('MakeDirectoryInGuest', {
        _this: this.inventory.fileManager,
        vm,
        auth: this.#auth(),
        directoryPath: dir,
        createParentDirectories: true,
      })
    } catch (e) {
      if (faultOf(e) === 'FileAlreadyExists') return
      throw wrap(e, `creating directory ${dir} in container ${target}`, target)
    }
  }

  /**
   * Reads a file from the guest.
   * @throws NotFoundError when the file does not exist.
   */
  async copyOut(vm: MoRef, path: string, target: string): Promise<Uint8Array> {
    try {
      const info = await this.gateway.call('InitiateFileTransferFromGuest', {
        _this: this.inventory.fileManager,
        vm,
        auth: this.#auth(),
        guestFilePath: path,
      })
      // An empty file has nothing to fetch (most output files of a quiet process are empty).
      if (info.size === 0) return new Uint8Array()
      const response = await this.gateway.transfer({ method: 'GET', url: info.url })
      return response.body
    } catch (e) {
      if (faultOf(e) === 'ManagedObjectNotFound')
        throw wrap(e, `container ${target} not found`, target, 'NOT_FOUND')
      if (isCode(e, 'NOT_FOUND') || faultOf(e) === 'FileNotFound') {
        throw wrap(e, `file ${path} not found in container ${target}`, target, 'NOT_FOUND')
      }
      throw wrap(e, `copying ${path} out of container ${target}`, target)
    }
  }
}

/** The path of file `name` in guest directory `dir`. */
export function guestPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

/** True when starting a program failed because the program does not exist (vSphere: `FileNotFound`). */
export function programNotFound(error: unknown): boolean {
  return faultOf(error) === 'FileNotFound'
}

function posixAttributes(permissions: number): GuestPosixFileAttributes {
  return { _type: 'GuestPosixFileAttributes', permissions }
}

/** A handle's file copy as a guest file. */
export function toGuestFile(file: FileCopy): GuestFile {
  return { dir: file.targetDir, name: file.fname, perms: file.perms, data: file.data }
}

/** The command line the guest reports for a program started with `execPath` and `execArgs`. */
export function commandLine(execPath: string, execArgs: string): string {
  return execArgs === '' ? execPath : `${execPath} ${execArgs}`
}

/**
 * The pid of a program whose start's answer was lost, from the guest's process list: the newest
 * process with that command line that began since `since` (a second of slack for coarse guest
 * clocks) and is none of the `known` pids; `undefined` when there is none.
 */
export function launchedSince(
  procs: readonly GuestProcessInfo[],
  cmdLine: string,
  since: Date,
  known: ReadonlySet<number> = new Set(),
): number | undefined {
  const from = since.getTime() - 1_000
  let best: GuestProcessInfo | undefined
  for (const p of procs) {
    if (p.cmdLine !== cmdLine || known.has(p.pid) || p.startTime.getTime() < from) continue
    if (!best || p.startTime.getTime() > best.startTime.getTime()) best = p
  }
  return best?.pid
}
