import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type { MoRef, TaskInfo, VmomiCallOptions } from '@portlayer/contracts/vmomi'
import { gatewayError, withOutcome } from './errors.js'
import { type Invoker, newTrace, reading, readOptions, type Trace } from './invocation.js'
import type { Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import type { CallScope } from './scope.js'
import { toSoapArgs } from './serialize.js'
import type { Session } from './session.js'
import { isNotAuthenticatedFault } from './session-lost.js'
import type { ResolvedSettings } from './settings.js'
import { TaskWatch, WatchFailed } from './task-watch.js'
import { isTaskFault, pollTask, readTaskInfo, type TaskPolling, taskEnd, taskEnded } from './tasks.js'
import { errorText } from './values.js'

const CANCEL_TIMEOUT_MS = 10_000
/** How long an abandoned task wait may spend finding out how its task ended, after CancelTask. */
const LOOK_TIMEOUT_MS = 2_000
const TASK_NAMES_KEPT = 1_000
/** Task requests kept for a re-send after the task failed with NotAuthenticated (they can be large). */
const TASK_REQUESTS_KEPT = 64

/** A task started through this gateway: enough to start it again if it failed for a lost session. */
interface StartedTask {
  readonly method: string
  readonly generation: number
}

/** Where a task wait is, for the outcome of its failure. */
interface TaskWait {
  /** The task waited for (a new one once a change was sent again); undefined while it is being sent. */
  task: MoRef | undefined
  phase: 'polling' | 'relogin' | 'resending'
  trace: Trace
}

export interface TaskWaitsDeps {
  readonly settings: ResolvedSettings
  readonly redactor: Redactor
  readonly invoker: Invoker
  readonly session: Session
  /** The property collector the polls read `info` through (known once connected). */
  propertyCollector(): MoRef
}

/**
 * Task waits of one gateway, and the tasks started through it: the method that started each (for
 * errors) and, for the most recent ones, the request, so that a task that failed because the
 * server did not know the session can be started once more after the re-login.
 */
export class TaskWaits {
  readonly #deps: TaskWaitsDeps
  readonly #started = new Map<string, StartedTask>()
  readonly #requests = new Map<string, Record<string, unknown>>()
  readonly #watch: TaskWatch

  constructor(deps: TaskWaitsDeps) {
    this.#deps = deps
    this.#watch = new TaskWatch({
      settings: deps.settings,
      invoker: deps.invoker,
      session: deps.session,
      propertyCollector: deps.propertyCollector,
      readInfo: (task, scope) => readTaskInfo(this.#polling(), task, scope),
    })
  }

  /**
   * One look at the task; a task still queued or running is then followed through the watch (or,
   * should the watch fail, polled). The task's own fault is thrown as {@link pollTask} throws it.
   */
  async #follow(task: MoRef, method: string, scope: CallScope): Promise<TaskInfo> {
    const polling = this.#polling()
    const first = await readTaskInfo(polling, task, scope)
    if (taskEnded(first)) return taskEnd(first, method, task, polling.redactor)
    let info: TaskInfo
    try {
      info = await this.#watch.until(task, scope)
    } catch (error) {
      if (!(error instanceof WatchFailed) || scope.stopped) throw error
      this.#deps.invoker.log('debug', `vSphere task ${task.value}: polled (${error.message})`)
      return pollTask(polling, task, method, scope)
    }
    return taskEnd(info, method, task, polling.redactor)
  }

  /** A `…_Task` call returned `task`; `request` is kept to start it again if need be. */
  started(task: MoRef, method: string, request: Record<string, unknown>, generation: number): void {
    const bounded = <V>(map: Map<string, V>, value: V, max: number): void => {
      map.set(task.value, value)
      if (map.size > max) {
        const oldest = map.keys().next().value
        if (oldest !== undefined) map.delete(oldest)
      }
    }
    bounded(this.#started, { method, generation }, TASK_NAMES_KEPT)
    bounded(this.#requests, request, TASK_REQUESTS_KEPT)
  }

  #forget(task: MoRef | undefined): void {
    if (!task) return
    this.#started.delete(task.value)
    this.#requests.delete(task.value)
  }

  #polling(): TaskPolling {
    const { settings, redactor, invoker, session } = this.#deps
    return {
      propertyCollector: this.#deps.propertyCollector(),
      initialMs: settings.taskPollInitialMs,
      maxMs: settings.taskPollMaxMs,
      pollTimeoutMs: settings.timeoutMs,
      redactor,
      send: (op, soapArgs, s) => session.call(op, soapArgs, s, newTrace()),
      onStalledPoll: (message) => invoker.retried(message),
    }
  }

  /**
   * Waits for a task. A task that ended in error did nothing (`not-applied`); one that ended with
   * NotAuthenticated is started once more after the re-login (it did nothing), and the new task's
   * info is returned. A wait that fails, stops or is aborted says `unknown` unless it learnt the
   * task did not run: the task carries on on the server without the wait.
   */
  async wait(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo> {
    const { signal, timeoutMs } = readOptions(options, 'waitForTask')
    // A malformed reference fails here, before any poll, as it would for the CancelTask an abort sends.
    reading('waitForTask', () => toSoapArgs(OPS.get('CancelTask') as Operation, { _this: task }))
    const started = this.#started.get(task.value)
    const method = started?.method ?? 'task'
    const scope = this.#deps.invoker.scope(
      `${method} (${task.value})`,
      timeoutMs === undefined ? this.#deps.settings.taskTimeoutMs : timeoutMs,
      signal,
    )
    const wait: TaskWait = { task, phase: 'polling', trace: newTrace() }
    try {
      return await this.#await(wait, started, method, scope)
    } catch (error) {
      if (scope.stopped) throw await this.#abandoned(wait, method, scope)
      // The task ran and failed, or a re-login or re-send failed with its own outcome.
      if (isTaskFault(error) || wait.phase !== 'polling' || !PortLayerError.isInstance(error)) throw error
      // The wait failed, not the task: it may still complete on the server.
      throw withOutcome(error, 'unknown')
    } finally {
      scope.dispose()
      this.#forget(task)
      this.#forget(wait.task)
    }
  }

  async #await(
    wait: TaskWait,
    started: StartedTask | undefined,
    method: string,
    scope: CallScope,
  ): Promise<TaskInfo> {
    const { session, invoker } = this.#deps
    const first = wait.task as MoRef
    try {
      return await this.#follow(first, method, scope)
    } catch (error) {
      if (!isTaskFault(error) || !isNotAuthenticatedFault(error.detail?.fault) || scope.stopped) throw error
      // The task ended because the server did not know the session: it did nothing. Log in again
      // (shared with every caller that met the same lost session) and start it once more.
      wait.phase = 'relogin'
      await session.restore(started?.generation ?? session.generation, scope)
      const request = this.#requests.get(first.value)
      const op = OPS.get(method)
      if (!request || !op) throw error
      invoker.log(
        'info',
        `vSphere task ${method} (${first.value}) failed with NotAuthenticated; starting it again`,
      )
      wait.phase = 'resending'
      wait.task = undefined
      const again = (await session.call(op, request, scope, wait.trace)) as MoRef
      wait.task = again
      wait.phase = 'polling'
      try {
        return await this.#follow(again, method, scope)
      } catch (second) {
        if (!isTaskFault(second) || !isNotAuthenticatedFault(second.detail?.fault)) throw second
        wait.phase = 'resending'
        throw gatewayError(
          ErrorCode.Unavailable,
          `vSphere task ${method} (${again.value}): session lost again right after logging in`,
          { method, task: again, fault: 'NotAuthenticated' },
          second,
        )
      }
    }
  }

  /**
   * The error of a task wait that was aborted, passed its deadline or ended with the gateway. An
   * abort or deadline cancels the task and looks once at how it ended: only a task seen to end in
   * error is reported `not-applied`.
   */
  async #abandoned(wait: TaskWait, method: string, scope: CallScope): Promise<PortLayerError> {
    if (wait.phase === 'relogin') return scope.error({ method, task: wait.task })
    if (wait.task === undefined) {
      return scope.error({ method, sent: wait.trace.acted }, wait.trace.acted ? 'unknown' : 'not-applied')
    }
    const task = wait.task
    if (scope.stopped === 'closed') return scope.error({ task, method }, 'unknown')
    const end = await this.#cancelAndLook(task)
    return scope.error(
      {
        task,
        method,
        cancelRequested: end.cancelled,
        ...(end.cancelFault !== undefined ? { cancelFault: end.cancelFault } : {}),
        ...(end.state !== undefined ? { taskState: end.state } : {}),
      },
      end.state === 'error' ? 'not-applied' : 'unknown',
    )
  }

  async #cancelAndLook(task: MoRef): Promise<{ cancelled: boolean; cancelFault?: unknown; state?: string }> {
    const { session, invoker } = this.#deps
    const op = OPS.get('CancelTask') as Operation
    let cancelled = false
    let cancelFault: unknown
    const scope = invoker.scope('CancelTask', CANCEL_TIMEOUT_MS)
    try {
      await session.call(op, toSoapArgs(op, { _this: task }), scope, newTrace())
      cancelled = true
      invoker.log('info', `cancelled task ${task.value} after its wait was given up`)
    } catch (error) {
      cancelFault = PortLayerError.isInstance(error) ? (error.detail?.fault ?? error.code) : undefined
      invoker.log('warn', `could not cancel task ${task.value}: ${errorText(error)}`)
    } finally {
      scope.dispose()
    }
    const look = invoker.scope(`look at task ${task.value}`, LOOK_TIMEOUT_MS)
    try {
      const info = await readTaskInfo(this.#polling(), task, look)
      return { cancelled, cancelFault, state: info.state }
    } catch {
      return { cancelled, cancelFault }
    } finally {
      look.dispose()
    }
  }
}
