import type { MoRef, ObjectContent, PropertyFilterSpec } from '@portlayer/contracts/vmomi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { find } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

const VMS = 2_000
const PAGE = 300
const BATCH = 40

describe('paged property reads', () => {
  const vcsim = useVcsim()
  let gw: SoapGateway
  const created = new Set<string>()

  beforeAll(async () => {
    gw = await connect(vcsim(), { maxSockets: 16, pageSize: PAGE })
    const [folder, pool] = await Promise.all([find(gw, 'DC0/vm'), find(gw, 'DC0/host/DC0_C0/Resources')])
    // Parallel batches: the harness serves each creation in a few milliseconds.
    for (let start = 0; start < VMS; start += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, VMS - start) }, async (_, i) => {
        const name = `paging-${String(start + i).padStart(4, '0')}`
        const task = await gw.call('CreateVM_Task', {
          _this: folder,
          config: {
            name,
            guestId: 'otherGuest',
            numCPUs: 1,
            memoryMB: 32,
            files: { vmPathName: '[LocalDS_0]' },
          },
          pool,
        })
        const vm = (await gw.waitForTask(task)).result as MoRef
        created.add(vm.value)
      })
      await Promise.all(batch)
    }
  }, 300_000)

  afterAll(async () => {
    await gw?.close()
  })

  it(`reads ${VMS} VMs through a container view in pages of at most ${PAGE}, each VM once`, async () => {
    expect(created.size).toBe(VMS)
    const view = await gw.call('CreateContainerView', {
      _this: gw.serviceContent.viewManager as MoRef,
      container: gw.serviceContent.rootFolder,
      type: ['VirtualMachine'],
      recursive: true,
    })
    const spec: PropertyFilterSpec = {
      propSet: [
        { type: 'VirtualMachine', pathSet: ['name', 'config.hardware.memoryMB', 'runtime.powerState'] },
      ],
      objectSet: [
        {
          obj: view,
          skip: true,
          selectSet: [{ _type: 'TraversalSpec', type: 'ContainerView', path: 'view', skip: false }],
        },
      ],
    }
    const pc = gw.serviceContent.propertyCollector
    const pages: ObjectContent[][] = []
    // Asking for more than the gateway's page size still gets pages of at most that size.
    let result = await gw.call('RetrievePropertiesEx', {
      _this: pc,
      specSet: [spec],
      options: { maxObjects: 10_000 },
    })
    if (result) pages.push(result.objects)
    while (result?.token) {
      result = await gw.call('ContinueRetrievePropertiesEx', { _this: pc, token: result.token })
      pages.push(result.objects)
    }
    await gw.call('DestroyView', { _this: view })

    const seen = new Map<string, number>()
    for (const page of pages)
      for (const object of page) seen.set(object.obj.value, (seen.get(object.obj.value) ?? 0) + 1)
    for (const vm of created) expect(seen.get(vm), `VM ${vm} seen once`).toBe(1)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    const first = pages[0]?.find((o) => created.has(o.obj.value))
    expect(first?.propSet.find((p) => p.name === 'config.hardware.memoryMB')?.val).toBe(32)

    expect(
      Math.max(...pages.map((p) => p.length)),
      'the server ignored maxObjects: the vcsim harness must page RetrievePropertiesEx as vCenter does',
    ).toBeLessThanOrEqual(PAGE)
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(VMS / PAGE))
  })

  it('cancels the rest of a read that is abandoned after its first page', async () => {
    const spec: PropertyFilterSpec = {
      propSet: [{ type: 'VirtualMachine', pathSet: ['name'] }],
      objectSet: [
        {
          obj: gw.serviceContent.rootFolder,
          skip: true,
          selectSet: [
            {
              _type: 'TraversalSpec',
              name: 'folder',
              type: 'Folder',
              path: 'childEntity',
              skip: false,
              selectSet: [{ name: 'folder' }, { name: 'dc' }],
            },
            {
              _type: 'TraversalSpec',
              name: 'dc',
              type: 'Datacenter',
              path: 'vmFolder',
              skip: false,
              selectSet: [{ name: 'folder' }],
            },
          ],
        },
      ],
    }
    const pc = gw.serviceContent.propertyCollector
    const first = await gw.call('RetrievePropertiesEx', {
      _this: pc,
      specSet: [spec],
      options: { maxObjects: 50 },
    })
    expect(first?.objects.length).toBeGreaterThan(0)
    expect(first?.objects.length).toBeLessThanOrEqual(50)
    expect(first?.token, 'the harness must return a continuation token').toBeTruthy()
    await gw.call('CancelRetrievePropertiesEx', { _this: pc, token: first?.token as string })
    await expect(
      gw.call('ContinueRetrievePropertiesEx', { _this: pc, token: first?.token as string }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/INVALID_ARGUMENT|NOT_FOUND/),
    })
  })
})
