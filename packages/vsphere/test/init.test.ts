import { format, inspect } from 'node:util'
import type { HandleFactory } from '@portlayer/contracts'
import { PortLayerError } from '@portlayer/contracts'
import type { MoRef, ServiceContent, VimArgs, VimMethodName, VmomiGateway } from '@portlayer/contracts/vmomi'
import { BasicHandleFactory } from '@portlayer/handles'
import { describe, expect, it } from 'vitest'
import { createVsphere, PortLayerVsphere, resolveSettings, type VsphereSettings } from '../src/index.js'
import { guestPassword } from '../src/settings.js'

// init only resolves inventory paths, so a tiny fake answering FindByInventoryPath (and the guest
// operations manager's properties) is enough here; everything else runs on the vcsim harness.

const settings: VsphereSettings = {
  datacenter: 'DC0',
  vmFolder: 'DC0/vm',
  resourcePool: 'DC0/host/DC0_C0/Resources',
  datastore: 'LocalDS_0',
  guest: { username: 'root', password: 'secret' },
  exitPollIntervalMs: 0,
}

const INVENTORY: Record<string, MoRef> = {
  DC0: { type: 'Datacenter', value: 'datacenter-2' },
  'DC0/vm': { type: 'Folder', value: 'group-3' },
  'DC0/vm/base': { type: 'VirtualMachine', value: 'vm-9' },
  'DC0/host/DC0_C0/Resources': { type: 'ResourcePool', value: 'resgroup-1' },
  'DC0/datastore/LocalDS_0': { type: 'Datastore', value: 'datastore-1' },
}

function fakeGateway(inventory = INVENTORY, content: Partial<ServiceContent> = {}) {
  const calls: string[] = []
  const gateway: VmomiGateway = {
    serviceContent: {
      rootFolder: { type: 'Folder', value: 'group-1' },
      propertyCollector: { type: 'PropertyCollector', value: 'pc' },
      viewManager: { type: 'ViewManager', value: 'vm' },
      searchIndex: { type: 'SearchIndex', value: 'si' },
      guestOperationsManager: { type: 'GuestOperationsManager', value: 'gom' },
      about: { name: 'fake', fullName: 'fake', version: '8', apiVersion: '8', apiType: 'VirtualCenter' },
      ...content,
    },
    async call<M extends VimMethodName>(method: M, args: VimArgs<M>) {
      calls.push(method)
      if (method === 'FindByInventoryPath') {
        return inventory[(args as VimArgs<'FindByInventoryPath'>).inventoryPath] as never
      }
      if (method === 'RetrievePropertiesEx') {
        return {
          objects: [
            {
              obj: { type: 'GuestOperationsManager', value: 'gom' },
              propSet: [
                { name: 'processManager', val: { type: 'GuestProcessManager', value: 'gpm' } },
                { name: 'fileManager', val: { type: 'GuestFileManager', value: 'gfm' } },
              ],
            },
          ],
        } as never
      }
      throw new Error(`unexpected call ${method}`)
    },
    waitForTask: async () => {
      throw new Error('no tasks here')
    },
    transfer: async () => {
      throw new Error('no transfers here')
    },
    close: async () => {},
  }
  return { gateway, calls }
}

async function refusal(p: Promise<unknown>): Promise<PortLayerError> {
  try {
    await p
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e
    throw e
  }
  throw new Error('resolved')
}

describe('disposal', () => {
  it('Symbol.asyncDispose closes the backend like close(): later calls are UNAVAILABLE, disposing again is harmless, the gateway stays open', async () => {
    const { gateway } = fakeGateway()
    let gatewayClosed = false
    const pl = await new PortLayerVsphere(settings).init(
      {
        ...gateway,
        close: async () => {
          gatewayClosed = true
        },
      } as VmomiGateway,
      new BasicHandleFactory(),
    )
    await pl[Symbol.asyncDispose]()
    expect((await refusal(pl.listContainers())).code).toBe('UNAVAILABLE')
    await pl[Symbol.asyncDispose]()
    expect(gatewayClosed).toBe(false)
  })
})

