import { describe, expect, it } from 'vitest'
import { LONG_RUNNER } from '../harness.js'
import { expectNotApplied, expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

/**
 * The outcome rule ("what a failed change tells its caller"): a call refused for its content or
 * the container's state applied nothing and says so. (Every other failure of the suite is checked
 * the same way after each test.)
 */
export function outcomeTests(s: SuiteContext): void {
  describe('outcome', () => {
    it("outcome: refused calls (NOT_FOUND, CONFLICT, INVALID_STATE, INVALID_ARGUMENT) say 'not-applied', in toJSON() and JSON too", async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('outcome', { limits: [300, 1100] })
      const stale = await pl.getHandle(id)
      await t.update(id, (h) => pl.setLimits(h, 310, 1110))
      const before = await t.snapshot(id)
      const refusals = [
        await expectPortLayerError(
          pl.getContainerState('00000000-0000-4000-8000-00000000dead'),
          'NOT_FOUND',
          'unknown container',
        ),
        await expectPortLayerError(
          pl.commit(await pl.setEntryPoint(stale, '/', LONG_RUNNER.execPath, '1')),
          'CONFLICT',
          'stale handle',
        ),
        await expectPortLayerError(
          pl.commit(await pl.setRunState(await pl.getHandle(id), 'running')),
          'INVALID_STATE',
          'running without an entry point',
        ),
        await expectPortLayerError(
          pl.setLimits(await pl.getHandle(id), 0, 1000),
          'INVALID_ARGUMENT',
          'limit 0',
        ),
      ]
      for (const e of refusals) {
        expectNotApplied(e, e.code)
        expect(Object.keys(e.toJSON()), `toJSON() of ${e.code}`).toContain('outcome')
      }
      expect(await t.snapshot(id)).toEqual(before)
    })
  })
}
