import type {
  ObjectContent,
  RetrieveResult,
  VimArgs,
  VimMethodName,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { BasicHandleFactory } from '@portlayer/handles'
import { describe, expect, it } from 'vitest'
import { PortLayerVsphere } from '../src/index.js'

// vcsim 0.24 ignores maxObjects (everything comes in one page), so paging is checked against a
// fake property collector that pages the way vCenter does.

const ids = [
  '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f',
  '1c8d2f5b-5a5f-4d9f-8e4c-3a2b7d6e8f90',
  '2d9e3a6c-6b6a-4eaa-9f5d-4b3c8e7f9a01',
]

function vm(n: number, extra: Array<{ key: string; value: string }>, power = 'poweredOff'): ObjectContent {
  return {
    obj: { type: 'VirtualMachine', value: `vm-${n}` },
    propSet: [
      { name: 'config.extraConfig', val: extra },
      { name: 'runtime.powerState', val: power },
    ],
  }
}

const VMS: ObjectContent[] = [
  vm(1, [{ key: 'guestinfo.portlayer.id', value: ids[0] as string }]),
  vm(2, [{ key: 'govcsim', value: 'TRUE' }]), // not a container
  vm(
    3,
    [
      { key: 'guestinfo.portlayer.id', value: ids[1] as string },
      {
        key: 'guestinfo.portlayer.main.state',
        value: JSON.stringify({
          phase: 'started',
          run: 'r',
          pid: 3,
          startedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: null,
          exitCode: 0,
          exitMsg: '',
        }),
      },
    ],
    'poweredOn',
  ),
  vm(4, []), // no extraConfig at all
  vm(5, [{ key: 'guestinfo.portlayer.id', value: ids[2] as string }]),
]

function pagingGateway(pageSize: number) {
  const log: Array<{ method: VimMethodName; args: unknown }> = []
  let cursor = 0
  const page = (): RetrieveResult => {
    const objects = VMS.slice(cursor, cursor + pageSize)
    cursor += pageSize
    return cursor < VMS.length ? { objects, token: `t${cursor}` } : { objects }
  }
  const gateway: VmomiGateway = {
    serviceContent: {
      rootFolder: { type: 'Folder', value: 'group-1' },
      propertyCollector: { type: 'PropertyCollector', value: 'pc' },
      viewManager: { type: 'ViewManager', value: 'vmgr' },
      searchIndex: { type: 'SearchIndex', value: 'si' },
      guestOperationsManager: { type: 'GuestOperationsManager', value: 'gom' },
      about: { name: 'fake', fullName: 'fake', version: '8', apiVersion: '8', apiType: 'VirtualCenter' },
    },
    async call<M extends VimMethodName>(method: M, args: VimArgs<M>) {
      log.push({ method, args })
      switch (method) {
        case 'FindByInventoryPath': {
          const path = (args as VimArgs<'FindByInventoryPath'>).inventoryPath
          const type =
            path === 'DC0'
              ? 'Datacenter'
              : path.endsWith('/vm')
                ? 'Folder'
                : path.includes('/datastore/')
                  ? 'Datastore'
                  : 'ResourcePool'
          return { type, value: path } as never
        }
        case 'CreateContainerView':
          return { type: 'ContainerView', value: 'view-1' } as never
        case 'RetrievePropertiesEx': {
          const spec = (args as VimArgs<'RetrievePropertiesEx'>).specSet[0]
          if (spec?.propSet[0]?.type === 'GuestOperationsManager') {
            return {
              objects: [
                {
                  obj: { type: 'GuestOperationsManager', value: 'gom' },
                  propSet: [
                    { name: 'processManager', val: { type: 'GuestProcessManager', value: 'p' } },
                    { name: 'fileManager', val: { type: 'GuestFileManager', value: 'f' } },
                  ],
                },
              ],
            } as never
          }
          cursor = 0
          return page() as never
        }
        case 'ContinueRetrievePropertiesEx':
          return page() as never
        default:
          throw new Error(`unexpected ${method}`)
      }
    },
    waitForTask: async () => {
      throw new Error('no tasks')
    },
    transfer: async () => {
      throw new Error('no transfers')
    },
    close: async () => {},
  }
  return { gateway, log }
}

describe('listContainers paging', () => {
  it('reads page after page with maxObjects, only the two properties it needs, and skips non-containers', async () => {
    const { gateway, log } = pagingGateway(2)
    const pl = await new PortLayerVsphere({
      datacenter: 'DC0',
      vmFolder: 'DC0/vm',
      resourcePool: 'DC0/host/C/Resources',
      datastore: 'DS',
      guest: { username: 'u', password: 'p' },
      exitPollIntervalMs: 0,
      listPageSize: 2,
    }).init(gateway, new BasicHandleFactory())
    log.length = 0
    expect(await pl.listContainers()).toEqual(ids)
    expect(log.map((c) => c.method)).toEqual([
      'CreateContainerView',
      'RetrievePropertiesEx',
      'ContinueRetrievePropertiesEx',
      'ContinueRetrievePropertiesEx',
    ])
    const view = log[0]?.args as VimArgs<'CreateContainerView'>
    expect(view).toMatchObject({
      container: { type: 'Folder', value: 'DC0/vm' },
      type: ['VirtualMachine'],
      recursive: false,
    })
    const first = log[1]?.args as VimArgs<'RetrievePropertiesEx'>
    expect(first.options).toEqual({ maxObjects: 2 })
    expect(first.specSet[0]?.propSet).toEqual([
      { type: 'VirtualMachine', pathSet: ['config.extraConfig', 'runtime.powerState'] },
    ])
    expect(log[2]?.args).toMatchObject({ token: 't2' })

    log.length = 0
    expect(await pl.listContainers('running')).toEqual([ids[1]])
    expect(await pl.listContainers('created')).toEqual([ids[0], ids[2]])
    expect(log.filter((c) => c.method === 'CreateContainerView')).toEqual([])
    await pl.close()
  })
})