describe('PortLayerVsphere.init', () => {
  it('resolves every inventory path once, in parallel, and nothing else', async () => {
    const { gateway, calls } = fakeGateway()
    const pl = await new PortLayerVsphere({ ...settings, template: 'DC0/vm/base' }).init(
      gateway,
      new BasicHandleFactory(),
    )
    expect(calls.sort()).toEqual([
      'FindByInventoryPath',
      'FindByInventoryPath',
      'FindByInventoryPath',
      'FindByInventoryPath',
      'FindByInventoryPath',
      'RetrievePropertiesEx',
    ])
    await pl.close()
  })

  it.each([
    ['datacenter', { datacenter: 'DC9', vmFolder: 'DC9/vm', resourcePool: 'DC9/host/x' }],
    ['vmFolder', { vmFolder: 'DC0/vm/missing' }],
    ['resourcePool', { resourcePool: 'DC0/host/nope' }],
    ['datastore', { datastore: 'Nope' }],
    ['template', { template: 'DC0/vm/missing' }],
  ])('fails clearly when %s does not resolve', async (setting, override) => {
    const { gateway } = fakeGateway()
    const e = await refusal(
      new PortLayerVsphere({ ...settings, ...override }).init(gateway, new BasicHandleFactory()),
    )
    expect(e.code).toBe('NOT_FOUND')
    expect(e.backend).toBe('vsphere')
    expect(e.message).toContain(setting)
    expect(e.message).toContain('not in the vSphere inventory')
  })

  it('fails clearly when a path names an object of the wrong kind', async () => {
    const { gateway } = fakeGateway()
    const e = await refusal(
      new PortLayerVsphere({ ...settings, vmFolder: 'DC0/vm/base' }).init(gateway, new BasicHandleFactory()),
    )
    expect(e.code).toBe('NOT_FOUND')
    expect(e.message).toMatch(/vmFolder 'DC0\/vm\/base' is a VirtualMachine, expected Folder/)
  })

  it('refuses an endpoint without guest operations as UNSUPPORTED', async () => {
    const { gateway } = fakeGateway(INVENTORY, { guestOperationsManager: undefined })
    const e = await refusal(new PortLayerVsphere(settings).init(gateway, new BasicHandleFactory()))
    expect(e.code).toBe('UNSUPPORTED')
  })

  it('refuses things that are not a gateway or a factory, and a second init', async () => {
    const { gateway } = fakeGateway()
    const pl = new PortLayerVsphere(settings)
    expect((await refusal(pl.init({} as VmomiGateway, new BasicHandleFactory()))).code).toBe(
      'INVALID_ARGUMENT',
    )
    expect((await refusal(pl.init(gateway, {} as HandleFactory))).code).toBe('INVALID_ARGUMENT')
    await pl.init(gateway, new BasicHandleFactory())
    expect((await refusal(pl.init(gateway, new BasicHandleFactory()))).code).toBe('INVALID_STATE')
    await pl.close()
  })

  it('refuses every operation before init with INVALID_STATE, and after close with UNAVAILABLE', async () => {
    const pl = new PortLayerVsphere(settings)
    expect((await refusal(pl.createContainer('x'))).code).toBe('INVALID_STATE')
    expect((await refusal(pl.listContainers())).code).toBe('INVALID_STATE')
    const { gateway } = fakeGateway()
    await pl.init(gateway, new BasicHandleFactory())
    await pl.close()
    expect((await refusal(pl.listContainers())).code).toBe('UNAVAILABLE')
  })

  it('makes handles without any vSphere call (IDs and names are checked locally)', async () => {
    const { gateway, calls } = fakeGateway()
    const pl = await new PortLayerVsphere(settings).init(gateway, new BasicHandleFactory())
    calls.length = 0
    const h = await pl.createContainer('web')
    expect(h.baseVersion).toBeNull()
    const h2 = await pl.setLimits(await pl.setEntryPoint(h, '/', '/bin/true', ''), 256, 500)
    expect(h2.pending.limits).toEqual({ memoryMb: 256, cpuMhz: 500 })
    expect((await refusal(pl.setLimits(h, 0, 500))).backend).toBe('vsphere')
    expect((await refusal(pl.createContainer(''))).code).toBe('INVALID_ARGUMENT')
    expect((await refusal(pl.getHandle('nope'))).code).toBe('INVALID_ARGUMENT')
    expect(calls).toEqual([])
    await pl.close()
  })

  it('never shows the guest password when the backend or its settings are logged', async () => {
    const secret = 'guest-pw-8c1d'
    const { gateway } = fakeGateway()
    const config = { ...settings, guest: { username: 'root', password: secret } }
    const pl = await new PortLayerVsphere(config).init(gateway, new BasicHandleFactory())
    const resolved = resolveSettings(config)
    expect(guestPassword(resolved.guest), 'the password stays readable to code').toBe(secret)
    for (const shown of [
      inspect(pl, { depth: Number.POSITIVE_INFINITY }),
      inspect(pl, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true }),
      inspect(resolved, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
      format('%o %O', pl, resolved),
      JSON.stringify(resolved),
      JSON.stringify(pl),
    ]) {
      expect(shown).not.toContain(secret)
    }
    await pl.close()
  })
})

