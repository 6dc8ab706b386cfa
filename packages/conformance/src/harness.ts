import {
  type Capabilities,
  type CommitExtension,
  type ContainerConfig,
  type ContainerState,
  type ExtensibleBackend,
  type Handle,
  type ID,
  type Interaction,
  type PortLayer,
  PortLayerError,
  type ProcessState,
} from '@portlayer/contracts'
import type { ConformanceBackend, ResolvedOptions } from './backend.js'
import { eventually, type Held } from './eventually.js'
import { type ContainerSnapshot, snapshotContainer } from './snapshot.js'

/** The port layer as tests see it. */
export type TestedPortLayer = PortLayer & Partial<Interaction> & Partial<ExtensibleBackend>

/** What a backend offers to end it: `close()` and `Symbol.asyncDispose` (every backend has both). */
export interface Closable {
  close(): unknown
  [Symbol.asyncDispose](): PromiseLike<void>
}

const INTERACTION_METHODS = ['events', 'waitForExit', 'readOutput'] as const

/** A main or exec'd process: where it runs, what it runs. */
export interface ProgramSpec {
  readonly workDir?: string
  readonly execPath: string
  readonly execArgs?: string
}

/** A file to copy in. */
export interface FileSpec {
  readonly dir: string
  readonly name: string
  readonly data: Uint8Array
  readonly perms?: number
}

/** What a test container is made of; every part is optional. */
export interface ContainerSpec {
  readonly entry?: ProgramSpec
  readonly limits?: readonly [memoryMb: number, cpuMhz: number]
  readonly files?: readonly FileSpec[]
  readonly run?: boolean
}

/** Runs until signalled, on every backend, without needing a file copied in. */
export const LONG_RUNNER: ProgramSpec = { workDir: '/', execPath: '/bin/sleep', execArgs: '3600' }

const encoder = new TextEncoder()
export const text = (s: string): Uint8Array => encoder.encode(s)

/** An executable file that ignores SIGTERM (program semantics), so a stop waits its grace period. */
export const IGNORES_SIGTERM = text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")

/** A failed call seen through the harness's port layer. */
export interface FailedCall {
  readonly operation: string
  readonly error: PortLayerError
}

/**
 * One test's view of the backend: the port layer (commits are tracked so the containers a test
 * creates are removed afterwards, leaving a shared backend as it was), the clock, and the
 * building blocks tests share.
 */
export class Harness {
  readonly pl: TestedPortLayer
  private readonly raw: TestedPortLayer
  private readonly created: ID[] = []
  /** Every PortLayerError the test's calls failed with, for the outcome check after the test. */
  readonly failures: FailedCall[] = []
  private readonly unregisters: Array<() => void> = []
  private serial = 0

  constructor(
    private readonly backend: ConformanceBackend,
    readonly caps: Capabilities,
    readonly options: ResolvedOptions,
  ) {
    this.raw = backend.portLayer
    this.pl = trackCalls(
      this.raw,
      (id) => {
        if (!this.created.includes(id)) this.created.push(id)
      },
      (failure) => this.failures.push(failure),
    )
  }

  advance(ms: number): Promise<void> {
    return this.backend.advance(ms)
  }

  /** The background failures the backend reported, when it says (see `ConformanceBackend`). */
  backgroundErrors(): readonly unknown[] | undefined {
    return this.backend.backgroundErrors?.()
  }

  /** Waits for `condition` on the backend's clock (see the exported `eventually`). */
  eventually<T>(condition: () => T | Promise<T>, message: string): Promise<Held<T>> {
    return eventually(condition, {
      advance: (ms) => this.backend.advance(ms),
      pollMs: this.options.pollMs,
      timeoutMs: this.options.waitMs,
      message,
    })
  }

  /** A container name unique to this test run. */
  name(label: string): string {
    this.serial++
    return `conformance-${label}-${this.serial}-${Math.random().toString(36).slice(2, 8)}`
  }

  /** Builds a create-handle from `spec` (not committed). */
  async createHandle(label: string, spec: ContainerSpec = {}): Promise<Handle> {
    const h = await this.pl.createContainer(this.name(label))
    return this.applySpec(h, spec)
  }

  /** Applies `spec` to any handle. */
  async applySpec(handle: Handle, spec: ContainerSpec): Promise<Handle> {
    const { pl } = this
    let h = handle
    if (spec.limits) h = await pl.setLimits(h, spec.limits[0], spec.limits[1])
    if (spec.entry) {
      const e = spec.entry
      h = await pl.setEntryPoint(h, e.workDir ?? '/', e.execPath, e.execArgs ?? '')
    }
    for (const f of spec.files ?? []) h = await pl.copyTo(h, f.dir, f.name, f.perms ?? 0o644, f.data)
    if (spec.run) h = await pl.setRunState(h, 'running')
    return h
  }

