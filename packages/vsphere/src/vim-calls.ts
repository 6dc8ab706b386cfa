import type {
  MoRef,
  ObjectContent,
  PropertyFilterSpec,
  TaskInfo,
  VimArgs,
  VimMethodName,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'

// Small helpers over the gateway: task methods that block until applied, and property reads.

/** Task-returning methods. */
type TaskMethod = {
  [M in VimMethodName]: M extends `${string}_Task` ? M : never
}[VimMethodName]

/** Calls a `*_Task` method and waits for the task; rejects with the task's fault. */
export async function runTask<M extends TaskMethod>(
  gateway: VmomiGateway,
  method: M,
  args: VimArgs<M>,
): Promise<TaskInfo> {
  const task = (await gateway.call(method, args)) as MoRef
  return gateway.waitForTask(task)
}

/** Reads `paths` of `objects` (all of type `type`), following continuation tokens. */
export async function retrieve(
  gateway: VmomiGateway,
  type: string,
  objects: readonly MoRef[],
  paths: readonly string[],
  reportMissing = false,
): Promise<ObjectContent[]> {
  const spec: PropertyFilterSpec = {
    propSet: [{ type, pathSet: [...paths] }],
    objectSet: objects.map((obj) => ({ obj, skip: false })),
    ...(reportMissing ? { reportMissingObjectsInResults: true } : {}),
  }
  return collect(gateway, spec, undefined)
}

/** Runs a retrieve with `spec`, paging by `maxObjects`, and returns every object. */
export async function collect(
  gateway: VmomiGateway,
  spec: PropertyFilterSpec,
  maxObjects: number | undefined,
): Promise<ObjectContent[]> {
  const pc = gateway.serviceContent.propertyCollector
  const first = await gateway.call('RetrievePropertiesEx', {
    _this: pc,
    specSet: [spec],
    options: maxObjects === undefined ? {} : { maxObjects },
  })
  const objects: ObjectContent[] = [...(first?.objects ?? [])]
  let token = first?.token
  while (token) {
    const next = await gateway.call('ContinueRetrievePropertiesEx', { _this: pc, token })
    objects.push(...(next.objects ?? []))
    token = next.token
  }
  return objects
}
