import {
  type CommitExtension,
  ConcurrentModificationError,
  type ExtensionPlan,
  PortLayerError,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { ExtensionRegistry, type PrepareRequest } from '../src/index.js'

function request(slots: Record<string, unknown>, more: Partial<PrepareRequest> = {}): PrepareRequest {
  return {
    containerId: 'c1',
    slots,
    creating: false,
    runState: 'created',
    applied: () => undefined,
    ...more,
  }
}

/** An extension that records what happens to it in `log`. */
function recording(namespace: string, log: string[], applied: unknown = { ns: namespace }): CommitExtension {
  return {
    namespace,
    prepare: () => {
      log.push(`prepare ${namespace}`)
      return {
        applied,
        commit: () => log.push(`commit ${namespace}`),
        rollback: () => log.push(`rollback ${namespace}`),
      }
    },
  }
}

async function rejection(p: Promise<unknown>): Promise<PortLayerError> {
  try {
    await p
  } catch (e) {
    if (!PortLayerError.isInstance(e)) throw new Error(`not a PortLayerError: ${String(e)}`)
    return e
  }
  throw new Error('resolved')
}

describe('ExtensionRegistry.register', () => {
  it('refuses what is not an extension, and duplicates, with INVALID_ARGUMENT on the backend', () => {
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    const bad: unknown[] = [
      null,
      'x',
      {},
      { namespace: 'a' },
      { namespace: 'a', prepare: 1 },
      { namespace: 'a', prepare: () => ({ applied: 1 }), release: 'no' },
      { namespace: 'Bad Name', prepare: () => ({ applied: 1 }) },
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap')
          },
        },
      ),
    ]
    for (const value of bad) {
      let caught: unknown
      try {
        r.register(value as CommitExtension)
      } catch (e) {
        caught = e
      }
      expect(PortLayerError.isInstance(caught, 'INVALID_ARGUMENT'), String(typeof value)).toBe(true)
      expect((caught as PortLayerError).backend).toBe('kit-test')
    }
    const off = r.register({ namespace: 'a', prepare: () => ({ applied: 1 }) })
    expect(() => r.register({ namespace: 'a', prepare: () => ({ applied: 2 }) })).toThrow(
      /already registered/,
    )
    off()
    off()
    expect(r.has('a')).toBe(false)
    r.register({ namespace: 'a', prepare: () => ({ applied: 3 }) })
    expect(r.size).toBe(1)
  })

  it('an old unregister function does not remove a later registration of the namespace', () => {
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    const first = r.register({ namespace: 'a', prepare: () => ({ applied: 1 }) })
    first()
    r.register({ namespace: 'a', prepare: () => ({ applied: 2 }) })
    first()
    expect(r.has('a')).toBe(true)
  })
})