  /** Creates and commits a container; returns its ID. */
  async container(label: string, spec: ContainerSpec = {}): Promise<ID> {
    return this.pl.commit(await this.createHandle(label, spec))
  }

  /** A running container whose main process runs until signalled (`LONG_RUNNER` by default). */
  async running(label: string, spec: ContainerSpec = {}): Promise<ID> {
    return this.container(label, { entry: LONG_RUNNER, ...spec, run: true })
  }

  /** getHandle → change → commit. */
  async update(id: ID, change: (h: Handle) => Promise<Handle>): Promise<ID> {
    return this.pl.commit(await change(await this.pl.getHandle(id)))
  }

  start(id: ID): Promise<ID> {
    return this.update(id, (h) => this.pl.setRunState(h, 'running'))
  }

  stop(id: ID): Promise<ID> {
    return this.update(id, (h) => this.pl.setRunState(h, 'stopped'))
  }

  config(id: ID): Promise<ContainerConfig> {
    return this.pl.getContainerConfig(id)
  }

  state(id: ID): Promise<ContainerState> {
    return this.pl.getContainerState(id)
  }

  snapshot(id: ID): Promise<ContainerSnapshot> {
    return snapshotContainer(this.pl, id)
  }

  /** The main process's state; fails the test when there is none. */
  async main(id: ID): Promise<ProcessState> {
    const main = (await this.state(id)).mainProcess
    if (!main) throw new Error(`container ${id} reports no main process`)
    return main
  }

  /** One exec'd process's state; fails the test when it is not listed. */
  async execd(id: ID, processId: ID): Promise<ProcessState> {
    const found = (await this.state(id)).execdProcs.find((p) => p.processId === processId)
    if (!found) throw new Error(`container ${id} does not list exec'd process ${processId}`)
    return found
  }

  /** Waits until the main process has exited and the container is stopped; returns the state. */
  mainExited(id: ID): Promise<ContainerState> {
    return this.eventually(async () => {
      const s = await this.state(id)
      return s.mainProcess?.status === 'exited' && s.status === 'stopped' ? s : undefined
    }, `main process of ${id} exited and container stopped`)
  }

  /** Waits until an exec'd process has exited; returns its state. */
  execdExited(id: ID, processId: ID): Promise<ProcessState> {
    return this.eventually(async () => {
      const p = await this.execd(id, processId)
      return p.status === 'exited' ? p : undefined
    }, `exec'd process ${processId} of ${id} exited`)
  }

  /** Runs `program` as the main process of a new container and returns its final state. */
  async runMain(label: string, program: ProgramSpec, spec: ContainerSpec = {}): Promise<ProcessState> {
    const id = await this.container(label, { ...spec, entry: program, run: true })
    const s = await this.mainExited(id)
    return s.mainProcess as ProcessState
  }

  /** A handle with `value` in extension slot `namespace`. */
  withSlot(handle: Handle, namespace: string, value: unknown): Handle {
    const factory = this.options.handleFactory
    if (factory) return factory.withExtension(handle, namespace, value)
    return {
      ...handle,
      pending: { ...handle.pending, extensions: { ...handle.pending.extensions, [namespace]: value } },
    }
  }

  /** The backend's extension API; fails the test when a backend claiming `extensions` lacks it. */
  extensible(): ExtensibleBackend {
    const { registerExtension, getExtensionState } = this.raw
    if (typeof registerExtension !== 'function' || typeof getExtensionState !== 'function') {
      throw new Error(
        'the backend declares the extensions capability but lacks registerExtension/getExtensionState',
      )
    }
    return this.raw as ExtensibleBackend
  }

  /**
   * The backend's `Interaction` methods (through the tracked port layer); fails the test, naming
   * what is missing, when the backend lacks one of `needed` (by default all of them).
   */
  interaction(...needed: Array<keyof Interaction>): PortLayer & Interaction {
    const wanted = needed.length === 0 ? INTERACTION_METHODS : needed
    const missing = wanted.filter((m) => typeof this.raw[m] !== 'function')
    if (missing.length > 0) {
      throw new Error(
        `the backend lacks ${missing.join(', ')} of the Interaction contract (every backend has them)`,
      )
    }
    return this.pl as PortLayer & Interaction
  }

