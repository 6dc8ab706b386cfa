import type { ID } from '@portlayer/contracts'
import { NET_NAMESPACE, type NetAttachment, NetExtension } from '@portlayer/example-net-extension'
import { BasicHandleFactory } from '@portlayer/handles'
import { afterEach, describe, expect, it } from 'vitest'
import { PortLayerVsphere } from '../src/index.js'
import { CountingGateway } from './support/counting-gateway.js'
import { extraConfigOf, vmOf } from './support/inspect.js'
import { useVcsim, vcsimSettings } from './support/vcsim.js'

// examples/net-extension, written against the simulator, works unchanged on vSphere: its slot is
// applied by the same VM reconfiguration, its applied value lives in extraConfig, and a new
// process can adopt the allocations from there.

const vcsim = useVcsim()
const backends: PortLayerVsphere[] = []
const created: Array<[PortLayerVsphere, ID]> = []

async function setup(gateway = vcsim.gateway as CountingGateway | typeof vcsim.gateway) {
  const factory = new BasicHandleFactory()
  const pl = await new PortLayerVsphere(
    vcsimSettings(vcsim.vc, { exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 }),
  ).init(gateway, factory)
  backends.push(pl)
  const net = new NetExtension({ factory, network: 'backend', cidr: '10.9.0.0/24' })
  pl.registerExtension(net.extension)
  return { pl, net }
}

afterEach(async () => {
  for (const [pl, id] of created.splice(0)) {
    try {
      await pl.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  for (const pl of backends.splice(0)) await pl.close()
})

describe('examples/net-extension on vSphere', () => {
  it('allocates in the create call itself, records the attachment in extraConfig, detaches and releases', async () => {
    const counting = new CountingGateway(vcsim.gateway)
    const { pl, net } = await setup(counting)
    counting.reset()
    const a = await pl.commit(net.attach(await pl.createContainer('net-a')))
    created.push([pl, a])
    expect(counting.snapshot()).toEqual({ CreateVM_Task: 1, waitForTask: 1 })
    const attachment = await pl.getExtensionState<NetAttachment>(a, NET_NAMESPACE)
    expect(attachment).toEqual({ network: 'backend', address: '10.9.0.2', gateway: '10.9.0.1' })
    const extra = await extraConfigOf(vcsim.gateway, await vmOf(vcsim.gateway, a))
    expect(extra.get('guestinfo.net.address')).toBe('10.9.0.2')
    expect(JSON.parse(extra.get('guestinfo.portlayer.ext.net') ?? '')).toEqual(attachment)

    await pl.commit(net.detach(await pl.getHandle(a)))
    expect(await pl.getExtensionState(a, NET_NAMESPACE)).toBeNull()
    expect(
      (await extraConfigOf(vcsim.gateway, await vmOf(vcsim.gateway, a))).has('guestinfo.net.address'),
    ).toBe(false)
    expect(net.allocations().size).toBe(0)

    const b = await pl.commit(net.attach(await pl.createContainer('net-b'), '10.9.0.9'))
    expect(net.allocations().get('10.9.0.9')).toBe(b)
    await pl.destroyContainer(b)
    expect(net.allocations().has('10.9.0.9')).toBe(false)
  })

  it('a refused address rejects the whole create: no VM, nothing reserved', async () => {
    const { pl, net } = await setup()
    const a = await pl.commit(net.attach(await pl.createContainer('net-held'), '10.9.0.7'))
    created.push([pl, a])
    const h = net.attach(await pl.setLimits(await pl.createContainer('net-refused'), 256, 500), '10.9.0.7')
    await expect(pl.commit(h)).rejects.toMatchObject({ code: 'CONFLICT' })
    await expect(pl.getContainerConfig(h.containerId)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect([...net.allocations().keys()]).toEqual(['10.9.0.7'])
  })

  it('a new process adopts the attachments recorded in vSphere', async () => {
    const first = await setup()
    const a = await first.pl.commit(first.net.attach(await first.pl.createContainer('net-adopt')))
    created.push([first.pl, a])
    const address = (await first.pl.getExtensionState<NetAttachment>(a, NET_NAMESPACE))?.address
    const second = await setup()
    await second.net.adopt(second.pl)
    expect(second.net.allocations().get(address as string)).toBe(a)
    // The adopted pool does not hand the same address out again.
    const b = await second.pl.commit(second.net.attach(await second.pl.createContainer('net-next')))
    created.push([second.pl, b])
    expect((await second.pl.getExtensionState<NetAttachment>(b, NET_NAMESPACE))?.address).not.toBe(address)
  })
})
