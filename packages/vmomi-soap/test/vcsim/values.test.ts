import type { MoRef } from '@portlayer/contracts/vmomi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { createVm, property, run } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

describe('property values as the harness sends them', () => {
  const vcsim = useVcsim()
  let gw: SoapGateway
  let vm: MoRef
  beforeAll(async () => {
    gw = await connect(vcsim())
    vm = await createVm(gw, 'values-vm')
  })
  afterAll(async () => {
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
    await gw.close()
  })

  it('unwraps ArrayOf values of types outside the table into arrays of typed objects', async () => {
    const devices = (await property(gw, vm, 'config.hardware.device')) as Record<string, unknown>[]
    expect(Array.isArray(devices)).toBe(true)
    expect(devices.length).toBeGreaterThan(1)
    for (const device of devices) expect(device._type).toMatch(/^Virtual/)
    expect(devices.map((d) => d._type)).toContain('VirtualIDEController')

    const files = (await property(gw, vm, 'layoutEx.file')) as Record<string, unknown>[]
    expect(Array.isArray(files)).toBe(true)
    expect(files.map((f) => f.name)).toContain('[LocalDS_0] values-vm.vmx')
  })

  it('keeps the white space at either end of a string', async () => {
    // (A value of white space only still reads as '': node-soap drops text-only white space from an
    // element that carries an xsi:type attribute.)
    const values = { 'guestinfo.padded': '  padded  ', 'guestinfo.line': 'last line\n' }
    const version = (await property(gw, vm, 'config.changeVersion')) as string
    await run(
      gw,
      gw.call('ReconfigVM_Task', {
        _this: vm,
        spec: {
          changeVersion: version,
          annotation: ' note ',
          extraConfig: Object.entries(values).map(([key, value]) => ({ key, value })),
        },
      }),
    )
    const extra = (await property(gw, vm, 'config.extraConfig')) as { key: string; value: string }[]
    const read = Object.fromEntries(extra.filter((o) => o.key in values).map((o) => [o.key, o.value]))
    expect(read).toEqual(values)
    expect(await property(gw, vm, 'config.annotation')).toBe(' note ')
  })

  it('reads an empty ArrayOf value as an empty array, not an empty string', async () => {
    expect(await property(gw, vm, 'availableField')).toEqual([])
    expect(await property(gw, vm, 'guest.net')).toEqual([])
  })
})
