import type { MoRef, VmomiGateway } from '@portlayer/contracts/vmomi'

export const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' }

export async function find(gw: VmomiGateway, path: string): Promise<MoRef> {
  const ref = await gw.call('FindByInventoryPath', {
    _this: gw.serviceContent.searchIndex,
    inventoryPath: path,
  })
  if (!ref) throw new Error(`${path} not found`)
  return ref
}

/** Creates a small VM in DC0/vm (powered off) and returns its reference. */
export async function createVm(gw: VmomiGateway, name: string, memoryMB = 32): Promise<MoRef> {
  const [folder, pool] = await Promise.all([find(gw, 'DC0/vm'), find(gw, 'DC0/host/DC0_C0/Resources')])
  const task = await gw.call('CreateVM_Task', {
    _this: folder,
    config: { name, guestId: 'otherGuest', numCPUs: 1, memoryMB, files: { vmPathName: '[LocalDS_0]' } },
    pool,
  })
  const info = await gw.waitForTask(task)
  return info.result as MoRef
}

export async function run(gw: VmomiGateway, task: Promise<MoRef>): Promise<void> {
  await gw.waitForTask(await task)
}

/** One property of one object. */
export async function property(gw: VmomiGateway, obj: MoRef, path: string): Promise<unknown> {
  const result = await gw.call('RetrievePropertiesEx', {
    _this: gw.serviceContent.propertyCollector,
    specSet: [{ propSet: [{ type: obj.type, pathSet: [path] }], objectSet: [{ obj }] }],
    options: {},
  })
  return result?.objects[0]?.propSet.find((p) => p.name === path)?.val
}

/** The guest operations managers (file and process). */
export async function guestManagers(gw: VmomiGateway): Promise<{ files: MoRef; processes: MoRef }> {
  const manager = gw.serviceContent.guestOperationsManager
  if (!manager) throw new Error('no guest operations manager')
  const [files, processes] = await Promise.all([
    property(gw, manager, 'fileManager'),
    property(gw, manager, 'processManager'),
  ])
  return { files: files as MoRef, processes: processes as MoRef }
}
