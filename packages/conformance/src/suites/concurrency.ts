import { type Handle, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { LONG_RUNNER, text } from '../harness.js'
import { describeOutcome, expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

const CLIENTS = 16
// Each CONFLICT a client sees means another client's commit landed in between, and only
// CLIENTS - 1 of those exist; the slack allows for a backend that bumps the version in the
// background (allowed for exec and process exits, though the suite avoids both here).
const MAX_ATTEMPTS = 2 * CLIENTS

/** Behaviour 3: optimistic concurrency. */
export function concurrencyTests(s: SuiteContext): void {
  const { caps } = s

  describe('optimistic concurrency', () => {
    it('3: a stale handle fails with CONFLICT even when the commits touched different fields, and applies nothing', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('three-stale', { entry: LONG_RUNNER, limits: [300, 1100] })
      const a = await pl.getHandle(id)
      const b = await pl.getHandle(id)
      await pl.commit(await pl.setLimits(a, 310, 1110))
      const before = await t.snapshot(id)
      const stale = await pl.setRunState(await pl.setEntryPoint(b, '/', '/bin/true', ''), 'running')
      await expectPortLayerError(pl.commit(stale), 'CONFLICT')
      expect(await t.snapshot(id)).toEqual(before)
    })

    it('3: committing the same handle twice fails with CONFLICT the second time', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('three-twice', { limits: [300, 1100] })
      const h = await pl.setLimits(await pl.getHandle(id), 320, 1120)
      expect(await pl.commit(h)).toBe(id)
      const before = await t.snapshot(id)
      await expectPortLayerError(pl.commit(h), 'CONFLICT')
      expect(await t.snapshot(id)).toEqual(before)
    })

    it('3: a second commit of a create-handle fails with CONFLICT', async () => {
      const t = s.t()
      const { pl } = t
      const h = await t.createHandle('three-create', { limits: [300, 1100] })
      const sibling = await pl.setLimits(h, 330, 1130)
      const id = await pl.commit(h)
      const before = await t.snapshot(id)
      await expectPortLayerError(pl.commit(h), 'CONFLICT', 'the same create-handle again')
      await expectPortLayerError(
        pl.commit(sibling),
        'CONFLICT',
        'another handle derived from the create-handle',
      )
      expect(await t.snapshot(id)).toEqual(before)
    })

    it('3: a handle that changes nothing applies nothing and leaves other handles current, but is still version-checked', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('three-empty', { limits: [300, 1100] })
      const empty = await pl.getHandle(id)
      const change = await pl.setLimits(empty, 340, 1140)
      expect(await pl.commit(empty)).toBe(id)
      expect((await pl.getHandle(id)).baseVersion).toBe(empty.baseVersion)
      await pl.commit(change)
      expect((await t.config(id)).limits).toEqual({ memoryMb: 340, cpuMhz: 1140 })
      await expectPortLayerError(pl.commit(empty), 'CONFLICT', 'a stale handle that changes nothing')
    })

    it('3: commit checks the handle, then existence, then the version, then run-state rules, then extensions', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('three-order')
      let prepared = 0
      const ns = caps.extensions ? t.namespace('order') : undefined
      if (ns) {
        t.register({
          namespace: ns,
          prepare: () => {
            prepared++
            return { applied: true }
          },
        })
      }
      const withSlot = (h: Handle): Handle => (ns ? t.withSlot(h, ns, true) : h)
      // Asks to run without an entry point: INVALID_STATE if it were current.
      const stale = withSlot(await pl.setRunState(await pl.getHandle(id), 'running'))
      await t.update(id, (h) => pl.setLimits(h, 350, 1150))
      await expectPortLayerError(
        pl.commit(stale),
        'CONFLICT',
        'a stale handle that also breaks a run-state rule',
      )
      const current = withSlot(await pl.setRunState(await pl.getHandle(id), 'running'))
      await expectPortLayerError(pl.commit(current), 'INVALID_STATE', 'running without an entry point')
      expect(prepared, 'prepare calls for commits refused before extensions').toBe(0)

      await pl.destroyContainer(id)
      await expectPortLayerError(pl.commit(stale), 'NOT_FOUND', 'a stale handle of a destroyed container')
      const malformed = { ...stale, baseVersion: 42 } as unknown as Handle
      await expectPortLayerError(
        pl.commit(malformed),
        'INVALID_ARGUMENT',
        'a malformed handle of a destroyed container',
      )
    })

    it(`3: ${CLIENTS} clients doing read-modify-commit on limits concurrently lose no update`, async () => {
      const t = s.t()
      const { pl } = t
      const start = 256
      const id = await t.container('three-race-limits', { limits: [start, 1000] })
      // A counter: each client reads memoryMb and commits it plus one. The handle is taken
      // before the read, so a read newer than the handle makes the commit stale (CONFLICT) and
      // a lost update shows as a final count below start + CLIENTS.
      const race = await raceClients(async (client) => {
        const h = await pl.getHandle(id)
        const { limits } = await pl.getContainerConfig(id)
        const memoryMb = limits.memoryMb + 1
        await pl.commit(await pl.setLimits(h, memoryMb, 2000 + client))
        return memoryMb
      })
      expect(race.unexpected).toEqual([])
      expect(race.landed.map((l) => l.value).sort((x, y) => x - y)).toEqual(
        Array.from({ length: CLIENTS }, (_, i) => start + 1 + i),
      )
      const last = race.landed.find((l) => l.value === start + CLIENTS)
      expect((await t.config(id)).limits).toEqual({
        memoryMb: start + CLIENTS,
        cpuMhz: 2000 + (last?.client ?? -1),
      })
    })

    it.skipIf(!caps.files)(
      `3: ${CLIENTS} clients each copying a file into one running container concurrently lose no file`,
      async () => {
        const t = s.t()
        const { pl } = t
        const id = await t.running('three-race-files')
        const race = await raceClients(async (client) => {
          const h = await pl.getHandle(id)
          await pl.commit(
            await pl.copyTo(h, '/tmp/race', `client-${client}.txt`, 0o644, text(`client ${client}`)),
          )
          return client
        })
        expect(race.unexpected).toEqual([])
        expect(race.landed).toHaveLength(CLIENTS)
        for (let client = 0; client < CLIENTS; client++) {
          expect(await pl.copyFrom(id, '/tmp/race', `client-${client}.txt`)).toEqual(text(`client ${client}`))
        }
      },
    )
  })
}

interface Race<T> {
  landed: Array<{ client: number; value: T }>
  conflicts: number
  unexpected: string[]
}

/** Runs CLIENTS concurrent attempt loops; each retries only on CONFLICT, up to MAX_ATTEMPTS. */
async function raceClients<T>(attempt: (client: number) => Promise<T>): Promise<Race<T>> {
  const race: Race<T> = { landed: [], conflicts: 0, unexpected: [] }
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let n = 1; n <= MAX_ATTEMPTS; n++) {
        try {
          race.landed.push({ client, value: await attempt(client) })
          return
        } catch (error) {
          if (PortLayerError.isInstance(error, 'CONFLICT')) {
            race.conflicts++
            continue
          }
          race.unexpected.push(
            `client ${client}, attempt ${n}: ${describeOutcome({ kind: 'rejected', error })}`,
          )
          return
        }
      }
      race.unexpected.push(`client ${client} still saw CONFLICT after ${MAX_ATTEMPTS} attempts`)
    }),
  )
  return race
}
