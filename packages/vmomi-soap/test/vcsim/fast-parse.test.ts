import type { NamePasswordAuthentication } from '@portlayer/contracts/vmomi'
import { createClientAsync } from 'soap'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAnswer } from '../../src/fast-parse.js'
import type { SoapGateway } from '../../src/index.js'
import { normalizeField } from '../../src/normalize.js'
import { OPS } from '../../src/schema/registry.js'
import { wsdlCache } from '../../src/soap-client.js'
import { vim25Wsdl } from '../../src/wsdl.js'
import { createVm, find, guestManagers, property, run } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

// The gateway reads successful answers with its own parser and leaves the rest to node-soap.
// node-soap untouched is the oracle: for every answer the harness gave during a varied run of
// calls, the normalised result of the fast parse must equal that of node-soap's parse.

type Wsdl = { xmlToObject(xml: unknown, callback?: unknown): unknown }

describe('the fast answer parser against node-soap', () => {
  const vcsim = useVcsim()
  const answers: string[] = []
  let wsdl: Wsdl
  let ownParse: Wsdl['xmlToObject']
  let gw: SoapGateway

  beforeAll(async () => {
    await connect(vcsim()).then((g) => g.close())
    wsdl = [...wsdlCache.values()][0] as Wsdl
    ownParse = wsdl.xmlToObject
    wsdl.xmlToObject = function (this: unknown, xml: unknown, callback?: unknown) {
      if (typeof xml === 'string') answers.push(xml)
      return ownParse.call(this, xml, callback)
    }
    gw = await connect(vcsim())
  })
  afterAll(async () => {
    wsdl.xmlToObject = ownParse
    await gw.close()
  })

  it('gives the same normalised results for every answer of a varied run', async () => {
    const vm = await createVm(gw, 'fast-parse-vm')
    const tricky = {
      'guestinfo.entities': `a & b < c > d "e" 'f'`,
      'guestinfo.padded': '  padded  ',
      'guestinfo.spaces': '   ',
      'guestinfo.empty': '',
      'guestinfo.unicode': 'zoë — 日本 🚀',
      'guestinfo.json': JSON.stringify({ id: 'x', list: [1, 2], nested: { a: '<b>' } }),
      'guestinfo.lines': 'one\ntwo\r\nthree\t',
    }
    await run(
      gw,
      gw.call('ReconfigVM_Task', {
        _this: vm,
        spec: {
          annotation: 'note & <more>',
          extraConfig: Object.entries(tricky).map(([key, value]) => ({ key, value })),
        },
      }),
    )
    await run(gw, gw.call('PowerOnVM_Task', { _this: vm }))
    for (const path of ['config', 'runtime', 'guest', 'summary', 'layoutEx', 'config.extraConfig', 'name'])
      await property(gw, vm, path)
    const viewManager = gw.serviceContent.viewManager
    if (!viewManager) throw new Error('no view manager')
    const view = await gw.call('CreateContainerView', {
      _this: viewManager,
      container: await find(gw, 'DC0/vm'),
      type: ['VirtualMachine'],
      recursive: false,
    })
    await gw.call('RetrievePropertiesEx', {
      _this: gw.serviceContent.propertyCollector,
      specSet: [
        {
          propSet: [
            { type: 'VirtualMachine', pathSet: ['name', 'config.extraConfig', 'runtime.powerState'] },
          ],
          objectSet: [
            {
              obj: view,
              skip: true,
              selectSet: [
                { _type: 'TraversalSpec', name: 'v', type: 'ContainerView', path: 'view', skip: false },
              ],
            },
          ],
        },
      ],
      options: { maxObjects: 2 },
    })
    const managers = await guestManagers(gw)
    const auth: NamePasswordAuthentication = {
      _type: 'NamePasswordAuthentication',
      interactiveSession: false,
      ...vcsim().guest,
    }
    const pid = await gw.call('StartProgramInGuest', {
      _this: managers.processes,
      vm,
      auth,
      spec: { programPath: '/bin/sh', arguments: '-c "exit 3"', workingDirectory: '/tmp' },
    })
    await gw.call('ListProcessesInGuest', { _this: managers.processes, vm, auth, pids: [pid] })
    await gw.call('ListProcessesInGuest', { _this: managers.processes, vm, auth })
    await gw.call('FindByInventoryPath', {
      _this: gw.serviceContent.searchIndex,
      inventoryPath: 'DC0/nothing',
    })
    await gw.call('CurrentTime', { _this: { type: 'ServiceInstance', value: 'ServiceInstance' } })
    await gw.call('DestroyView', { _this: view })
    await vcsim().admin.failNext('ReconfigVM_Task', 'InvalidState')
    await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'refused' } }).catch(() => undefined)
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))

    const oracle = (await createClientAsync(vim25Wsdl(), {
      endpoint: 'http://127.0.0.1:9/sdk',
      returnFault: false,
      preserveWhitespace: true,
    } as never)) as unknown as { wsdl: Wsdl }
    let compared = 0
    let left = 0
    const methods = new Set<string>()
    for (const answer of answers) {
      const fast = parseAnswer(answer)
      let slow: Record<string, unknown>
      try {
        slow = oracle.wsdl.xmlToObject(answer) as Record<string, unknown>
      } catch {
        // A fault: node-soap throws, and the fast parser must have left it to node-soap.
        expect(fast).toBeUndefined()
        left++
        continue
      }
      expect(fast).toBeDefined()
      const body = slow.Body as Record<string, unknown>
      const [element] = Object.keys(body)
      const method = String(element).replace(/Response$/, '')
      const op = OPS.get(method)
      if (!op?.returns) continue
      const returns = op.returns
      const normalised = (envelope: Record<string, unknown>) =>
        normalizeField(
          ((envelope.Body as Record<string, unknown>)[String(element)] as { returnval?: unknown } | null)
            ?.returnval,
          returns,
        )
      expect(normalised(fast as Record<string, unknown>), method).toEqual(normalised(slow))
      methods.add(method)
      compared++
    }
    expect(left).toBeGreaterThanOrEqual(1)
    expect(compared).toBeGreaterThan(20)
    for (const m of [
      'RetrieveServiceContent',
      'Login',
      'RetrievePropertiesEx',
      'CreateVM_Task',
      'ReconfigVM_Task',
      'CreateContainerView',
      'StartProgramInGuest',
      'ListProcessesInGuest',
      'CurrentTime',
    ])
      expect(methods).toContain(m)
  })
})
