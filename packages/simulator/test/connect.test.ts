import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSimulator } from '../src/index.js'

describe('connect(): another client of the same simulated world', () => {
  it('sees the same containers, and its commits make the other client’s handles stale', async () => {
    const a = createSimulator({ clock: 'virtual' })
    const b = a.connect()
    expect(b).not.toBe(a)
    const id = await a.commit(
      await a.setEntryPoint(await a.createContainer('shared'), '/', '/bin/sleep', '60'),
    )
    expect(await b.listContainers()).toContain(id)
    const stale = await a.setLimits(await a.getHandle(id), 300, 600)
    await b.commit(await b.setLimits(await b.getHandle(id), 400, 800))
    const e = await a.commit(stale).catch((x: unknown) => x)
    expect(PortLayerError.isInstance(e, 'CONFLICT')).toBe(true)
    expect((await a.getContainerConfig(id)).limits).toEqual({ memoryMb: 400, cpuMhz: 800 })
    a.close()
  })

  it('shares the clock, faults and a restored world; closing any client closes the world', async () => {
    const a = createSimulator({ clock: 'virtual' })
    const b = a.connect()
    const id = await b.commit(await b.createContainer('before'))
    const snap = a.snapshot()
    await a.destroyContainer(id)
    b.restore(snap)
    expect(await a.listContainers()).toContain(id)
    a.faults.failNext('getContainerConfig', 1, 'UNAVAILABLE')
    expect(
      PortLayerError.isInstance(await b.getContainerConfig(id).catch((x: unknown) => x), 'UNAVAILABLE'),
    ).toBe(true)
    b.close()
    expect(PortLayerError.isInstance(await a.listContainers().catch((x: unknown) => x), 'UNAVAILABLE')).toBe(
      true,
    )
    expect(() => a.connect()).toThrow()
  })
})
