import {
  type CommitExtension,
  type ExtensionContext,
  InvalidArgumentError,
  InvalidStateError,
  type PortLayerError,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { expectCode, virtualSim } from './helpers.js'

interface Journal {
  prepared: string[]
  committed: string[]
  rolledBack: string[]
  released: string[]
}

/** An extension that records every hook call and applies its pending value as is. */
function recording(
  namespace: string,
  journal: Journal,
  prepare?: (ctx: ExtensionContext<unknown, unknown>) => unknown,
): CommitExtension<unknown, unknown> {
  return {
    namespace,
    async prepare(ctx) {
      journal.prepared.push(namespace)
      const applied = prepare ? await prepare(ctx) : ctx.pending
      return {
        applied,
        commit: () => journal.committed.push(namespace),
        rollback: () => journal.rolledBack.push(namespace),
      }
    },
    release: ({ applied }) => {
      journal.released.push(`${namespace}=${JSON.stringify(applied)}`)
    },
  }
}

const journal = (): Journal => ({ prepared: [], committed: [], rolledBack: [], released: [] })

describe('commit extensions', () => {
  it('prepare every extension whose slot is in the handle, with the commit context', async () => {
    const sim = virtualSim()
    const j = journal()
    const contexts: ExtensionContext<unknown, unknown>[] = []
    sim.registerExtension(
      recording('net', j, (ctx) => {
        contexts.push(ctx)
        return { ip: (ctx.pending as { ip: string }).ip }
      }),
    )
    sim.registerExtension(recording('disk', j))
    sim.registerExtension(recording('unused', j))
    const f = sim.handleFactory
    let h = await sim.createContainer('x')
    h = f.withExtension(f.withExtension(h, 'net', { ip: '10.0.0.2' }), 'disk', [1])
    const id = await sim.commit(h)
    expect(j.prepared.sort()).toEqual(['disk', 'net'])
    expect(j.committed.sort()).toEqual(['disk', 'net'])
    expect(contexts[0]).toEqual({
      containerId: id,
      backend: 'simulator',
      creating: true,
      runState: 'created',
      pending: { ip: '10.0.0.2' },
      applied: undefined,
    })
    expect(await sim.getExtensionState(id, 'net')).toEqual({ ip: '10.0.0.2' })
    expect(await sim.getExtensionState(id, 'disk')).toEqual([1])
    expect(await sim.getExtensionState(id, 'unused')).toBeUndefined()

    await sim.commit(f.withExtension(await sim.getHandle(id), 'net', { ip: '10.0.0.3' }))
    expect(contexts[1]).toMatchObject({ creating: false, runState: 'created', applied: { ip: '10.0.0.2' } })
    expect(await sim.getExtensionState(id, 'net')).toEqual({ ip: '10.0.0.3' })
  })

  it('apply nothing when any prepare fails, and roll back the ones already prepared', async () => {
    const sim = virtualSim()
    const j = journal()
    sim.registerExtension(recording('a', j))
    sim.registerExtension(
      recording('b', j, () => {
        throw new InvalidStateError('pool exhausted')
      }),
    )
    const f = sim.handleFactory
    const id = await sim.commit(await sim.createContainer('x'))
    const before = {
      config: await sim.getContainerConfig(id),
      version: (await sim.getHandle(id)).baseVersion,
    }
    let h = await sim.getHandle(id)
    h = await sim.setLimits(h, 128, 128)
    h = await sim.copyTo(h, '/tmp', 'f', 0o644, new Uint8Array([1]))
    h = f.withExtension(f.withExtension(h, 'a', 1), 'b', 2)
    const e = await expectCode(sim.commit(h), 'INVALID_STATE')
    expect(e.message).toContain('pool exhausted')
    expect(e.backend).toBe('simulator')
    expect(j.prepared).toEqual(['a', 'b'])
    expect(j.rolledBack).toEqual(['a'])
    expect(j.committed).toEqual([])
    expect(await sim.getContainerConfig(id)).toEqual(before.config)
    expect((await sim.getHandle(id)).baseVersion).toBe(before.version)
    expect(await sim.getExtensionState(id, 'a')).toBeUndefined()
  })

  it('a failed create commit leaves no container behind, and the create-handle can be retried', async () => {
    const sim = virtualSim()
    let fail = true
    sim.registerExtension({
      namespace: 'gate',
      prepare: () => {
        if (fail) throw new Error('not yet')
        return { applied: 'open' }
      },
    })
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'gate', true)
    const e = await expectCode(sim.commit(h), 'INVALID_ARGUMENT')
    expect(e.message).toContain("extension 'gate' rejected")
    expect(await sim.listContainers()).toEqual([])
    fail = false
    await sim.commit(h)
    expect(await sim.getExtensionState(h.containerId, 'gate')).toBe('open')
  })

  it('roll back when a concurrent commit lands while prepare is awaiting', async () => {
    const sim = virtualSim()
    const j = journal()
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    sim.registerExtension(
      recording('slow', j, async (ctx) => {
        await gate
        return ctx.pending
      }),
    )
    const id = await sim.commit(await sim.createContainer('x'))
    const base = await sim.getHandle(id)
    const slow = sim.commit(sim.handleFactory.withExtension(await sim.setLimits(base, 10, 10), 'slow', 'v'))
    await new Promise((r) => setImmediate(r))
    await sim.commit(await sim.setLimits(base, 20, 20))
    release()
    await expectCode(slow, 'CONFLICT')
    expect(j.rolledBack).toEqual(['slow'])
    expect(j.committed).toEqual([])
    expect((await sim.getContainerConfig(id)).limits).toEqual({ memoryMb: 20, cpuMhz: 20 })
    expect(await sim.getExtensionState(id, 'slow')).toBeUndefined()
  })

  it('roll back when the applied value is not JSON data', async () => {
    const sim = virtualSim()
    const j = journal()
    sim.registerExtension(recording('bad', j, () => new Date()))
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'bad', 1)
    await expectCode(sim.commit(h), 'INVALID_ARGUMENT')
    expect(j.rolledBack).toEqual(['bad'])
    expect(await sim.listContainers()).toEqual([])
  })

  it('refuse a slot no extension is registered for, before anything is prepared', async () => {
    const sim = virtualSim()
    const j = journal()
    sim.registerExtension(recording('known', j))
    const f = sim.handleFactory
    const h = f.withExtension(f.withExtension(await sim.createContainer('x'), 'known', 1), 'ghost', 2)
    const e = await expectCode(sim.commit(h), 'INVALID_ARGUMENT')
    expect(e.message).toContain("'ghost'")
    expect(j.prepared).toEqual([])
  })

  it('an applied value of undefined removes the recorded value', async () => {
    const sim = virtualSim()
    sim.registerExtension({
      namespace: 'opt',
      prepare: (ctx) => ({ applied: ctx.pending === 'off' ? undefined : ctx.pending }),
    })
    const f = sim.handleFactory
    const id = await sim.commit(f.withExtension(await sim.createContainer('x'), 'opt', 'on'))
    expect(await sim.getExtensionState(id, 'opt')).toBe('on')
    await sim.commit(f.withExtension(await sim.getHandle(id), 'opt', 'off'))
    expect(await sim.getExtensionState(id, 'opt')).toBeUndefined()
  })

  it('release applied values on destroy, even when a release fails, and only for registered extensions', async () => {
    const sim = virtualSim()
    const j = journal()
    sim.registerExtension({
      namespace: 'broken',
      prepare: () => ({ applied: 1 }),
      release: () => {
        throw new Error('release failed')
      },
    })
    sim.registerExtension(recording('net', j))
    const off = sim.registerExtension(recording('gone', j))
    const f = sim.handleFactory
    let h = await sim.createContainer('x')
    h = f.withExtension(f.withExtension(f.withExtension(h, 'broken', 0), 'net', 'ip'), 'gone', 'x')
    const id = await sim.commit(h)
    off()
    await sim.destroyContainer(id)
    expect(j.released).toEqual(['net="ip"'])
    await expectCode(sim.getExtensionState(id, 'net'), 'NOT_FOUND')
  })

  it('report failing releases and plan hooks to onBackgroundError, without failing the call', async () => {
    const reported: PortLayerError[] = []
    const sim = virtualSim({ onBackgroundError: (e) => reported.push(e) })
    sim.registerExtension({
      namespace: 'lease',
      prepare: () => ({
        applied: 1,
        commit: () => {
          throw new Error('bookkeeping failed')
        },
      }),
      release: async () => {
        throw 'lease server down'
      },
    })
    const f = sim.handleFactory
    const id = await sim.commit(f.withExtension(await sim.createContainer('x'), 'lease', 1))
    await sim.destroyContainer(id)
    expect(reported.map((e) => [e.code, e.backend, e.target])).toEqual([
      ['INVALID_ARGUMENT', 'simulator', id],
      ['INVALID_ARGUMENT', 'simulator', id],
    ])
    expect(reported[0]?.message).toContain("extension 'lease': commit failed")
    expect(reported[1]?.message).toContain("extension 'lease' failed to release")
    expect(reported[1]?.message).toContain('"lease server down"')
    await expectCode(() => virtualSim({ onBackgroundError: 'log' as never }), 'INVALID_ARGUMENT')
  })

  it('validate registrations', async () => {
    const sim = virtualSim()
    const off = sim.registerExtension({ namespace: 'net', prepare: () => ({ applied: 1 }) })
    await expectCode(
      () => sim.registerExtension({ namespace: 'net', prepare: () => ({ applied: 1 }) }),
      'INVALID_ARGUMENT',
    )
    await expectCode(
      () => sim.registerExtension({ namespace: 'Bad', prepare: () => ({ applied: 1 }) }),
      'INVALID_ARGUMENT',
    )
    await expectCode(() => sim.registerExtension({ namespace: 'x' } as never), 'INVALID_ARGUMENT')
    await expectCode(
      () => sim.registerExtension({ namespace: 'x', prepare: () => ({ applied: 1 }), release: 3 } as never),
      'INVALID_ARGUMENT',
    )
    off()
    off()
    sim.registerExtension({ namespace: 'net', prepare: () => ({ applied: 2 }) })
    const id = await sim.commit(await sim.createContainer('x'))
    await expectCode(sim.getExtensionState(id, 'NET'), 'INVALID_ARGUMENT')
  })

  it('keep the error class of a PortLayerError thrown by prepare', async () => {
    const sim = virtualSim({
      extensions: [
        {
          namespace: 'quota',
          prepare: () => {
            throw new InvalidArgumentError('too many')
          },
        },
      ],
    })
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'quota', 1)
    const e = await expectCode(sim.commit(h), 'INVALID_ARGUMENT')
    expect(e).toBeInstanceOf(InvalidArgumentError)
    expect(e.target).toBe(h.containerId)
  })
})