describe('createVsphere', () => {
  it('returns a connected backend, as init does, with BasicHandleFactory when none is given', async () => {
    const { gateway, calls } = fakeGateway()
    const pl = await createVsphere({ gateway, ...settings })
    expect(pl).toBeInstanceOf(PortLayerVsphere)
    expect(calls.filter((m) => m === 'FindByInventoryPath')).toHaveLength(4)
    const h = await pl.createContainer('web')
    expect(h.baseVersion).toBeNull()
    expect((await refusal(pl.init(gateway))).code).toBe('INVALID_STATE')
    await pl.close()
  })

  it('uses the handle factory it is given', async () => {
    const { gateway } = fakeGateway()
    const factory = new BasicHandleFactory()
    const pl = await createVsphere({ gateway, handleFactory: factory, ...settings })
    const h = await pl.createContainer('web')
    expect(() => factory.assertHandle(h)).not.toThrow()
    await pl.close()
  })

  it('checks the settings before anything reaches vSphere', async () => {
    const { gateway, calls } = fakeGateway()
    const e = await refusal(createVsphere({ gateway, ...settings, vmFolder: 'elsewhere/vm' }))
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect(e.backend).toBe('vsphere')
    expect(e.message).toContain('vmFolder')
    expect(calls).toEqual([])
  })

  it('refuses a missing gateway or a bad factory as INVALID_ARGUMENT, before any call', async () => {
    const { gateway, calls } = fakeGateway()
    const noGateway = await refusal(createVsphere({ ...settings } as never))
    expect(noGateway.code).toBe('INVALID_ARGUMENT')
    expect(noGateway.message).toContain('VmomiGateway')
    const badFactory = await refusal(
      createVsphere({ gateway, handleFactory: {} as HandleFactory, ...settings }),
    )
    expect(badFactory.code).toBe('INVALID_ARGUMENT')
    expect(badFactory.message).toContain('HandleFactory')
    expect(calls).toEqual([])
  })

  it('turns any JavaScript value given as options into INVALID_ARGUMENT, never a TypeError', async () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new TypeError('trap')
        },
      },
    )
    for (const options of [undefined, null, 42, 'settings', [], hostile]) {
      const e = await refusal(createVsphere(options as never))
      expect(e.code, String(options)).toBe('INVALID_ARGUMENT')
      expect(e.backend).toBe('vsphere')
    }
  })
})
