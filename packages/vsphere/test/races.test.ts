import { type ID, PortLayerError } from '@portlayer/contracts'
import { afterEach, describe, expect, it } from 'vitest'
import type { PortLayerVsphere } from '../src/index.js'
import { useVcsim } from './support/vcsim.js'

// Two backends that share nothing but vSphere (as two processes would): vSphere's changeVersion
// decides which commit wins.

const vcsim = useVcsim()
const backends: PortLayerVsphere[] = []
let owner: PortLayerVsphere | undefined
const created: ID[] = []

async function two(): Promise<[PortLayerVsphere, PortLayerVsphere]> {
  const a = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
  const b = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
  backends.push(a, b)
  owner = a
  return [a, b]
}

afterEach(async () => {
  for (const id of created.splice(0)) {
    try {
      await owner?.commit(await owner.setRunState(await owner.getHandle(id), 'stopped'))
      await owner?.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  for (const pl of backends.splice(0)) await pl.close()
})

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (PortLayerError.isInstance(e) ? e.code : String(e)),
  )

describe('two processes, one container', () => {
  it('concurrent starts from the same version: one wins, the other is CONFLICT, the main process runs once', async () => {
    const [a, b] = await two()
    const id = await a.commit(
      await a.setEntryPoint(await a.createContainer('race-start'), '/', '/bin/sleep', '3600'),
    )
    created.push(id)
    const ha = await a.setRunState(await a.getHandle(id), 'running')
    const hb = await b.setRunState(await b.getHandle(id), 'running')
    expect(ha.baseVersion).toBe(hb.baseVersion)
    const results = await Promise.all([outcome(a.commit(ha)), outcome(b.commit(hb))])
    expect(results.sort()).toEqual(['CONFLICT', 'ok'])
    const state = await b.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
  })

  it('concurrent limit changes: exactly one lands, and both processes read the same result', async () => {
    const [a, b] = await two()
    const id = await a.commit(await a.createContainer('race-limits'))
    created.push(id)
    const ha = await a.setLimits(await a.getHandle(id), 301, 1001)
    const hb = await b.setLimits(await b.getHandle(id), 302, 1002)
    const results = await Promise.all([outcome(a.commit(ha)), outcome(b.commit(hb))])
    expect([...results].sort()).toEqual(['CONFLICT', 'ok'])
    const winner = results[0] === 'ok' ? { memoryMb: 301, cpuMhz: 1001 } : { memoryMb: 302, cpuMhz: 1002 }
    expect((await a.getContainerConfig(id)).limits).toEqual(winner)
    expect((await b.getContainerConfig(id)).limits).toEqual(winner)
  })

  it('a container destroyed by one process is NOT_FOUND for the other, which had it cached', async () => {
    const [a, b] = await two()
    const id = await a.commit(await a.createContainer('race-destroy'))
    const h = await b.getHandle(id)
    await a.destroyContainer(id)
    expect(await outcome(b.getContainerConfig(id))).toBe('NOT_FOUND')
    expect(await outcome(b.commit(await b.setLimits(h, 300, 300)))).toBe('NOT_FOUND')
    expect(await b.listContainers()).not.toContain(id)
  })
})
