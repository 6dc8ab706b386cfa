import { type Handle, type ID, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import type { Simulator } from '../src/index.js'
import { expectCode, virtualSim } from './helpers.js'

// Regression tests for the problems of issue 9 that the simulator shares with every backend:
// pending-file conflicts refused before any change (6), hostile arguments (7), one create-handle
// committed concurrently (2).

const text = new TextEncoder()

async function created(sim: Simulator): Promise<ID> {
  return sim.commit(await sim.setEntryPoint(await sim.createContainer('regression'), '/', '/bin/sleep', '60'))
}

describe('problem 6: pending-file conflicts, refused before any change', () => {
  it('a file and a file inside it in one handle: INVALID_ARGUMENT, the version unchanged, an earlier handle still commits', async () => {
    const sim = virtualSim()
    const id = await created(sim)
    const before = await sim.getHandle(id)
    const e = await expectCode(async () => {
      let h: Handle = await sim.getHandle(id)
      h = await sim.copyTo(h, '/a', 'b', 0o644, text.encode('file'))
      h = await sim.copyTo(h, '/a/b', 'c', 0o644, text.encode('inside'))
      return sim.commit(h)
    }, 'INVALID_ARGUMENT')
    expect(e.message.length).toBeLessThanOrEqual(1_000)
    expect((await sim.getHandle(id)).baseVersion).toBe(before.baseVersion)
    await sim.commit(await sim.setLimits(before, 300, 300))
  })

  it('a file that conflicts with a pending file of an earlier commit is refused before any change', async () => {
    const sim = virtualSim()
    const id = await created(sim)
    await sim.commit(await sim.copyTo(await sim.getHandle(id), '/a', 'b', 0o644, text.encode('file')))
    const before = await sim.getHandle(id)
    await expectCode(
      sim.commit(await sim.copyTo(before, '/a/b', 'c', 0o644, text.encode('x'))),
      'INVALID_ARGUMENT',
    )
    expect((await sim.getHandle(id)).baseVersion).toBe(before.baseVersion)
    await sim.commit(await sim.setLimits(before, 300, 300))
  })
})

describe('problem 7: hostile arguments', () => {
  const detached = () => {
    const bytes = new Uint8Array(4)
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
    return bytes
  }
  const throwing = new Proxy(
    {},
    {
      get() {
        throw new Error('proxy trap')
      },
    },
  )
  const cases: Array<[string, (sim: Simulator, h: Handle) => Promise<unknown>]> = [
    ['a symbol as name', (sim) => sim.createContainer(Symbol('x') as unknown as string)],
    ['a null-prototype object as name', (sim) => sim.createContainer(Object.create(null))],
    ['a 10 MB name', (sim) => sim.createContainer('x'.repeat(10 * 1024 * 1024))],
    ['a name with a lone surrogate', (sim) => sim.createContainer('bad\ud800name')],
    ['a detached Uint8Array in copyTo', (sim, h) => sim.copyTo(h, '/tmp', 'f', 0o644, detached())],
    ['a throwing proxy as memoryMb', (sim, h) => sim.setLimits(h, throwing as number, 100)],
    ['a bigint as cpuMhz', (sim, h) => sim.setLimits(h, 100, 10n as unknown as number)],
    ['a symbol as an ID', (sim) => sim.getContainerState(Symbol('id') as unknown as ID)],
    ['a null-prototype object as a run state', (sim, h) => sim.setRunState(h, Object.create(null))],
    [
      'a 10 MB exec path',
      (sim) => sim.execProcess(crypto.randomUUID(), '/', `/${'x'.repeat(10 * 1024 * 1024)}`, ''),
    ],
  ]
  for (const [what, call] of cases) {
    it(`${what}: INVALID_ARGUMENT with a short message`, async () => {
      const sim = virtualSim()
      const h = await sim.createContainer('hostile')
      let error: unknown
      try {
        await call(sim, h)
      } catch (e) {
        error = e
      }
      expect(PortLayerError.isInstance(error), `not a PortLayerError: ${String(error)}`).toBe(true)
      expect((error as PortLayerError).code).toBe('INVALID_ARGUMENT')
      expect((error as PortLayerError).message.length).toBeLessThanOrEqual(1_000)
      expect(await sim.listContainers()).toEqual([])
    })
  }
})

describe('problem 2: one create-handle committed concurrently', () => {
  it('four concurrent commits: one lands, three are CONFLICT, one container', async () => {
    const sim = virtualSim()
    const h = await sim.createContainer('once')
    const codes = await Promise.all(
      [1, 2, 3, 4].map(() =>
        sim.commit(h).then(
          () => 'ok',
          (e: unknown) => (PortLayerError.isInstance(e) ? e.code : String(e)),
        ),
      ),
    )
    expect(codes.sort()).toEqual(['CONFLICT', 'CONFLICT', 'CONFLICT', 'ok'])
    expect(await sim.listContainers()).toEqual([h.containerId])
  })
})