  /** The backend's `close()` and `Symbol.asyncDispose`; fails the test when it lacks them. */
  closable(): Closable {
    const raw = this.raw as Partial<Closable>
    if (typeof raw.close !== 'function' || typeof raw[Symbol.asyncDispose] !== 'function') {
      throw new Error('the backend lacks close() or Symbol.asyncDispose (every backend has both)')
    }
    return raw as Closable
  }

  /** True when the backend offers a second client (`ConformanceBackend.otherClient`). */
  get hasOtherClient(): boolean {
    return typeof this.backend.otherClient === 'function'
  }

  /** A second client of the same backend; fails the test when there is none. */
  async otherClient(): Promise<TestedPortLayer> {
    const make = this.backend.otherClient
    if (make === undefined) throw new Error('the backend offers no otherClient()')
    return (await make.call(this.backend)) as TestedPortLayer
  }

  /** Registers an extension for this test only. */
  register<T>(extension: CommitExtension<T>): () => void {
    const unregister = this.extensible().registerExtension(extension)
    this.unregisters.push(unregister)
    return unregister
  }

  /** A fresh extension namespace, so a shared backend never sees two tests' extensions collide. */
  namespace(label: string): string {
    return `conformance.${label}-${Math.random().toString(36).slice(2, 10)}`
  }

  /**
   * The failed calls whose error breaks the outcome rule on a reachable backend: every failure
   * must say `outcome: 'not-applied'` (also in `toJSON()`), since `'unknown'` is only for a
   * backend that could not find out, and the suite runs against a reachable one.
   */
  outcomeViolations(): string[] {
    const wrong: string[] = []
    for (const { operation, error } of this.failures) {
      let json: unknown
      try {
        json = error.toJSON().outcome
      } catch {
        json = '(toJSON threw)'
      }
      if (error.outcome !== 'not-applied' || json !== 'not-applied') {
        wrong.push(
          `${operation} failed with ${error.code} and outcome ${String(error.outcome)} (toJSON: ${String(json)}): ${error.message.slice(0, 200)}`,
        )
      }
    }
    return wrong
  }

  /**
   * Removes what the test created (stopping running containers first), unregisters its
   * extensions, and closes the backend. Best effort: a cleanup failure must not hide the test's
   * own result, and the next test gets a fresh backend or tolerates leftovers anyway.
   */
  async dispose(): Promise<void> {
    for (const id of [...this.created].reverse()) {
      try {
        await this.raw.destroyContainer(id)
      } catch (e) {
        if (!PortLayerError.isInstance(e, 'INVALID_STATE')) continue
        try {
          const h = await this.raw.setRunState(await this.raw.getHandle(id), 'stopped')
          await this.raw.commit(h)
          await this.raw.destroyContainer(id)
        } catch {
          // left for the backend's own teardown
        }
      }
    }
    for (const unregister of this.unregisters.reverse()) {
      try {
        unregister()
      } catch {
        // already removed by the test
      }
    }
    await this.backend.close?.()
  }
}

/**
 * Wraps the port layer so each committed create-handle's container is remembered for cleanup,
 * and every PortLayerError a call fails with is reported (for the outcome check). Arguments pass
 * through unchanged, the options argument included.
 */
function trackCalls(
  pl: TestedPortLayer,
  onCreate: (id: ID) => void,
  onFailure: (failure: FailedCall) => void,
): TestedPortLayer {
  const note = (operation: string, error: unknown): void => {
    if (PortLayerError.isInstance(error)) onFailure({ operation, error })
  }
  return new Proxy(pl, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const operation = String(prop)
      return (...args: unknown[]): unknown => {
        const creating = prop === 'commit' && isCreateHandle(args[0])
        let result: unknown
        try {
          // Called on the real object so backends with private fields keep working through the proxy.
          result = Reflect.apply(value, target, args)
        } catch (e) {
          note(operation, e)
          throw e
        }
        if (!(result instanceof Promise)) return result
        return result.then(
          (resolved: unknown) => {
            if (creating) onCreate(resolved as ID)
            return resolved
          },
          (e: unknown) => {
            note(operation, e)
            throw e
          },
        )
      }
    },
  })
}

function isCreateHandle(h: unknown): boolean {
  try {
    return typeof h === 'object' && h !== null && (h as { baseVersion?: unknown }).baseVersion === null
  } catch {
    // A hostile handle (a throwing getter or proxy): the backend's answer to it is what is tested.
    return false
  }
}
