import { ErrorCode, type PortLayerError } from '@portlayer/contracts'
import type { MoRef, TaskInfo } from '@portlayer/contracts/vmomi'
import { gatewayError } from './errors.js'
import { type FaultContext, faultError, faultFromTask } from './faults.js'
import type { Redactor } from './redact.js'
import { OPS, type Operation } from './schema/registry.js'
import { type CallScope, sleep } from './scope.js'
import { toSoapArgs } from './serialize.js'

export interface TaskPolling {
  readonly propertyCollector: MoRef
  readonly initialMs: number
  readonly maxMs: number
  /** Deadline of one poll: the gateway's call deadline, however long the task may take. */
  readonly pollTimeoutMs: number
  readonly redactor: Redactor
  /** Sends one call with the gateway's session handling and retries. */
  send(op: Operation, soapArgs: Record<string, unknown>, scope: CallScope): Promise<unknown>
  /** Told of a poll given up past its deadline (it is sent again). */
  onStalledPoll?(message: string): void
}

// Errors that report a task's own end in error (the task ran and failed: nothing of it applied),
// as opposed to failures of the wait itself.
const taskFaults = new WeakSet<PortLayerError>()

/** True when `error` is the fault a task ended with, thrown by {@link pollTask}. */
export function isTaskFault(error: unknown): error is PortLayerError {
  return typeof error === 'object' && error !== null && taskFaults.has(error as PortLayerError)
}

type TaskRead = { objects: { propSet: { name: string; val: unknown }[] }[] } | undefined

/**
 * One read of `task.info`. A poll that outlives its own deadline is given up and sent again: it is
 * a read, and the wait must not hang on a dead connection until the task's deadline (an hour).
 */
export async function readTaskInfo(polling: TaskPolling, task: MoRef, scope: CallScope): Promise<TaskInfo> {
  const op = OPS.get('RetrievePropertiesEx') as Operation
  const args = toSoapArgs(op, {
    _this: polling.propertyCollector,
    specSet: [{ propSet: [{ type: task.type, pathSet: ['info'] }], objectSet: [{ obj: task }] }],
    options: {},
  })
  let result: TaskRead
  for (;;) {
    const poll = scope.child(`${op.name} of task ${task.value}`, polling.pollTimeoutMs)
    try {
      result = (await polling.send(op, args, poll)) as TaskRead
      break
    } catch (error) {
      if (scope.stopped || poll.stopped !== 'timeout') throw error
      polling.onStalledPoll?.(
        `vSphere task ${task.value}: poll timed out after ${poll.timeoutMs} ms; polling again`,
      )
    } finally {
      poll.dispose()
    }
  }
  const info = taskInfoOf(result?.objects[0]?.propSet.find((p) => p.name === 'info')?.val)
  if (info === undefined) {
    throw gatewayError(ErrorCode.NotFound, `vSphere task ${task.value} not found`, {
      fault: 'ManagedObjectNotFound',
      task,
    })
  }
  return info
}

/** The `TaskInfo` in a task's `info` property value (read or reported by a filter), if it is one. */
export function taskInfoOf(value: unknown): TaskInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  // A property value always names its type; TaskInfo is what was asked for.
  const { _type, ...rest } = value as TaskInfo & { _type?: string }
  return rest as TaskInfo
}

/** True once the task has ended, in success or error. */
export function taskEnded(info: TaskInfo): boolean {
  return info.state === 'success' || info.state === 'error'
}

/**
 * Polls `task.info` until the task succeeds (its info is returned) or fails (its fault is thrown
 * as a `PortLayerError` naming `method`, the method that started it). The pause between polls
 * doubles from `initialMs` up to `maxMs`; `scope` ends the wait.
 */
export async function pollTask(
  polling: TaskPolling,
  task: MoRef,
  method: string,
  scope: CallScope,
): Promise<TaskInfo> {
  let delay = polling.initialMs
  for (;;) {
    const info = await readTaskInfo(polling, task, scope)
    if (taskEnded(info)) return taskEnd(info, method, task, polling.redactor)
    await sleep(delay, scope.signal)
    delay = Math.min(delay * 2, polling.maxMs)
  }
}

/**
 * The info of a task that succeeded; the fault of one that failed, thrown as a `PortLayerError`
 * naming `method` (and marked as the task's own end for {@link isTaskFault}).
 */
export function taskEnd(info: TaskInfo, method: string, task: MoRef, redactor: Redactor): TaskInfo {
  if (info.state !== 'error') return info
  const context: FaultContext = info.entity ? { method, task, object: info.entity } : { method, task }
  const error = faultError(faultFromTask(info), context, redactor)
  taskFaults.add(error)
  throw error
}
