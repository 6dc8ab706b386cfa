import { type ExtensionPlan, InvalidArgumentError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { LONG_RUNNER, text } from '../harness.js'
import { expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

/** Behaviour 11: an operation that fails leaves the container exactly as it was. */
export function failureTests(s: SuiteContext): void {
  const { caps } = s

  describe('failed operations', () => {
    it('11: a commit refused with CONFLICT leaves config and state exactly as they were', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('eleven-conflict', { entry: LONG_RUNNER, limits: [300, 1100] })
      const stale = await pl.getHandle(id)
      await t.update(id, (h) => pl.setLimits(h, 310, 1110))
      const before = await t.snapshot(id)
      const refused = await t.applySpec(stale, {
        entry: { execPath: '/bin/true' },
        limits: [400, 1400],
        files: caps.files ? [{ dir: '/tmp', name: 'refused.txt', data: text('refused') }] : [],
        run: true,
      })
      await expectPortLayerError(pl.commit(refused), 'CONFLICT')
      expect(await t.snapshot(id)).toEqual(before)
      if (caps.files) await expectNoRefusedFile(id)
    })

    it('11: a commit refused with INVALID_STATE (running without an entry point) leaves config and state exactly as they were', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('eleven-invalid-state', { limits: [300, 1100] })
      const before = await t.snapshot(id)
      const refused = await t.applySpec(await pl.getHandle(id), {
        limits: [400, 1400],
        files: caps.files ? [{ dir: '/tmp', name: 'refused.txt', data: text('refused') }] : [],
        run: true,
      })
      await expectPortLayerError(pl.commit(refused), 'INVALID_STATE')
      expect(await t.snapshot(id)).toEqual(before)
      if (caps.files) await expectNoRefusedFile(id)
    })

    it.skipIf(!caps.extensions)(
      "11: a commit rejected by an extension's prepare leaves config, state and extension state exactly as they were",
      async () => {
        const t = s.t()
        const { pl } = t
        const ext = t.extensible()
        const accepting = t.namespace('accepting')
        const rejecting = t.namespace('rejecting')
        t.register({ namespace: accepting, prepare: (c): ExtensionPlan => ({ applied: c.pending }) })
        t.register({
          namespace: rejecting,
          prepare: () => {
            throw new InvalidArgumentError('the conformance probe rejects this commit')
          },
        })
        const id = await t.container('eleven-extension', { entry: LONG_RUNNER, limits: [300, 1100] })
        await t.update(id, async (h) => t.withSlot(h, accepting, { n: 1 }))
        const before = await t.snapshot(id)
        let refused = await t.applySpec(await pl.getHandle(id), {
          limits: [400, 1400],
          files: caps.files ? [{ dir: '/tmp', name: 'refused.txt', data: text('refused') }] : [],
          run: true,
        })
        refused = t.withSlot(t.withSlot(refused, accepting, { n: 2 }), rejecting, { n: 2 })
        await expectPortLayerError(pl.commit(refused), 'INVALID_ARGUMENT')
        expect(await t.snapshot(id)).toEqual(before)
        expect(await ext.getExtensionState(id, accepting)).toEqual({ n: 1 })
        expect(await ext.getExtensionState(id, rejecting)).toBeUndefined()
        if (caps.files) await expectNoRefusedFile(id)
      },
    )

    it('11: values returned by queries are copies: changing them changes nothing', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('eleven-copies', {
        limits: [300, 1100],
        files: caps.files ? [{ dir: '/tmp', name: 'mine.txt', data: text('mine') }] : [],
      })
      const before = await t.snapshot(id)
      const config = await t.config(id)
      const state = await t.state(id)
      const list = await pl.listContainers()
      config.limits.memoryMb = 1
      config.name = 'changed'
      config.execdProcs.push({ processId: id, workDir: '/', execPath: '/x', execArgs: '' })
      if (state.mainProcess) state.mainProcess.exitCode = 99
      state.status = 'stopped'
      list.length = 0
      if (caps.files) (await pl.copyFrom(id, '/tmp', 'mine.txt')).fill(0)
      expect(await t.snapshot(id)).toEqual(before)
      expect(await pl.listContainers()).toContain(id)
      if (caps.files) expect(await pl.copyFrom(id, '/tmp', 'mine.txt')).toEqual(text('mine'))
    })

    /** Starts the container and checks that the refused handle's file never landed. */
    async function expectNoRefusedFile(id: string): Promise<void> {
      const t = s.t()
      await t.update(id, async (h) =>
        t.pl.setRunState(await t.pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running'),
      )
      await expectPortLayerError(
        t.pl.copyFrom(id, '/tmp', 'refused.txt'),
        'NOT_FOUND',
        'the refused commit’s file',
      )
    }
  })
}
