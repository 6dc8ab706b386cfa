import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { SIM_OPERATIONS } from '../src/index.js'
import { expectCode, startContainer, virtualSim } from './helpers.js'

describe('fault injection', () => {
  it('fails the next N calls of an operation with the given code and changes nothing', async () => {
    const sim = virtualSim()
    const h = await sim.createContainer('x')
    sim.faults.failNext('commit', 2, 'TIMEOUT')
    const e = await expectCode(sim.commit(h), 'TIMEOUT')
    expect(e.backend).toBe('simulator')
    expect(e.detail).toMatchObject({ injected: true, operation: 'commit' })
    expect(e.message).toContain(h.containerId)
    await expectCode(sim.commit(h), 'TIMEOUT')
    expect(await sim.listContainers()).toEqual([])
    expect(await sim.commit(h)).toBe(h.containerId)
  })

  it('defaults to one UNAVAILABLE failure, counts per operation, and queues armings in order', async () => {
    const sim = virtualSim()
    sim.faults.failNext('listContainers')
    sim.faults.failNext('listContainers', 1, 'NOT_FOUND')
    await sim.createContainer('unaffected')
    await expectCode(sim.listContainers(), 'UNAVAILABLE')
    await expectCode(sim.listContainers(), 'NOT_FOUND')
    expect(await sim.listContainers()).toEqual([])
  })

  it("'*' fails whichever operation comes next, and clear disarms", async () => {
    const sim = virtualSim()
    sim.faults.failNext('*', 1, 'CONFLICT')
    await expectCode(sim.createContainer('x'), 'CONFLICT')
    await sim.createContainer('x')
    sim.faults.failNext('getHandle', 3)
    sim.faults.clear('getHandle')
    const id = await sim.commit(await sim.createContainer('y'))
    await sim.getHandle(id)
    sim.faults.failNext('signal', 1)
    sim.faults.clear()
    await expectCode(sim.signal(id, 15), 'INVALID_STATE')
  })

  it('adds latency on the simulator clock, per operation or for all, with jitter', async () => {
    const sim = virtualSim()
    sim.faults.setLatency('*', 100)
    sim.faults.setLatency('createContainer', 1000, 500)
    let handled = false
    const creating = sim.createContainer('slow').then((h) => {
      handled = true
      return h
    })
    await sim.clock.advance(999)
    expect(handled).toBe(false)
    await sim.clock.advance(501)
    expect(handled).toBe(true)
    const listing = sim.listContainers()
    await sim.clock.advance(100)
    expect(await listing).toEqual([])
    sim.faults.setLatency('*', 0)
    sim.faults.setLatency('createContainer', 0)
    await creating
    expect(await sim.listContainers()).toEqual([])
  })

  it('applies latency before the injected failure', async () => {
    const sim = virtualSim()
    sim.faults.setLatency('getContainerState', 50)
    sim.faults.failNext('getContainerState', 1, 'UNAVAILABLE')
    let failed = false
    const p = sim.getContainerState('3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f').catch((e) => {
      failed = PortLayerError.isInstance(e, 'UNAVAILABLE')
    })
    await sim.clock.advance(49)
    expect(failed).toBe(false)
    await sim.clock.advance(1)
    await p
    expect(failed).toBe(true)
  })

  it('covers every port-layer operation', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const h = await sim.getHandle(id)
    const calls: Record<string, () => Promise<unknown>> = {
      createContainer: () => sim.createContainer('x'),
      getHandle: () => sim.getHandle(id),
      copyTo: () => sim.copyTo(h, '/tmp', 'f', 0o644, new Uint8Array()),
      setEntryPoint: () => sim.setEntryPoint(h, '/', '/bin/true', ''),
      setLimits: () => sim.setLimits(h, 1, 1),
      setRunState: () => sim.setRunState(h, 'stopped'),
      commit: () => sim.commit(h),
      destroyContainer: () => sim.destroyContainer(id),
      listContainers: () => sim.listContainers(),
      getContainerConfig: () => sim.getContainerConfig(id),
      getContainerState: () => sim.getContainerState(id),
      copyFrom: () => sim.copyFrom(id, '/usr/local/bin', 'app'),
      execProcess: () => sim.execProcess(id, '/', '/bin/true', ''),
      signal: () => sim.signal(id, 10),
      getExtensionState: () => sim.getExtensionState(id, 'net'),
      waitForExit: () => sim.waitForExit(id),
      readOutput: () => sim.readOutput(id)[Symbol.asyncIterator]().next(),
    }
    expect(Object.keys(calls).sort()).toEqual([...SIM_OPERATIONS].sort())
    for (const [op, call] of Object.entries(calls)) {
      sim.faults.failNext(op as never, 1, 'UNAVAILABLE')
      await expectCode(call(), 'UNAVAILABLE')
    }
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.execdProcs).toEqual([])
  })

  it('rejects bad arguments', async () => {
    const sim = virtualSim()
    await expectCode(() => sim.faults.failNext('explode' as never), 'INVALID_ARGUMENT')
    await expectCode(() => sim.faults.failNext('commit', 0), 'INVALID_ARGUMENT')
    await expectCode(() => sim.faults.failNext('commit', 1, 'OOPS' as never), 'INVALID_ARGUMENT')
    await expectCode(() => sim.faults.setLatency('commit', -1), 'INVALID_ARGUMENT')
    await expectCode(() => sim.faults.setLatency('commit', 1, Number.NaN), 'INVALID_ARGUMENT')
    await expectCode(() => sim.faults.clear('nope' as never), 'INVALID_ARGUMENT')
  })
})
