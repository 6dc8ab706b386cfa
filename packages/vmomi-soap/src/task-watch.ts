import type { MoRef, TaskInfo, UpdateSet } from '@portlayer/contracts/vmomi'
import { type Invoker, newTrace } from './invocation.js'
import { OPS, type Operation } from './schema/registry.js'
import type { CallScope } from './scope.js'
import { toSoapArgs } from './serialize.js'
import type { Session } from './session.js'
import type { ResolvedSettings } from './settings.js'
import { taskEnded, taskInfoOf } from './tasks.js'
import { errorText } from './values.js'

// A task that has not finished at its first look is awaited through one long-lived property
// collector of the gateway instead of repeated polls: a filter per waited task, and one
// WaitForUpdatesEx in flight for all of them, so a long power-on costs the same few calls as a
// short one and tasks waited for at the same time share their waits. vcsim finishes every task
// before it answers, so there the first look settles it and none of this runs; vCenter answers with
// tasks still queued or running.

/** How long one wait of the loop may last before the server answers with nothing. */
const MAX_WAIT_SECONDS = 30

const op = (name: string): Operation => OPS.get(name) as Operation

/** The watch could not follow a task (not the task's own end): the caller polls instead. */
export class WatchFailed extends Error {
  override readonly name = 'WatchFailed'
}

interface Waiter {
  settle(info: TaskInfo): void
  fail(error: unknown): void
}

export interface TaskWatchDeps {
  readonly settings: ResolvedSettings
  readonly invoker: Invoker
  readonly session: Session
  propertyCollector(): MoRef
  /** One read of a task's `info`. */
  readInfo(task: MoRef, scope: CallScope): Promise<TaskInfo>
}

export class TaskWatch {
  readonly #deps: TaskWatchDeps
  /** The collector and the session generation it was made in (collectors die with their session). */
  #collector: { ref: MoRef; generation: number } | undefined
  #creating: Promise<MoRef> | undefined
  #version = ''
  /** The waits per task (a task may be waited for by more than one caller). */
  readonly #waiters = new Map<string, Set<Waiter>>()
  #looping = false

  constructor(deps: TaskWatchDeps) {
    this.#deps = deps
  }

  /**
   * Resolves with the info of `task` once it has finished (in success or error). Rejects with the
   * scope's error when the scope stops, and with {@link WatchFailed} when the watch itself failed.
   */
  async until(task: MoRef, scope: CallScope): Promise<TaskInfo> {
    let filter: MoRef
    try {
      const collector = await this.#collectorFor(scope)
      filter = (await this.#send(
        op('CreateFilter'),
        {
          _this: collector,
          spec: {
            propSet: [{ type: task.type, pathSet: ['info'] }],
            objectSet: [{ obj: task, skip: false }],
          },
          partialUpdates: false,
        },
        scope,
      )) as MoRef
    } catch (error) {
      throw scope.stopped ? error : new WatchFailed(errorText(error), { cause: error })
    }
    let stopListening = (): void => {}
    let waiter: Waiter | undefined
    const settled = new Promise<TaskInfo>((resolve, reject) => {
      waiter = { settle: resolve, fail: reject }
      const waits = this.#waiters.get(task.value) ?? new Set<Waiter>()
      waits.add(waiter)
      this.#waiters.set(task.value, waits)
      stopListening = scope.onStop(() => reject(scope.error()))
    })
    // Rejections are taken by the await below, or dropped when the read settles the wait first.
    settled.catch(() => {})
    try {
      // A task that finished between the first look and the filter: not every server reports a
      // new filter's content in a wait already under way (vcsim reports later changes only).
      const now = await this.#deps.readInfo(task, scope)
      if (taskEnded(now)) return now
      void this.#loop()
      return await settled
    } finally {
      stopListening()
      const waits = this.#waiters.get(task.value)
      if (waits && waiter) waits.delete(waiter)
      if (waits?.size === 0) this.#waiters.delete(task.value)
      this.#dropFilter(filter)
    }
  }

  async #collectorFor(scope: CallScope): Promise<MoRef> {
    const { session } = this.#deps
    const current = this.#collector
    if (current && current.generation === session.generation) return current.ref
    this.#creating ??= (async () => {
      const generation = session.generation
      const ref = (await this.#send(
        op('CreatePropertyCollector'),
        { _this: this.#deps.propertyCollector() },
        scope,
      )) as MoRef
      this.#collector = { ref, generation }
      this.#version = ''
      return ref
    })().finally(() => {
      this.#creating = undefined
    })
    return this.#creating
  }

  async #send(operation: Operation, args: Record<string, unknown>, scope: CallScope): Promise<unknown> {
    const request = scope.child(operation.name, this.#deps.settings.timeoutMs)
    try {
      return await this.#deps.session.call(operation, toSoapArgs(operation, args), request, newTrace())
    } finally {
      request.dispose()
    }
  }

  /** One wait in flight while anyone waits; each answer settles the tasks it shows finished. */
  async #loop(): Promise<void> {
    if (this.#looping) return
    this.#looping = true
    const { invoker, settings, session } = this.#deps
    try {
      while (this.#waiters.size > 0) {
        const collector = this.#collector
        if (!collector || collector.generation !== session.generation)
          throw new WatchFailed('session changed')
        const wait = op('WaitForUpdatesEx')
        const scope = invoker.scope(wait.name, MAX_WAIT_SECONDS * 1_000 + settings.timeoutMs)
        try {
          const set = (await session.call(
            wait,
            toSoapArgs(wait, {
              _this: collector.ref,
              version: this.#version,
              options: { maxWaitSeconds: MAX_WAIT_SECONDS },
            }),
            scope,
            newTrace(),
          )) as UpdateSet | undefined
          if (set) this.#take(set)
        } finally {
          scope.dispose()
        }
      }
    } catch (error) {
      // The collector is of no use any more (a lost session, a fault): the waits poll instead,
      // and the next slow task makes a new one.
      invoker.log('debug', `vSphere task watch stopped: ${errorText(error)}`)
      this.#collector = undefined
      const failure = new WatchFailed(errorText(error), { cause: error })
      for (const waits of this.#waiters.values()) for (const waiter of waits) waiter.fail(failure)
    } finally {
      this.#looping = false
    }
  }

  #take(set: UpdateSet): void {
    this.#version = set.version
    for (const update of set.filterSet ?? []) {
      for (const object of update.objectSet ?? []) {
        const waits = this.#waiters.get(object.obj.value)
        if (!waits) continue
        if (object.kind === 'leave') {
          const left = new WatchFailed(`task ${object.obj.value} left the watch`)
          for (const waiter of waits) waiter.fail(left)
          continue
        }
        const info = taskInfoOf(object.changeSet?.find((change) => change.name === 'info')?.val)
        if (info !== undefined && taskEnded(info)) for (const waiter of waits) waiter.settle(info)
      }
    }
  }

  /** Filters of finished waits go in the background: nobody waits on their removal. */
  #dropFilter(filter: MoRef): void {
    const { invoker, settings, session } = this.#deps
    const destroy = op('DestroyPropertyFilter')
    const scope = invoker.scope(destroy.name, settings.timeoutMs)
    session
      .call(destroy, toSoapArgs(destroy, { _this: filter }), scope, newTrace())
      .catch((error: unknown) => invoker.log('debug', `vSphere task watch: ${errorText(error)}`))
      .finally(() => scope.dispose())
  }
}
