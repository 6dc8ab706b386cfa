import type { CallOptions } from './call-options.js'
import type { Handle } from './handle.js'
import type { ID } from './ids.js'
import type { Interaction } from './interaction.js'
import type { ContainerConfig, ContainerState } from './model.js'
import type { RunState } from './states.js'

/**
 * Creating and changing containers. Setters validate their arguments at once and return a new
 * handle (the old one stays valid); nothing changes until `commit`.
 */
export interface ContainerLifecycle {
  /**
   * A handle for a new container named `name`. The container's ID is fixed now; it exists (and
   * is listed) only once the handle is committed.
   * @throws InvalidArgumentError for a malformed name.
   */
  createContainer(name: string, options?: CallOptions): Promise<Handle>

  /**
   * A handle for an existing container, based on its current version.
   * @throws InvalidArgumentError for a malformed ID; NotFoundError for an unknown one.
   */
  getHandle(id: ID, options?: CallOptions): Promise<Handle>

  /**
   * Adds a file to copy into the container: on a running container it lands when the commit
   * returns; otherwise when the container next starts, before its main process. Missing
   * directories of `targetDir` are created.
   * @param targetDir absolute directory, no `..` segments
   * @param fname a single path segment (no `/`, not `.` or `..`)
   * @param perms POSIX mode 0–0o7777
   * @throws InvalidArgumentError for any malformed argument.
   */
  copyTo(
    h: Handle,
    targetDir: string,
    fname: string,
    perms: number,
    data: Uint8Array,
    options?: CallOptions,
  ): Promise<Handle>

  /**
   * Sets the main process started when the container runs.
   * @throws InvalidArgumentError unless `workDir` and `execPath` are absolute and `execArgs`'
   * quotes balance.
   */
  setEntryPoint(
    h: Handle,
    workDir: string,
    execPath: string,
    execArgs: string,
    options?: CallOptions,
  ): Promise<Handle>

  /**
   * Sets memory (MiB) and CPU (MHz) limits; `-1` asks for the backend's documented default.
   * Limits committed to a running container are ignored (the rest of the commit applies).
   * @throws InvalidArgumentError unless each is `-1` or a positive integer within range.
   */
  setLimits(h: Handle, memoryMb: number, cpuMhz: number, options?: CallOptions): Promise<Handle>

  /**
   * Asks for the container to be `running` (starts the main process) or `stopped` (SIGTERM,
   * a bounded grace period, then kill).
   * @throws InvalidArgumentError for `created` or an unknown state.
   */
  setRunState(h: Handle, runState: RunState, options?: CallOptions): Promise<Handle>

  /**
   * Applies every change of the handle and resolves once all are applied, with the container ID.
   * @throws ConcurrentModificationError (`CONFLICT`) when the container changed since the
   * handle's base version, including a second commit of the same handle; nothing is applied.
   * @throws InvalidStateError when asked to run a container without an entry point.
   * @throws NotFoundError when the container was destroyed meanwhile.
   */
  commit(h: Handle, options?: CallOptions): Promise<ID>

  /**
   * Removes a created or stopped container for good, with its file system.
   * @throws InvalidStateError when it is running; NotFoundError when it does not exist.
   */
  destroyContainer(id: ID, options?: CallOptions): Promise<void>
}

/** Reading containers. */
export interface ContainerQuery {
  /**
   * The IDs of committed containers in `forState`, or of all when it is omitted.
   * @throws InvalidArgumentError for an unknown state.
   */
  listContainers(forState?: RunState, options?: CallOptions): Promise<ID[]>

  /** @throws NotFoundError for an unknown container. */
  getContainerConfig(id: ID, options?: CallOptions): Promise<ContainerConfig>

  /** @throws NotFoundError for an unknown container. */
  getContainerState(id: ID, options?: CallOptions): Promise<ContainerState>

  /**
   * Reads a file from a running container.
   * @throws InvalidStateError when it is not running; NotFoundError when the container or the
   * file does not exist; InvalidArgumentError for malformed paths.
   */
  copyFrom(id: ID, sourceDir: string, fname: string, options?: CallOptions): Promise<Uint8Array>
}

/** Processes inside running containers. */
export interface ProcessLifecycle {
  /**
   * Starts another process in a running container and returns its ID; its config joins
   * `execdProcs` and its state the state's `execdProcs`.
   * @throws InvalidStateError when the container is not running; NotFoundError when unknown.
   */
  execProcess(id: ID, workDir: string, execPath: string, execArgs: string, options?: CallOptions): Promise<ID>

  /**
   * Sends signal `signal` (1–64) to an exec'd process, or to the main process when given a
   * container ID. A signalled process exits with `128 + signal`.
   * @throws NotFoundError when neither a container nor a process has that ID;
   * InvalidStateError when the process is not running.
   */
  signal(processOrContainerId: ID, signal: number, options?: CallOptions): Promise<void>
}

/** The whole port layer: what every backend implements. */
export interface PortLayer extends ContainerLifecycle, ContainerQuery, ProcessLifecycle, Interaction {}
