import {
  type CommitExtension,
  describeValue,
  type ExtensionContext,
  type ID,
  InvalidArgumentError,
  type PortLayerError,
  type ReconfigureContribution,
  type RunState,
  validateNamespace,
} from '@portlayer/contracts'
import { adoptError, isPortLayerError } from './adopt-error.js'
import { type PlainJson, toPlainJson } from './plain-json.js'

/** How a backend sets up its {@link ExtensionRegistry}. */
export interface ExtensionRegistryOptions {
  /** The backend's name: on every error and in every extension context. */
  readonly backend: string
  /**
   * Told of failures that must not fail the call they happen in: a `release` that threw on
   * destroy, a plan's `commit` or `rollback` hook that threw. A backend passes its logger's `warn`.
   */
  readonly onBackgroundError?: (error: PortLayerError) => void
}

/** One extension's part of a prepared commit. */
export interface PreparedPlan {
  readonly namespace: string
  /**
   * What to record with the container as the extension's applied value: a frozen plain-JSON
   * copy, or `undefined` to remove the value recorded so far.
   */
  readonly applied: PlainJson | undefined
  /**
   * The plan's `reconfigure` as it returned it, read once and not checked: a backend that applies
   * commits as one VM reconfiguration checks and folds it in (or refuses it through `inspect`);
   * others ignore it.
   */
  readonly reconfigure: ReconfigureContribution | undefined
}

/** What one commit asks of its extensions. */
export interface PrepareRequest {
  readonly containerId: ID
  /** The handle's extension slots (`handle.pending.extensions`). */
  readonly slots: Readonly<Record<string, unknown>>
  /** True when this commit creates the container. */
  readonly creating: boolean
  /** The container's run state before the commit (`created` for a new one). */
  readonly runState: RunState
  /** The value extension `namespace` applied to the container so far, if any. */
  readonly applied: (namespace: string) => unknown
  /**
   * For a call with a signal or deadline: subscribes `stop` to its abort and returns the
   * unsubscribe. A `prepare` still pending when `stop(error)` runs is no longer waited for: the
   * runner rejects with `error` as it is, rolls back what was prepared, and rolls back the
   * late plan when it arrives.
   */
  readonly interrupt?: (stop: (error: unknown) => void) => () => void
  /**
   * Runs on each plan right after its `prepare`, before the next one: throw (e.g. for a
   * contribution the backend cannot apply) to refuse the commit; this plan and those prepared
   * before it are rolled back.
   */
  readonly inspect?: (plan: PreparedPlan) => void
}

interface Entry {
  readonly namespace: string
  readonly extension: object
  readonly prepare: (context: ExtensionContext<unknown>) => unknown
  readonly release: ((context: { containerId: ID; backend: string; applied: unknown }) => unknown) | undefined
}

/** A plan with the hooks read from it once, and whether it was told its outcome. */
interface Held {
  readonly plan: PreparedPlan
  readonly source: object
  readonly commit: (() => unknown) | undefined
  readonly rollback: (() => unknown) | undefined
  settled: boolean
}

/** Marks the call's own interruption, so it is not mistaken for the extension rejecting the commit. */
class Interrupted {
  constructor(readonly error: unknown) {}
}

/** `instanceof` runs a proxy's getPrototypeOf trap, which may throw: a value that does is not ours. */
function isInterruption(value: unknown): value is Interrupted {
  try {
    return value instanceof Interrupted
  } catch {
    return false
  }
}

/** A prepare that answered with a promise (a plan itself may be a thenable-free object only). */
class Pending {
  constructor(readonly promise: Promise<unknown>) {}
}

