import { type CommitExtension, PortLayerError, RunState } from '@portlayer/contracts'
import { BasicHandleFactory } from '@portlayer/handles'
import { createSimulator } from '@portlayer/simulator'
import { describe, expect, it } from 'vitest'
import { NET_NAMESPACE, type NetAttachment, NetExtension } from '../src/index.js'

function setup(cidr = '10.0.0.0/24') {
  const factory = new BasicHandleFactory()
  const sim = createSimulator({ clock: 'virtual', handleFactory: factory })
  const net = new NetExtension({ factory, network: 'backend', cidr })
  sim.registerExtension(net.extension)
  return { sim, net, factory }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(PortLayerError.isInstance(e), `expected a PortLayerError ${code}, got ${String(e)}`).toBe(true)
  expect((e as PortLayerError).code).toBe(code)
}

describe('NetExtension on the simulator', () => {
  it('allocates addresses in the same commit that creates the container', async () => {
    const { sim, net } = setup()
    const a = await sim.commit(net.attach(await sim.createContainer('a')))
    const b = await sim.commit(net.attach(await sim.createContainer('b')))
    expect(await sim.getExtensionState<NetAttachment>(a, NET_NAMESPACE)).toEqual({
      network: 'backend',
      address: '10.0.0.2',
      gateway: '10.0.0.1',
    })
    expect((await sim.getExtensionState<NetAttachment>(b, NET_NAMESPACE))?.address).toBe('10.0.0.3')
    expect(net.allocations()).toEqual(
      new Map([
        ['10.0.0.2', a],
        ['10.0.0.3', b],
      ]),
    )
  })

  it('rejects the whole commit when a fixed address is taken, creating nothing', async () => {
    const { sim, net } = setup()
    await sim.commit(net.attach(await sim.createContainer('a'), '10.0.0.7'))
    const before = await sim.listContainers()
    let h = await sim.createContainer('b')
    h = await sim.setLimits(h, 512, 1000)
    await expectCode(sim.commit(net.attach(h, '10.0.0.7')), 'CONFLICT')
    expect(await sim.listContainers()).toEqual(before)
    await expectCode(sim.getContainerConfig(h.containerId), 'NOT_FOUND')
    expect([...net.allocations().keys()]).toEqual(['10.0.0.7'])
  })

  it('rejects a commit when the pool is exhausted and keeps the existing change intact', async () => {
    const { sim, net } = setup('10.0.0.0/29') // hosts .2–.6
    for (let i = 0; i < 5; i++) await sim.commit(net.attach(await sim.createContainer(`c${i}`)))
    const id = await sim.commit(await sim.createContainer('late'))
    const h = await sim.setLimits(await sim.getHandle(id), 256, 500)
    const config = await sim.getContainerConfig(id)
    await expectCode(sim.commit(net.attach(h)), 'INVALID_STATE')
    expect(await sim.getContainerConfig(id)).toEqual(config)
    expect(await sim.getExtensionState(id, NET_NAMESPACE)).toBeUndefined()
  })

  it('releases the address when another extension rejects the same commit', async () => {
    const { sim, net, factory } = setup()
    const refusing: CommitExtension<string> = {
      namespace: 'quota',
      prepare: () => {
        throw new PortLayerError('INVALID_STATE', 'quota exceeded')
      },
    }
    sim.registerExtension(refusing)
    const h = factory.withExtension(net.attach(await sim.createContainer('x')), 'quota', 'too much')
    await expectCode(sim.commit(h), 'INVALID_STATE')
    expect(net.allocations().size).toBe(0)
  })

  it('destroy releases the address for reuse; detach frees it while the container lives', async () => {
    const { sim, net } = setup()
    const a = await sim.commit(net.attach(await sim.createContainer('a')))
    await sim.destroyContainer(a)
    expect(net.allocations().size).toBe(0)
    const b = await sim.commit(net.attach(await sim.createContainer('b')))
    expect((await sim.getExtensionState<NetAttachment>(b, NET_NAMESPACE))?.address).toBe('10.0.0.2')
    await sim.commit(net.detach(await sim.getHandle(b)))
    expect(await sim.getExtensionState(b, NET_NAMESPACE)).toBeNull()
    expect(net.allocations().size).toBe(0)
  })

  it('an address on a running container is applied with the rest of the handle', async () => {
    const { sim, net } = setup()
    let h = await sim.createContainer('svc')
    h = await sim.copyTo(h, '/usr/local/bin', 'svc', 0o755, new TextEncoder().encode('#!'))
    h = await sim.setEntryPoint(h, '/', '/usr/local/bin/svc', '')
    const id = await sim.commit(await sim.setRunState(h, RunState.Running))
    await sim.commit(net.attach(await sim.getHandle(id), '10.0.0.50'))
    expect((await sim.getExtensionState<NetAttachment>(id, NET_NAMESPACE))?.address).toBe('10.0.0.50')
    expect((await sim.getContainerState(id)).status).toBe('running')
  })

  it('checks addresses when the handle is made, not at commit', async () => {
    const { sim, net } = setup()
    const h = await sim.createContainer('x')
    expect(() => net.attach(h, '10.0.1.5')).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => net.attach(h, '10.0.0.300')).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('adopt learns what a backend already holds', async () => {
    const { sim, net } = setup()
    const a = await sim.commit(net.attach(await sim.createContainer('a')))
    const fresh = new NetExtension({
      factory: new BasicHandleFactory(),
      network: 'backend',
      cidr: '10.0.0.0/24',
    })
    await fresh.adopt(sim)
    expect(fresh.allocations()).toEqual(new Map([['10.0.0.2', a]]))
  })
})
