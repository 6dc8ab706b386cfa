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

/**
 * Calls a `*_Task` method, then reads `paths` of `obj` in the same call that looks at the task:
 * where a read follows a task anyway, the task's end costs no poll of its own. Resolves with what
 * the read found when the task had succeeded by then; when it was still running (or failed), the
 * gateway's own wait settles it (throwing its fault) and the caller reads again (`undefined`).
 */
export async function runTaskThenRead<M extends TaskMethod>(
  gateway: VmomiGateway,
  method: M,
  args: VimArgs<M>,
  read: { readonly type: string; readonly obj: MoRef; readonly paths: readonly string[] },
): Promise<ObjectContent | undefined> {
  const task = (await gateway.call(method, args)) as MoRef
  let objects: ObjectContent[]
  try {
    const answer = await gateway.call('RetrievePropertiesEx', {
      _this: gateway.serviceContent.propertyCollector,
      specSet: [
        { propSet: [{ type: task.type, pathSet: ['info.state'] }], objectSet: [{ obj: task, skip: false }] },
        {
          propSet: [{ type: read.type, pathSet: [...read.paths] }],
          objectSet: [{ obj: read.obj, skip: false }],
        },
      ],
      options: {},
    })
    objects = answer?.objects ?? []
  } catch {
    // A failed read says nothing of the task: the gateway's wait finds out (or says `unknown`).
    objects = []
  }
  const state = objects
    .find((o) => o.obj.value === task.value && o.obj.type === task.type)
    ?.propSet?.find((p) => p.name === 'info.state')?.val
  if (state === 'success')
    return objects.find((o) => o.obj.value === read.obj.value && o.obj.type === read.obj.type)
  await gateway.waitForTask(task)
  return undefined
}