describe('ExtensionRegistry.prepare', () => {
  it('prepares in registration order, whatever the slot order, and commits each plan once', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register(recording('zeta', log))
    r.register(recording('alpha', log))
    r.register(recording('unused', log))
    const prepared = await r.prepare(request({ alpha: 1, zeta: 2 }))
    expect(prepared.plans.map((p) => p.namespace)).toEqual(['zeta', 'alpha'])
    prepared.commit()
    prepared.commit()
    prepared.rollback()
    expect(log).toEqual(['prepare zeta', 'prepare alpha', 'commit zeta', 'commit alpha'])
    expect(prepared.settled).toBe(true)
  })

  it('commit(rolledBack) tells the parts put back rollback, the others commit', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register(recording('a', log))
    r.register(recording('b', log))
    const prepared = await r.prepare(request({ a: 1, b: 1 }))
    prepared.commit(new Set(['b']))
    expect(log.slice(2)).toEqual(['commit a', 'rollback b'])
  })

  it('a later prepare that throws rolls back the ones prepared, newest first, and keeps its code', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register(recording('a', log))
    r.register(recording('b', log))
    r.register({
      namespace: 'c',
      prepare: () => {
        throw new ConcurrentModificationError('taken', { outcome: 'unknown' })
      },
    })
    const e = await rejection(r.prepare(request({ a: 1, b: 1, c: 1 })))
    expect(e.code).toBe('CONFLICT')
    expect(e.backend).toBe('kit-test')
    expect(e.target).toBe('c1')
    expect(e.outcome).toBe('not-applied')
    expect(e.message).toContain("extension 'c'")
    expect(log).toEqual(['prepare a', 'prepare b', 'rollback b', 'rollback a'])
  })

  it('non-Error throws become INVALID_ARGUMENT with a safe message', async () => {
    const values: unknown[] = [
      'a string secret=hunter2 '.repeat(100),
      null,
      undefined,
      Symbol('s'),
      42,
      { toString: () => 'password=x' },
      new Proxy(
        {},
        {
          getPrototypeOf: () => {
            throw new Error('trap')
          },
          get: () => {
            throw new Error('trap')
          },
        },
      ),
    ]
    for (const value of values) {
      const r = new ExtensionRegistry({ backend: 'kit-test' })
      r.register({
        namespace: 'a',
        prepare: () => {
          throw value
        },
      })
      const e = await rejection(r.prepare(request({ a: 1 })))
      expect(e.code).toBe('INVALID_ARGUMENT')
      expect(e.message.length).toBeLessThan(400)
      expect(e.message).not.toContain('password=x')
      const async = new ExtensionRegistry({ backend: 'kit-test' })
      async.register({ namespace: 'a', prepare: () => Promise.reject(value) })
      expect((await rejection(async.prepare(request({ a: 1 })))).code).toBe('INVALID_ARGUMENT')
    }
  })

  it('applied values must be plain JSON; the refused plan and those before are rolled back', async () => {
    class Thing {
      x = 1
    }
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const bad: unknown[] = [
      new Date(0),
      { at: new Date(0) },
      new Map(),
      new Thing(),
      () => 1,
      [1, undefined],
      { a: undefined },
      cyclic,
      Number.NaN,
      { n: Number.POSITIVE_INFINITY },
      10n,
      Symbol('x'),
      // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested
      [1, , 3],
      {
        get boom() {
          throw new Error('getter')
        },
      },
    ]
    for (const value of bad) {
      const log: string[] = []
      const r = new ExtensionRegistry({ backend: 'kit-test' })
      r.register(recording('first', log))
      r.register(recording('second', log, value))
      const e = await rejection(r.prepare(request({ first: 1, second: 1 })))
      expect(e.code).toBe('INVALID_ARGUMENT')
      expect(log).toEqual(['prepare first', 'prepare second', 'rollback second', 'rollback first'])
    }
  })

  it('keeps a frozen copy of the applied value; shared (non-cyclic) objects are fine', async () => {
    const shared = { k: 1 }
    const value = { a: shared, b: shared, list: [1, 'x', null, true] }
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register({ namespace: 'a', prepare: () => ({ applied: value }) })
    const prepared = await r.prepare(request({ a: 1 }))
    const applied = prepared.plans[0]?.applied
    expect(applied).toEqual(value)
    expect(applied).not.toBe(value)
    expect(Object.isFrozen(applied)).toBe(true)
    shared.k = 2
    expect(applied).toEqual({ a: { k: 1 }, b: { k: 1 }, list: [1, 'x', null, true] })
  })

  it('undefined applied means removal; plans without applied, or with non-function hooks, are refused', async () => {
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register({ namespace: 'gone', prepare: () => ({ applied: undefined }) })
    expect((await r.prepare(request({ gone: 1 }))).plans[0]).toMatchObject({
      namespace: 'gone',
      applied: undefined,
    })
    let rolledBack = 0
    const shapes: unknown[] = [
      undefined,
      7,
      { rollback: () => rolledBack++ },
      { applied: 1, commit: 'x', rollback: () => rolledBack++ },
      { applied: 1, rollback: 5 },
    ]
    for (const plan of shapes) {
      const one = new ExtensionRegistry({ backend: 'kit-test' })
      one.register({ namespace: 'p', prepare: () => plan as never })
      expect((await rejection(one.prepare(request({ p: 1 })))).code).toBe('INVALID_ARGUMENT')
    }
    expect(rolledBack).toBe(2)
  })

  it('an unknown slot is INVALID_ARGUMENT before any prepare', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register(recording('a', log))
    expect(() => r.checkSlots('c1', { a: 1, nope: 1 })).toThrow(/slot 'nope'/)
    const e = await rejection(r.prepare(request({ a: 1, nope: 1 })))
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect(log).toEqual([])
  })

  it('a commit keeps the extensions it started with when one is unregistered meanwhile', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    let offB: () => void = () => {}
    r.register({
      namespace: 'a',
      prepare: async () => {
        offB()
        return { applied: 1, commit: () => log.push('commit a') }
      },
    })
    offB = r.register(recording('b', log))
    const prepared = await r.prepare(request({ a: 1, b: 1 }))
    expect(r.has('b')).toBe(false)
    prepared.commit()
    expect(log).toEqual(['prepare b', 'commit a', 'commit b'])
  })

  it('inspect can refuse a plan; it and the earlier ones are rolled back', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    r.register(recording('a', log))
    r.register(recording('b', log))
    r.register(recording('c', log))
    const e = await rejection(
      r.prepare(
        request(
          { a: 1, b: 1, c: 1 },
          {
            inspect: (p) => {
              if (p.namespace === 'b') throw new Error('no such device')
            },
          },
        ),
      ),
    )
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect(log).toEqual(['prepare a', 'prepare b', 'rollback b', 'rollback a'])
  })

  it('an interrupt rejects with its own error and rolls back the plan that arrives late', async () => {
    const log: string[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test' })
    let deliver: () => void = () => {}
    r.register(recording('a', log))
    r.register({
      namespace: 'slow',
      prepare: () =>
        new Promise<ExtensionPlan>((resolve) => {
          deliver = () => resolve({ applied: 1, rollback: () => log.push('rollback slow') })
        }),
    })
    let stop: (e: unknown) => void = () => {}
    const cancelled = new Error('cancelled by the caller')
    const pending = r.prepare(
      request(
        { a: 1, slow: 1 },
        {
          interrupt: (s) => {
            stop = s
            return () => {}
          },
        },
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 1))
    stop(cancelled)
    await expect(pending).rejects.toBe(cancelled)
    expect(log).toEqual(['prepare a', 'rollback a'])
    deliver()
    await new Promise((resolve) => setTimeout(resolve, 1))
    expect(log).toEqual(['prepare a', 'rollback a', 'rollback slow'])
  })

  it('hooks that throw are reported, not thrown, and the context is what the backend said', async () => {
    const reported: PortLayerError[] = []
    const r = new ExtensionRegistry({ backend: 'kit-test', onBackgroundError: (e) => reported.push(e) })
    let seen: unknown
    r.register({
      namespace: 'a',
      prepare: (context) => {
        seen = context
        return {
          applied: 1,
          commit: () => {
            throw Symbol('bad')
          },
        }
      },
    })
    const prepared = await r.prepare(
      request({ a: { want: 1 } }, { creating: true, applied: (ns) => (ns === 'a' ? 'before' : undefined) }),
    )
    expect(seen).toEqual({
      containerId: 'c1',
      backend: 'kit-test',
      creating: true,
      runState: 'created',
      pending: { want: 1 },
      applied: 'before',
    })
    prepared.commit()
    expect(reported).toHaveLength(1)
    expect(reported[0]?.code).toBe('INVALID_ARGUMENT')
    expect(reported[0]?.message).toContain('commit failed')
  })
})