/** `instanceof` on a plan that is a proxy runs its getPrototypeOf trap, which may throw. */
function isPending(value: unknown): value is Pending {
  try {
    return value instanceof Pending
  } catch {
    return false
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * The commit extensions registered with one backend, and the protocol every backend follows
 * with them:
 * - {@link checkSlots}: a handle slot no registered extension owns fails the commit with
 *   `INVALID_ARGUMENT` (before the version check: the handle is malformed for this backend,
 *   however stale);
 * - {@link prepare}: `prepare` of each extension the handle has a slot for, in registration
 *   order; each plan's applied value must be plain JSON; a failure rolls back those prepared
 *   (newest first) and refuses the commit with the extension's code (`INVALID_ARGUMENT` for
 *   anything that is not a `PortLayerError`);
 * - the {@link PreparedCommit} it returns tells each plan exactly one of `commit` and `rollback`;
 * - {@link release} on destroy, whose failures go to `onBackgroundError` and never fail it.
 * A commit keeps the extensions it started with: unregistering one during a commit only affects
 * later commits.
 */
export class ExtensionRegistry {
  readonly backend: string
  private readonly entries = new Map<string, Entry>()
  private readonly onBackgroundError: ((error: PortLayerError) => void) | undefined

  constructor(options: ExtensionRegistryOptions) {
    this.backend = options.backend
    this.onBackgroundError = options.onBackgroundError
  }

  /** How many extensions are registered. */
  get size(): number {
    return this.entries.size
  }

  /** True when an extension is registered for `namespace`. */
  has(namespace: string): boolean {
    return this.entries.has(namespace)
  }

  /**
   * Adds an extension; returns the function that removes it (again only that registration,
   * however often it is called).
   * @throws InvalidArgumentError for a value that is not an extension (no `prepare` function, a
   *   `release` that is not a function, fields that cannot be read), a malformed namespace, or a
   *   namespace already registered.
   */
  register<P, A>(extension: CommitExtension<P, A>): () => void {
    const entry = this.entryOf(extension)
    if (this.entries.has(entry.namespace)) {
      throw this.invalid(`an extension is already registered for namespace '${entry.namespace}'`)
    }
    this.entries.set(entry.namespace, entry)
    return () => {
      if (this.entries.get(entry.namespace) === entry) this.entries.delete(entry.namespace)
    }
  }

  private entryOf(value: unknown): Entry {
    if (typeof value !== 'object' || value === null) {
      throw this.invalid(
        `an extension must be an object with a namespace and a prepare function, got ${describeValue(value)}`,
      )
    }
    let namespace: unknown
    let prepare: unknown
    let release: unknown
    try {
      // Read once: a getter must not answer these checks one way and the commit another.
      ;({ namespace, prepare, release } = value as Record<string, unknown>)
    } catch (e) {
      throw this.invalid('the extension could not be read (a getter or proxy trap threw)', undefined, e)
    }
    const ns = validateNamespace(namespace, this.backend)
    if (typeof prepare !== 'function') throw this.invalid(`extension '${ns}' needs a prepare function`)
    if (release !== undefined && typeof release !== 'function') {
      throw this.invalid(`release of extension '${ns}' must be a function, got ${describeValue(release)}`)
    }
    return {
      namespace: ns,
      extension: value,
      prepare: prepare as Entry['prepare'],
      release: release as Entry['release'],
    }
  }

  /**
   * Refuses a handle that has a slot no registered extension owns (`INVALID_ARGUMENT`). A
   * backend calls it before it compares the handle's version.
   */
  checkSlots(containerId: ID, slots: Readonly<Record<string, unknown>>): void {
    for (const namespace of Object.keys(slots)) {
      if (!this.entries.has(namespace)) throw this.unregistered(containerId, namespace)
    }
  }

  /**
   * Prepares every extension the request's handle has a slot for, in registration order (see the
   * class comment). Resolves with the prepared commit, whose plans the backend applies (their
   * `applied` values, and `reconfigure` if it folds contributions into one reconfiguration) and
   * then settles with {@link PreparedCommit.commit} or {@link PreparedCommit.rollback}.
   */
  async prepare(request: PrepareRequest): Promise<PreparedCommit> {
    const { containerId, slots } = request
    this.checkSlots(containerId, slots)
    const chosen: Entry[] = []
    for (const entry of this.entries.values()) if (Object.hasOwn(slots, entry.namespace)) chosen.push(entry)
    const held: Held[] = []
    try {
      for (const entry of chosen) {
        let raw = this.prepareOne(entry, request)
        // Only a promise costs an await: synchronous prepares keep the commit on one tick.
        if (isPending(raw)) raw = await raw.promise
        const item = this.accept(entry.namespace, raw, containerId)
        held.push(item)
        if (request.inspect !== undefined) {
          try {
            request.inspect(item.plan)
          } catch (e) {
            throw adoptError(e, { backend: this.backend, target: containerId, outcome: 'not-applied' })
          }
        }
      }
    } catch (e) {
      for (let i = held.length - 1; i >= 0; i--) this.settle(held[i] as Held, 'rollback', containerId)
      throw e
    }
    return new PreparedCommit(held, (item, outcome) => this.settle(item, outcome, containerId))
  }

  /** Calls one `prepare`: its answer, or a {@link Pending} when it answered with a promise. */
  private prepareOne(entry: Entry, request: PrepareRequest): unknown {
    const { containerId, interrupt } = request
    const context: ExtensionContext<unknown> = {
      containerId,
      backend: this.backend,
      creating: request.creating,
      runState: request.runState,
      pending: request.slots[entry.namespace],
      applied: request.applied(entry.namespace),
    }
    const refuse = (e: unknown): PortLayerError =>
      adoptError(e, {
        backend: this.backend,
        target: containerId,
        doing: `extension '${entry.namespace}' rejected the commit of container ${containerId}`,
        // Nothing of the commit was applied, whatever the extension's error says.
        outcome: 'not-applied',
      })
    let result: unknown
    try {
      result = Reflect.apply(entry.prepare, entry.extension, [context])
      if (!isThenable(result)) return result
    } catch (e) {
      throw refuse(e)
    }
    const waited =
      interrupt === undefined
        ? Promise.resolve(result)
        : this.interruptible(entry, result, interrupt, containerId)
    return new Pending(
      waited.then(undefined, (e: unknown) => {
        throw isInterruption(e) ? e.error : refuse(e)
      }),
    )
  }

  /**
   * Waits for a pending `prepare` unless the call is interrupted first: then it rejects at once,
   * and the plan that prepare delivers later is rolled back (it never applies, and exactly one of
   * commit/rollback must still be called).
   */
  private interruptible(
    entry: Entry,
    pending: PromiseLike<unknown>,
    interrupt: NonNullable<PrepareRequest['interrupt']>,
    containerId: ID,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let interrupted = false
      const unwatch = interrupt((error) => {
        interrupted = true
        reject(new Interrupted(error))
      })
      Promise.resolve(pending).then(
        (raw) => {
          unwatch()
          if (!interrupted) resolve(raw)
          else this.rollbackLate(entry.namespace, raw, containerId)
        },
        (e: unknown) => {
          unwatch()
          if (!interrupted) reject(e)
        },
      )
    })
  }

  private rollbackLate(namespace: string, raw: unknown, containerId: ID): void {
    let item: Held
    try {
      item = this.accept(namespace, raw, containerId)
    } catch {
      return // accept rolled back what it could
    }
    this.settle(item, 'rollback', containerId)
  }

  /** Reads a plan once and checks it; a plan refused here is rolled back when it can be. */
  private accept(namespace: string, raw: unknown, containerId: ID): Held {
    const what = `extension '${namespace}'`
    if (typeof raw !== 'object' || raw === null) {
      throw this.invalid(
        `${what} returned ${describeValue(raw)} instead of a plan for container ${containerId}`,
        containerId,
      )
    }
    let applied: unknown
    let reconfigure: unknown
    let commit: unknown
    let rollback: unknown
    let refusal: unknown
    const refuse = (message: string): never => {
      refusal = this.invalid(message, containerId)
      throw refusal
    }
    try {
      if (!('applied' in raw)) {
        rollback = (raw as { rollback?: unknown }).rollback
        throw this.invalid(
          `${what} returned a plan without an 'applied' value for container ${containerId}`,
          containerId,
        )
      }
      ;({ applied, reconfigure, commit, rollback } = raw as Record<string, unknown>)
      if (commit !== undefined && typeof commit !== 'function')
        refuse(`${what} returned a plan whose commit is not a function`)
      if (rollback !== undefined && typeof rollback !== 'function') {
        rollback = undefined
        refuse(`${what} returned a plan whose rollback is not a function`)
      }
      const value =
        applied === undefined
          ? undefined
          : toPlainJson(applied, `the applied value of ${what}`, this.backend, containerId)
      return {
        plan: Object.freeze({
          namespace,
          applied: value,
          reconfigure: reconfigure as PreparedPlan['reconfigure'],
        }),
        source: raw,
        commit: commit as Held['commit'],
        rollback: rollback as Held['rollback'],
        settled: false,
      }
    } catch (e) {
      if (typeof rollback === 'function') this.call(namespace, raw, rollback, 'rollback', containerId)
      // toPlainJson's refusals are INVALID_ARGUMENT errors of this backend already.
      if (e === refusal || (isPortLayerError(e) && e.backend === this.backend)) throw e
      throw this.invalid(
        `${what} returned a plan that could not be read (a getter or proxy trap threw)`,
        containerId,
        e,
      )
    }
  }

  private settle(item: Held, outcome: 'commit' | 'rollback', containerId: ID): void {
    if (item.settled) return
    item.settled = true
    const hook = item[outcome]
    if (hook !== undefined) this.call(item.plan.namespace, item.source, hook, outcome, containerId)
  }

  /** Calls a plan's hook; what it throws (or rejects with) is reported, never thrown. */
  private call(namespace: string, plan: object, hook: unknown, name: string, containerId: ID): void {
    const report = (e: unknown) =>
      this.report(e, `extension '${namespace}': ${name} failed for container ${containerId}`, containerId)
    try {
      const result = Reflect.apply(hook as () => unknown, plan, [])
      if (isThenable(result)) result.then(undefined, report)
    } catch (e) {
      report(e)
    }
  }

  /**
   * Calls `release` of each registered extension that recorded a value with the destroyed
   * container, one after another. Never rejects: the container is gone whatever an extension
   * says, so what a release throws goes to `onBackgroundError`.
   * @param applied the container's applied values by namespace (a `Map` or `Object.entries`).
   */
  async release(containerId: ID, applied: Iterable<readonly [string, unknown]>): Promise<void> {
    for (const [namespace, value] of applied) {
      const entry = this.entries.get(namespace)
      if (entry?.release === undefined || value === undefined) continue
      try {
        await Reflect.apply(entry.release, entry.extension, [
          Object.freeze({ containerId, backend: this.backend, applied: value }),
        ])
      } catch (e) {
        this.report(e, `extension '${namespace}' failed to release container ${containerId}`, containerId)
      }
    }
  }

  private report(thrown: unknown, doing: string, target: ID): void {
    if (this.onBackgroundError === undefined) return
    try {
      this.onBackgroundError(adoptError(thrown, { backend: this.backend, target, doing }))
    } catch {
      // A failing reporter must not turn a background failure into a failed call.
    }
  }

  private unregistered(containerId: ID, namespace: string): InvalidArgumentError {
    return this.invalid(
      `the handle of container ${containerId} has a value in slot '${namespace}' but no extension is registered for it`,
      containerId,
    )
  }

  private invalid(message: string, target?: string, cause?: unknown): InvalidArgumentError {
    return new InvalidArgumentError(message, { backend: this.backend, target, cause })
  }
}

/**
 * The plans of one commit, in registration order. The backend applies them and then calls
 * exactly one of {@link commit} and {@link rollback}; later calls do nothing, so each plan is
 * told its outcome once.
 */
export class PreparedCommit {
  readonly plans: readonly PreparedPlan[]

  /** @internal made by {@link ExtensionRegistry.prepare} */
  constructor(
    private readonly held: readonly Held[],
    private readonly settleOne: (item: Held, outcome: 'commit' | 'rollback') => void,
  ) {
    this.plans = held.map((h) => h.plan)
  }

  /** True once the commit was settled. */
  get settled(): boolean {
    return this.held.every((h) => h.settled)
  }

  /**
   * The commit landed: each plan is told `commit`, except those in `rolledBack`, whose part the
   * backend put back (they are told `rollback`).
   */
  commit(rolledBack?: ReadonlySet<string>): void {
    for (const item of this.held)
      this.settleOne(item, rolledBack?.has(item.plan.namespace) ? 'rollback' : 'commit')
  }

  /** The commit did not land: every plan is told `rollback`, newest first. */
  rollback(): void {
    for (let i = this.held.length - 1; i >= 0; i--) this.settleOne(this.held[i] as Held, 'rollback')
  }
}
