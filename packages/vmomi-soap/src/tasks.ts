import { ErrorCode, type MoRef, type TaskInfo } from '@portlayer/contracts'
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
  readonly redactor: Redactor
  /** Sends one call with the gateway's session handling and retries. */
  send(op: Operation, soapArgs: Record<string, unknown>, scope: CallScope): Promise<unknown>
}

async function readTaskInfo(polling: TaskPolling, task: MoRef, scope: CallScope): Promise<TaskInfo> {
  const op = OPS.get('RetrievePropertiesEx') as Operation
  const args = toSoapArgs(op, {
    _this: polling.propertyCollector,
    specSet: [{ propSet: [{ type: task.type, pathSet: ['info'] }], objectSet: [{ obj: task }] }],
    options: {},
  })
  const result = (await polling.send(op, args, scope)) as
    | { objects: { propSet: { name: string; val: unknown }[] }[] }
    | undefined
  const info = result?.objects[0]?.propSet.find((p) => p.name === 'info')?.val
  if (typeof info !== 'object' || info === null) {
    throw gatewayError(ErrorCode.NotFound, `vSphere task ${task.value} not found`, {
      fault: 'ManagedObjectNotFound',
      task,
    })
  }
  // A property value always names its type; TaskInfo is what was asked for.
  const { _type, ...rest } = info as TaskInfo & { _type?: string }
  return rest as TaskInfo
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
    if (info.state === 'success') return info
    if (info.state === 'error') {
      const context: FaultContext = info.entity ? { method, task, object: info.entity } : { method, task }
      throw faultError(faultFromTask(info), context, polling.redactor)
    }
    await sleep(delay, scope.signal)
    delay = Math.min(delay * 2, polling.maxMs)
  }
}