describe('ExtensionRegistry.release', () => {
  it('calls release of registered extensions with a value; failures are reported, never thrown', async () => {
    const reported: PortLayerError[] = []
    const released: unknown[] = []
    const r = new ExtensionRegistry({
      backend: 'kit-test',
      onBackgroundError: (e) => {
        reported.push(e)
        throw new Error('a reporter that throws changes nothing')
      },
    })
    r.register({
      namespace: 'a',
      prepare: () => ({ applied: 1 }),
      release: () => {
        throw 'just a string'
      },
    })
    r.register({ namespace: 'b', prepare: () => ({ applied: 1 }), release: async () => Promise.reject(null) })
    r.register({ namespace: 'c', prepare: () => ({ applied: 1 }), release: (c) => void released.push(c) })
    await r.release(
      'c9',
      new Map<string, unknown>([
        ['a', 1],
        ['b', 2],
        ['c', { v: 3 }],
        ['unregistered', 4],
      ]),
    )
    expect(released).toEqual([{ containerId: 'c9', backend: 'kit-test', applied: { v: 3 } }])
    expect(reported.map((e) => [e.code, e.target, e.backend])).toEqual([
      ['INVALID_ARGUMENT', 'c9', 'kit-test'],
      ['INVALID_ARGUMENT', 'c9', 'kit-test'],
    ])
    expect(reported[0]?.message).toContain("extension 'a' failed to release container c9")
  })
})
