import { type ID, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import type { TestedPortLayer } from '../harness.js'
import { describeOutcome, outcomeOf } from '../outcome.js'
import type { SuiteContext } from './context.js'

/** Behaviour 4, and what every error must carry. */
export function notFoundTests(s: SuiteContext): void {
  const { caps } = s

  describe('unknown IDs and errors', () => {
    it('4: every operation on an unknown ID fails with NOT_FOUND naming that ID', async () => {
      const t = s.t()
      const { pl } = t
      const unknown = crypto.randomUUID()
      const calls: Array<[string, (pl: TestedPortLayer, id: ID) => Promise<unknown>]> = [
        ['getHandle', (p, id) => p.getHandle(id)],
        ['getContainerConfig', (p, id) => p.getContainerConfig(id)],
        ['getContainerState', (p, id) => p.getContainerState(id)],
        ['destroyContainer', (p, id) => p.destroyContainer(id)],
      ]
      if (caps.files) calls.push(['copyFrom', (p, id) => p.copyFrom(id, '/tmp', 'x.txt')])
      if (caps.exec) calls.push(['execProcess', (p, id) => p.execProcess(id, '/', '/bin/true', '')])
      if (caps.signal) calls.push(['signal', (p, id) => p.signal(id, 15)])
      if (caps.extensions) {
        const ext = t.extensible()
        calls.push(['getExtensionState', (_p, id) => ext.getExtensionState(id, 'conformance.none')])
      }
      const wrong: string[] = []
      for (const [op, call] of calls) {
        const outcome = await outcomeOf(() => call(pl, unknown))
        if (outcome.kind !== 'rejected' || !PortLayerError.isInstance(outcome.error, 'NOT_FOUND')) {
          wrong.push(`${op}: ${describeOutcome(outcome)}`)
        } else if (!outcome.error.message.includes(unknown)) {
          wrong.push(`${op}: the message does not name ${unknown}: ${outcome.error.message}`)
        }
      }
      expect(wrong).toEqual([])
    })

    it('errors: failures are PortLayerErrors with the right code, naming the container and the backend', async () => {
      const t = s.t()
      const { pl } = t
      const unknown = crypto.randomUUID()
      const notFound = await outcomeOf(() => pl.getContainerState(unknown))
      expect(notFound.kind).toBe('rejected')
      const e = (notFound as { error: unknown }).error
      expect(e).toBeInstanceOf(Error)
      expect(PortLayerError.isInstance(e), describeOutcome(notFound)).toBe(true)
      expect(PortLayerError.isInstance(e, 'NOT_FOUND')).toBe(true)
      expect(PortLayerError.isInstance(e, 'CONFLICT')).toBe(false)
      const err = e as PortLayerError
      expect(err.code).toBe('NOT_FOUND')
      expect(
        typeof err.backend === 'string' && err.backend.length > 0,
        'error.backend names the backend',
      ).toBe(true)
      expect(err.message).toContain(unknown)
      expect(err.message).toContain(err.backend)

      const id = await t.running('errors')
      const refused = await outcomeOf(() => pl.destroyContainer(id))
      expect(refused.kind).toBe('rejected')
      const invalid = (refused as { error: unknown }).error
      expect(PortLayerError.isInstance(invalid, 'INVALID_STATE'), describeOutcome(refused)).toBe(true)
      expect((invalid as PortLayerError).message).toContain(id)

      const h = await pl.getHandle(id)
      await t.update(id, (x) => pl.setRunState(x, 'stopped'))
      const stale = await outcomeOf(() => pl.commit(h))
      const conflict = (stale as { error?: unknown }).error
      expect(PortLayerError.isInstance(conflict, 'CONFLICT'), describeOutcome(stale)).toBe(true)
      expect((conflict as PortLayerError).message).toContain(id)
    })
  })
}
