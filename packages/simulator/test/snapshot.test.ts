import { describe, expect, it } from 'vitest'
import { expectCode, startContainer, stop, virtualSim } from './helpers.js'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('snapshot / restore', () => {
  it('restores configuration, state, versions and file systems as they were', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    await sim.commit(await sim.copyTo(await sim.getHandle(id), '/etc', 'conf', 0o600, bytes('v1')))
    const created = await sim.commit(await sim.createContainer('idle'))
    const before = {
      list: await sim.listContainers(),
      config: await sim.getContainerConfig(id),
      state: await sim.getContainerState(id),
      handle: await sim.getHandle(id),
    }
    const snap = sim.snapshot()
    expect(snap.containers).toBe(2)
    expect(snap.takenAt.getTime()).toBe(sim.clock.now().getTime())

    sim.fs(id).writeFile('/etc/conf', 'v2')
    await sim.execProcess(id, '/', '/bin/true', '')
    await stop(sim, id)
    await sim.destroyContainer(created)
    await sim.commit(await sim.createContainer('new'))

    sim.restore(snap)
    expect(await sim.listContainers()).toEqual(before.list)
    expect(await sim.getContainerConfig(id)).toEqual(before.config)
    expect(await sim.getContainerState(id)).toEqual(before.state)
    expect(new TextDecoder().decode(await sim.copyFrom(id, '/etc', 'conf'))).toBe('v1')
    expect(sim.fs(id).stat('/etc/conf')?.perms).toBe(0o600)
    expect((await sim.getContainerConfig(created)).name).toBe('idle')
    // The handle taken before the snapshot is current again in the restored world.
    await sim.commit(await sim.setLimits(before.handle, 64, 64))
  })

  it('is a deep copy: the world can change after it is taken, and it can be restored twice', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const snap = sim.snapshot()
    sim.fs(id).writeFile('/tmp/a', 'x')
    sim.restore(snap)
    expect(sim.fs(id).exists('/tmp/a')).toBe(false)
    sim.fs(id).writeFile('/tmp/b', 'y')
    await stop(sim, id)
    sim.restore(snap)
    expect(sim.fs(id).exists('/tmp/b')).toBe(false)
    expect((await sim.getContainerState(id)).status).toBe('running')
  })

  it('never reuses versions: handles from the replaced world conflict', async () => {
    const sim = virtualSim()
    const id = await sim.commit(await sim.createContainer('x'))
    const snap = sim.snapshot()
    await sim.commit(await sim.setLimits(await sim.getHandle(id), 100, 100))
    const later = await sim.getHandle(id)
    sim.restore(snap)
    await sim.commit(await sim.setLimits(await sim.getHandle(id), 200, 200))
    await expectCode(sim.commit(await sim.setLimits(later, 300, 300)), 'CONFLICT')
    expect((await sim.getContainerConfig(id)).limits).toEqual({ memoryMb: 200, cpuMhz: 200 })
  })

  it('keeps create-handles issued before the snapshot and forgets those issued after', async () => {
    const sim = virtualSim()
    const early = await sim.createContainer('early')
    const snap = sim.snapshot()
    const late = await sim.createContainer('late')
    await sim.commit(early)
    sim.restore(snap)
    expect(await sim.commit(early)).toBe(early.containerId)
    await expectCode(sim.commit(late), 'CONFLICT')
  })

  it('restores a sleeping process with the time it had left', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim, '/bin/sleep', '10')
    await sim.clock.advance(4000)
    const snap = sim.snapshot()
    await sim.clock.advance(60_000)
    expect((await sim.getContainerState(id)).status).toBe('stopped')
    sim.restore(snap)
    expect((await sim.getContainerState(id)).status).toBe('running')
    expect(sim.clock.pendingTimers()).toBe(1)
    await sim.clock.advance(5999)
    expect((await sim.getContainerState(id)).status).toBe('running')
    await sim.clock.advance(1)
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess?.exitCode).toBe(0)
  })

  it('restores a stop in its grace period with the grace time it had left', async () => {
    const sim = virtualSim({
      stopGracePeriodMs: 1000,
      programs: { '/bin/stubborn': { run: (ctx) => ctx.forever(), onSignal: () => {} } },
    })
    const id = await startContainer(sim, '/bin/stubborn')
    const stopping = stop(sim, id)
    await sim.clock.advance(400)
    const snap = sim.snapshot()
    await sim.clock.advance(600)
    await stopping
    sim.restore(snap)
    expect((await sim.getContainerState(id)).status).toBe('running')
    await expectCode(sim.execProcess(id, '/', '/bin/true', ''), 'INVALID_STATE')
    await sim.clock.advance(599)
    expect((await sim.getContainerState(id)).status).toBe('running')
    await sim.clock.advance(1)
    expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(137)
  })

  it('brings registered programs back as processes that run until signalled', async () => {
    let runs = 0
    const sim = virtualSim({
      programs: {
        '/bin/svc': {
          run: (ctx) => {
            runs++
            return ctx.forever()
          },
          onSignal: () => {},
        },
      },
    })
    const id = await startContainer(sim, '/bin/svc')
    const snap = sim.snapshot()
    sim.restore(snap)
    expect(runs).toBe(1)
    expect((await sim.getContainerState(id)).mainProcess?.status).toBe('started')
    // Its code did not come back, so SIGTERM takes the default action.
    await sim.signal(id, 15)
    expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(143)
  })

  it('releases commits waiting on the replaced world and detaches its views and programs', async () => {
    let ctxOfOldWorld: { running: boolean } | undefined
    const sim = virtualSim({
      programs: {
        '/bin/stubborn': {
          run: (ctx) => {
            ctxOfOldWorld = ctx
            return ctx.forever()
          },
          onSignal: () => {},
        },
      },
    })
    const idle = await sim.commit(await sim.createContainer('idle'))
    const snap = sim.snapshot()
    const id = await startContainer(sim, '/bin/stubborn')
    const oldView = sim.fs(idle)
    const stopping = stop(sim, id)
    await sim.clock.advance(0)
    sim.restore(snap)
    await stopping
    expect(ctxOfOldWorld?.running).toBe(false)
    await expectCode(() => oldView.readdir('/'), 'NOT_FOUND')
    expect(sim.fs(idle).readdir('/')).toEqual(['bin', 'etc', 'tmp', 'usr'])
    expect(sim.clock.pendingTimers()).toBe(0)
    await expectCode(sim.getContainerState(id), 'NOT_FOUND')
  })

  it('keeps applied extension values, and events keep flowing after a restore', async () => {
    const sim = virtualSim()
    sim.registerExtension({ namespace: 'tag', prepare: (ctx) => ({ applied: ctx.pending }) })
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'tag', { v: 1 })
    const id = await sim.commit(h)
    const snap = sim.snapshot()
    await sim.commit(sim.handleFactory.withExtension(await sim.getHandle(id), 'tag', { v: 2 }))
    const seen: string[] = []
    sim.onEvent((e) => seen.push(e.type))
    sim.restore(snap)
    expect(await sim.getExtensionState(id, 'tag')).toEqual({ v: 1 })
    await sim.destroyContainer(id)
    expect(seen).toEqual(['destroyed'])
  })

  it('rejects something that is not a snapshot', () => {
    const sim = virtualSim()
    expect(() => sim.restore({ takenAt: new Date(), containers: 0 })).toThrow(/snapshot/)
  })
})
