import { createSimulator } from '@portlayer/simulator'
import { describe, expect, it } from 'vitest'
import { currentPort, deploy, updatePort } from '../src/deploy.js'

// Each test gets its own simulator: nothing leaks between tests, and a virtual clock means no
// test waits for real time.
const newSim = () => createSimulator({ clock: 'virtual' })

describe('deploy', () => {
  it('starts the service with its config and the default limits', async () => {
    const sim = newSim()
    const id = await deploy(sim, { name: 'web', port: 8080 })
    const [config, state] = await Promise.all([sim.getContainerConfig(id), sim.getContainerState(id)])
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
    expect(config.limits.memoryMb).toBeGreaterThan(0)
    expect(await currentPort(sim, id)).toBe(8080)
  })

  it('retries a commit that failed with UNAVAILABLE', async () => {
    const sim = newSim()
    sim.faults.failNext('commit', 2, 'UNAVAILABLE')
    const id = await deploy(sim, { name: 'web', port: 8080 })
    expect((await sim.getContainerState(id)).status).toBe('running')
  })

  it('gives up after its retries and leaves nothing behind', async () => {
    const sim = newSim()
    sim.faults.failNext('commit', 5, 'UNAVAILABLE')
    await expect(deploy(sim, { name: 'web', port: 8080 }, 2)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    expect(await sim.listContainers()).toEqual([])
  })
})

describe('updatePort', () => {
  it('lets concurrent updates all land, the last one winning', async () => {
    const sim = newSim()
    const id = await deploy(sim, { name: 'web', port: 8080 })
    await Promise.all([9001, 9002, 9003, 9004].map((port) => updatePort(sim, id, port)))
    expect([9001, 9002, 9003, 9004]).toContain(await currentPort(sim, id))
  })

  it('fails cleanly when the service is gone', async () => {
    const sim = newSim()
    const id = await deploy(sim, { name: 'web', port: 8080 })
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'stopped'))
    await sim.destroyContainer(id)
    await expect(updatePort(sim, id, 9000)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('time', () => {
  it('a 30-second job finishes when the virtual clock says so', async () => {
    const sim = newSim()
    let h = await sim.createContainer('job')
    h = await sim.setEntryPoint(h, '/', '/bin/sleep', '30')
    const id = await sim.commit(await sim.setRunState(h, 'running'))
    await sim.clock.advance(29_000)
    expect((await sim.getContainerState(id)).status).toBe('running')
    await sim.clock.advance(1_000)
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess?.exitCode).toBe(0)
  })
})
