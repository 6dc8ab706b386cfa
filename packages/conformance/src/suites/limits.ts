import type { ResourceLimits } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { text } from '../harness.js'
import type { SuiteContext } from './context.js'

/** Behaviour 6: limits, their defaults, and running containers. */
export function limitsTests(s: SuiteContext): void {
  const { caps } = s

  describe('limits', () => {
    it('6: never-set limits and -1 both resolve to the same positive defaults; positive values are kept exactly', async () => {
      const t = s.t()
      const { pl } = t
      const defaults = (await t.config(await t.container('six-never'))).limits
      expectPositiveLimits(defaults)
      const minusOne = await t.container('six-minus-one', { limits: [-1, -1] })
      expect((await t.config(minusOne)).limits).toEqual(defaults)

      const mixed = await t.container('six-mixed', { limits: [777, -1] })
      expect((await t.config(mixed)).limits).toEqual({ memoryMb: 777, cpuMhz: defaults.cpuMhz })
      await t.update(mixed, (h) => pl.setLimits(h, -1, 4321))
      expect((await t.config(mixed)).limits).toEqual({ memoryMb: defaults.memoryMb, cpuMhz: 4321 })
    })

    it('6: limits committed to a running container are ignored while the rest of the handle applies', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('six-running', { limits: [512, 1500] })
      const data = text('applied beside ignored limits')
      await t.update(id, async (h) => {
        const limited = await pl.setLimits(h, 1024, 3000)
        return caps.files ? pl.copyTo(limited, '/tmp', 'six.txt', 0o644, data) : limited
      })
      expect((await t.config(id)).limits).toEqual({ memoryMb: 512, cpuMhz: 1500 })
      expect((await t.state(id)).status).toBe('running')
      if (caps.files) expect(await pl.copyFrom(id, '/tmp', 'six.txt')).toEqual(data)

      // Once stopped, the same change applies.
      await t.stop(id)
      await t.update(id, (h) => pl.setLimits(h, 1024, 3000))
      expect((await t.config(id)).limits).toEqual({ memoryMb: 1024, cpuMhz: 3000 })
    })
  })
}

function expectPositiveLimits(limits: ResourceLimits): void {
  for (const [what, value] of Object.entries(limits)) {
    expect(Number.isInteger(value) && value > 0, `default ${what} ${value} is a positive integer`).toBe(true)
  }
}
