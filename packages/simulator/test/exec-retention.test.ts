import { Signal } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSimulator, DEFAULT_MAX_EXITED_EXECS, type Simulator } from '../src/index.js'
import { expectCode, startContainer, virtualSim } from './helpers.js'

async function listed(sim: Simulator, id: string): Promise<{ config: string[]; state: string[] }> {
  const config = (await sim.getContainerConfig(id)).execdProcs.map((p) => p.processId)
  const state = (await sim.getContainerState(id)).execdProcs.map((p) => p.processId)
  return { config, state }
}

describe('maxExitedExecs', () => {
  it('defaults to 64 and must be a positive integer', async () => {
    expect(DEFAULT_MAX_EXITED_EXECS).toBe(64)
    expect(createSimulator().maxExitedExecs).toBe(64)
    expect(createSimulator({ maxExitedExecs: 1 }).maxExitedExecs).toBe(1)
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', null]) {
      const e = await expectCode(() => createSimulator({ maxExitedExecs: bad as never }), 'INVALID_ARGUMENT')
      expect(e.message).toContain('maxExitedExecs')
    }
  })

  it('keeps the default number of exited records under a health-check-like stream of execs', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const ids: string[] = []
    for (let i = 0; i < DEFAULT_MAX_EXITED_EXECS + 10; i++) {
      ids.push(await sim.execProcess(id, '/', '/bin/true', ''))
      await sim.clock.advance(10)
    }
    const { config, state } = await listed(sim, id)
    expect(config).toEqual(ids.slice(10))
    expect(state).toEqual(ids.slice(10))
  })

  it('drops the first-finished exited records, never a running one; a dropped ID is NOT_FOUND', async () => {
    const sim = virtualSim({ maxExitedExecs: 2 })
    const id = await startContainer(sim)
    const long = await sim.execProcess(id, '/', '/bin/sleep', '3600')
    const slow = await sim.execProcess(id, '/', '/bin/sleep', '5')
    const quick = await sim.execProcess(id, '/', '/bin/sleep', '1')
    await sim.clock.advance(5000)
    // Two exited, within the bound: nothing goes.
    expect((await listed(sim, id)).state).toEqual([long, slow, quick])
    const last = await sim.execProcess(id, '/', '/bin/false', '')
    // `quick` started after `slow` but finished first, so it is the one forgotten.
    const after = await listed(sim, id)
    expect(after.config).toEqual([long, slow, last])
    expect(after.state).toEqual([long, slow, last])
    const state = await sim.getContainerState(id)
    expect(state.execdProcs.map((p) => p.status)).toEqual(['started', 'exited', 'exited'])
    await expectCode(sim.signal(quick, Signal.SIGTERM), 'NOT_FOUND')
    await expectCode(sim.signal(slow, Signal.SIGTERM), 'INVALID_STATE')
  })

  it('counts processes killed by a stop, and a snapshot keeps the bound', async () => {
    const sim = virtualSim({ maxExitedExecs: 2 })
    const id = await startContainer(sim)
    const a = await sim.execProcess(id, '/', '/bin/true', '')
    const b = await sim.execProcess(id, '/', '/bin/sleep', '3600')
    const c = await sim.execProcess(id, '/', '/bin/sleep', '3600')
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'stopped'))
    expect((await listed(sim, id)).state).toEqual([b, c])
    await expectCode(sim.signal(a, Signal.SIGKILL), 'NOT_FOUND')

    const snap = sim.snapshot()
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    const d = await sim.execProcess(id, '/', '/bin/true', '')
    expect((await listed(sim, id)).state).toEqual([c, d])
    sim.restore(snap)
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    const e = await sim.execProcess(id, '/', '/bin/true', '')
    expect((await listed(sim, id)).state).toEqual([c, e])
  })
})
