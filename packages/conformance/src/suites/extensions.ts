import {
  type CommitExtension,
  ConcurrentModificationError,
  type ExtensionContext,
  type ID,
  PortLayerError,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { badNamespaces } from '../bad-values.js'
import { LONG_RUNNER } from '../harness.js'
import { describeOutcome, expectPortLayerError, outcomeOf } from '../outcome.js'
import type { SuiteContext } from './context.js'

interface Want {
  want: string
}
interface Got {
  got: string
}

/** A recording extension: applies `{ got: pending.want }`, or throws when asked to. */
function probe(namespace: string, rejectWith?: PortLayerError) {
  const calls = {
    prepared: [] as ExtensionContext<Want>[],
    committed: 0,
    rolledBack: 0,
    released: [] as Array<{ containerId: ID; backend: string; applied: Got }>,
  }
  const extension: CommitExtension = {
    namespace,
    prepare(context) {
      const c = context as ExtensionContext<Want>
      calls.prepared.push(c)
      if (rejectWith) throw rejectWith
      return {
        applied: { got: c.pending.want },
        commit: () => {
          calls.committed++
        },
        rollback: () => {
          calls.rolledBack++
        },
      }
    },
    release(context) {
      calls.released.push(context as { containerId: ID; backend: string; applied: Got })
    },
  }
  return { extension, calls }
}

/** Commit extensions (capability `extensions`). */
export function extensionTests(s: SuiteContext): void {
  describe.skipIf(!s.caps.extensions)('extensions', () => {
    it('extensions: prepare sees the slot, and the applied value is stored with the container', async () => {
      const t = s.t()
      const { pl } = t
      const ext = t.extensible()
      const ns = t.namespace('probe')
      const { extension, calls } = probe(ns)
      t.register(extension)

      const create = t.withSlot(await t.createHandle('ext-slot', { entry: LONG_RUNNER }), ns, { want: 'a' })
      const id = await pl.commit(create)
      expect(calls.prepared).toHaveLength(1)
      const first = calls.prepared[0]
      expect(first).toMatchObject({
        containerId: id,
        creating: true,
        runState: 'created',
        pending: { want: 'a' },
      })
      expect(first?.applied).toBeUndefined()
      expect(typeof first?.backend === 'string' && first.backend.length > 0, 'context.backend').toBe(true)
      expect(await ext.getExtensionState(id, ns)).toEqual({ got: 'a' })
      expect(calls.committed).toBe(1)

      await t.update(id, async (h) => t.withSlot(await pl.setRunState(h, 'running'), ns, { want: 'b' }))
      expect(calls.prepared).toHaveLength(2)
      expect(calls.prepared[1]).toMatchObject({
        containerId: id,
        creating: false,
        runState: 'created',
        pending: { want: 'b' },
        applied: { got: 'a' },
      })
      expect(await ext.getExtensionState(id, ns)).toEqual({ got: 'b' })

      // A commit that does not carry the slot does not involve the extension.
      await t.update(id, (h) => pl.setLimits(h, 512, 1000))
      expect(calls.prepared).toHaveLength(2)
      expect(await ext.getExtensionState(id, ns)).toEqual({ got: 'b' })
      expect(calls).toMatchObject({ committed: 2, rolledBack: 0, released: [] })

      const plain = await t.container('ext-none')
      expect(await ext.getExtensionState(plain, ns)).toBeUndefined()
    })

    it('extensions: a throwing prepare rejects the whole commit; prepared extensions are rolled back', async () => {
      const t = s.t()
      const { pl } = t
      const ext = t.extensible()
      const good = probe(t.namespace('good'))
      const bad = probe(t.namespace('bad'), new ConcurrentModificationError('the conformance probe refuses'))
      t.register(good.extension)
      t.register(bad.extension)
      const id = await t.container('ext-reject', { entry: LONG_RUNNER, limits: [300, 1100] })
      await t.update(id, async (h) => t.withSlot(h, good.extension.namespace, { want: 'kept' }))
      const before = await t.snapshot(id)
      const goodPrepared = good.calls.prepared.length

      let h = await pl.setLimits(await pl.getHandle(id), 400, 1400)
      h = t.withSlot(h, good.extension.namespace, { want: 'dropped' })
      h = t.withSlot(h, bad.extension.namespace, { want: 'refused' })
      const outcome = await outcomeOf(() => pl.commit(h))
      expect(
        outcome.kind === 'rejected' && PortLayerError.isInstance(outcome.error, 'CONFLICT'),
        `the commit fails with the code the extension threw; it ${describeOutcome(outcome)}`,
      ).toBe(true)
      expect(bad.calls.prepared).toHaveLength(1)
      const preparedThisTime = good.calls.prepared.length - goodPrepared
      expect(preparedThisTime).toBeLessThanOrEqual(1)
      expect(good.calls.committed, 'commit() only for the earlier successful commit').toBe(1)
      expect(good.calls.rolledBack, 'rollback() once for each prepare of the failed commit').toBe(
        preparedThisTime,
      )
      expect(await t.snapshot(id)).toEqual(before)
      expect(await ext.getExtensionState(id, good.extension.namespace)).toEqual({ got: 'kept' })
      expect(await ext.getExtensionState(id, bad.extension.namespace)).toBeUndefined()
    })

    it('extensions: destroy calls release of each extension with an applied value, once', async () => {
      const t = s.t()
      const { pl } = t
      const ext = t.extensible()
      const held = probe(t.namespace('held'))
      const unused = probe(t.namespace('unused'))
      t.register(held.extension)
      t.register(unused.extension)
      const id = await pl.commit(
        t.withSlot(await t.createHandle('ext-release'), held.extension.namespace, { want: 'x' }),
      )
      expect(held.calls.released).toEqual([])
      await pl.destroyContainer(id)
      expect(held.calls.released).toHaveLength(1)
      expect(held.calls.released[0]).toMatchObject({ containerId: id, applied: { got: 'x' } })
      expect(unused.calls.released).toEqual([])
      await expectPortLayerError(ext.getExtensionState(id, held.extension.namespace), 'NOT_FOUND')
    })

    it('extensions: registerExtension refuses malformed and duplicate namespaces with INVALID_ARGUMENT', async () => {
      const t = s.t()
      const ext = t.extensible()
      const wrong: string[] = []
      for (const [label, namespace] of badNamespaces()) {
        const outcome = await outcomeOf(() =>
          ext.registerExtension({ namespace, prepare: () => ({ applied: 1 }) } as CommitExtension),
        )
        if (outcome.kind === 'resolved' && typeof outcome.value === 'function')
          (outcome.value as () => void)()
        if (outcome.kind === 'resolved' || !PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT')) {
          wrong.push(`namespace ${label}: ${describeOutcome(outcome)}`)
        }
      }
      expect(wrong).toEqual([])
      const ns = t.namespace('dup')
      const unregister = t.register({ namespace: ns, prepare: () => ({ applied: 1 }) })
      await expectPortLayerError(
        () => ext.registerExtension({ namespace: ns, prepare: () => ({ applied: 2 }) }),
        'INVALID_ARGUMENT',
      )
      // Once removed, the namespace is free again.
      unregister()
      t.register({ namespace: ns, prepare: () => ({ applied: 3 }) })
    })
  })
}
