import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { expectCode, startContainer, virtualSim } from './helpers.js'

const stubborn = { run: (ctx: { forever(): Promise<never> }) => ctx.forever(), onSignal: () => {} }

/** Settles `work` or fails the test after `ms` of real time, so a hang shows as a failure. */
async function settlesWithin<T>(work: Promise<T>, ms = 1000): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([Promise.allSettled([work]).then(([r]) => r as PromiseSettledResult<T>), hang])
  } finally {
    clearTimeout(timer)
  }
}

function expectUnavailable(result: PromiseSettledResult<unknown>): PortLayerError {
  expect(result.status).toBe('rejected')
  const e = (result as PromiseRejectedResult).reason
  expect(PortLayerError.isInstance(e, ErrorCode.Unavailable)).toBe(true)
  expect((e as PortLayerError).backend).toBe('simulator')
  expect((e as PortLayerError).message).toMatch(/closed/)
  return e as PortLayerError
}

describe('close', () => {
  it.each(['real', 'virtual'] as const)(
    'rejects calls waiting on injected latency (%s clock) with UNAVAILABLE, and every later call',
    async (clock) => {
      const sim = createSimulator({ clock })
      const id = await sim.commit(await sim.createContainer('x'))
      sim.faults.setLatency('*', 60_000)
      const listing = sim.listContainers()
      const reading = sim.getContainerConfig(id)
      await new Promise((r) => setImmediate(r))
      sim.close()
      expect(sim.clock.pendingTimers()).toBe(0)
      expectUnavailable(await settlesWithin(listing))
      expect(expectUnavailable(await settlesWithin(reading)).target).toBe(id)
      sim.faults.clear()
      expectUnavailable(await settlesWithin(sim.listContainers()))
      expectUnavailable(await settlesWithin(sim.createContainer('late')))
      expectUnavailable(await settlesWithin(sim.getExtensionState(id, 'net')))
    },
  )

  it('rejects a commit blocked on a stop sequence, and one waiting behind it, instead of leaving them pending', async () => {
    const sim = createSimulator({ programs: { '/bin/stubborn': stubborn }, stopGracePeriodMs: 60_000 })
    const id = await startContainer(sim, '/bin/stubborn')
    const stopping = sim.commit(await sim.setRunState(await sim.getHandle(id), 'stopped'))
    await new Promise((r) => setImmediate(r))
    const behind = sim.commit(await sim.setLimits(await sim.getHandle(id), 64, 64))
    await new Promise((r) => setImmediate(r))
    sim.close()
    expectUnavailable(await settlesWithin(stopping))
    expectUnavailable(await settlesWithin(behind))
    expect(sim.clock.pendingTimers()).toBe(0)
  })

  it('rolls back a commit whose extension was still preparing, and applies nothing', async () => {
    const sim = virtualSim()
    const journal: string[] = []
    let finish: () => void = () => {}
    sim.registerExtension({
      namespace: 'slow',
      prepare: async (ctx) => {
        await new Promise<void>((r) => {
          finish = r
        })
        return {
          applied: ctx.pending,
          commit: () => journal.push('commit'),
          rollback: () => journal.push('rollback'),
        }
      },
    })
    const id = await sim.commit(await sim.createContainer('x'))
    const before = await sim.getContainerConfig(id)
    const h = sim.handleFactory.withExtension(await sim.setLimits(await sim.getHandle(id), 8, 8), 'slow', 1)
    const committing = sim.commit(h)
    await new Promise((r) => setImmediate(r))
    sim.close()
    finish()
    expectUnavailable(await settlesWithin(committing))
    expect(journal).toEqual(['rollback'])
    // The world stays readable for a post-mortem: its snapshot restores into another simulator.
    const other = virtualSim()
    other.restore(sim.snapshot())
    expect(await other.getContainerConfig(id)).toEqual(before)
    expect((await other.getHandle(id)).baseVersion).toBe(h.baseVersion)
    expect(await other.getExtensionState(id, 'slow')).toBeUndefined()
  })

  it('ends event streams, and schedules no timers afterwards', async () => {
    const sim = createSimulator({
      programs: {
        '/bin/napper': async (ctx) => {
          await ctx.sleep(1)
          await ctx.sleep(60_000)
        },
      },
    })
    const id = await startContainer(sim, '/bin/napper')
    const stream = sim.events()
    const next = stream.next()
    sim.close()
    expect(await settlesWithin(next)).toEqual({
      status: 'fulfilled',
      value: { value: undefined, done: true },
    })
    await expectCode(() => sim.events(), 'UNAVAILABLE')
    await new Promise((r) => setTimeout(r, 10))
    expect(sim.clock.pendingTimers()).toBe(0)
    expect(sim.fs(id).exists('/')).toBe(true)
  })

  it('refuses restore, and is idempotent', async () => {
    const sim: Simulator = virtualSim()
    const snap = sim.snapshot()
    sim.close()
    sim.close()
    await expectCode(() => sim.restore(snap), 'UNAVAILABLE')
  })
})
