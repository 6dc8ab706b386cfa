import { isId, RunState, Signal } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { LONG_RUNNER, text } from '../harness.js'
import { expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

// A program that ignores SIGTERM under the program semantics (contracts' ignoresSigterm).
const IGNORES_SIGTERM = text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")

/** Behaviours 1, 2, 5, 8 and 9: creating, handles, run states, destroying, listing. */
export function lifecycleTests(s: SuiteContext): void {
  const { caps } = s

  describe('lifecycle', () => {
    it('1: createContainer returns a handle for a container that exists only once committed', async () => {
      const t = s.t()
      const { pl } = t
      const name = t.name('one')
      const h = await pl.createContainer(name)
      const other = await pl.createContainer(t.name('one-other'))
      const id = h.containerId
      expect(isId(id), `handle.containerId ${id} is a UUID`).toBe(true)
      expect(other.containerId).not.toBe(id)

      expect(await pl.listContainers()).not.toContain(id)
      await expectPortLayerError(pl.getContainerConfig(id), 'NOT_FOUND', 'getContainerConfig before commit')
      await expectPortLayerError(pl.getContainerState(id), 'NOT_FOUND', 'getContainerState before commit')
      await expectPortLayerError(pl.getHandle(id), 'NOT_FOUND', 'getHandle before commit')

      expect(await pl.commit(h)).toBe(id)
      const listed = await pl.listContainers()
      expect(listed).toContain(id)
      expect(listed).not.toContain(other.containerId)
      const config = await pl.getContainerConfig(id)
      expect(config).toMatchObject({ containerId: id, name, mainProcess: null, execdProcs: [] })
      expect(config.created).toBeInstanceOf(Date)
      expect(Number.isNaN(config.created.getTime())).toBe(false)
      expect(await pl.getContainerState(id)).toEqual({ status: 'created', mainProcess: null, execdProcs: [] })
    })

    it('2: setters return new handles and leave the old one valid and unchanged', async () => {
      const t = s.t()
      const { pl } = t
      const h0 = await pl.createContainer(t.name('two'))
      const before = structuredClone(h0)
      const h1 = await pl.setLimits(h0, 777, 1234)
      const h2 = await pl.setEntryPoint(h1, '/', '/bin/true', '')
      const h3 = await pl.setRunState(h2, 'running')
      const h4 = caps.files ? await pl.copyTo(h3, '/tmp', 'two.txt', 0o644, text('two')) : h3
      for (const later of [h1, h2, h3]) expect(later).not.toBe(h0)
      if (caps.files) expect(h4).not.toBe(h3)
      expect(h0, 'the first handle after four setters').toEqual(before)
      expect(h1.containerId).toBe(h0.containerId)

      // The old handle still commits, and carries none of the later changes.
      expect(await pl.commit(h0)).toBe(h0.containerId)
      const config = await t.config(h0.containerId)
      expect(config.mainProcess).toBeNull()
      expect(config.limits).not.toEqual({ memoryMb: 777, cpuMhz: 1234 })
      expect((await t.state(h0.containerId)).status).toBe('created')
    })

    it('2: commit applies every change of the handle before it returns', async () => {
      const t = s.t()
      const { pl } = t
      const data = text('applied at commit')
      const files = caps.files ? [{ dir: '/tmp/two', name: 'all.txt', data }] : []
      const id = await t.running('two-all', {
        entry: { ...LONG_RUNNER, workDir: '/tmp' },
        limits: [640, 1300],
        files,
      })
      const config = await t.config(id)
      expect(config.limits).toEqual({ memoryMb: 640, cpuMhz: 1300 })
      expect(config.mainProcess).toMatchObject({ workDir: '/tmp', execPath: '/bin/sleep', execArgs: '3600' })
      expect(isId(config.mainProcess?.processId)).toBe(true)
      const state = await t.state(id)
      expect(state.status).toBe('running')
      expect(state.mainProcess?.status).toBe('started')
      if (caps.files) expect(await pl.copyFrom(id, '/tmp/two', 'all.txt')).toEqual(data)
    })

    it.skipIf(!caps.files)(
      '2: a handle keeps the bytes copyTo was given, even if the caller reuses the array',
      async () => {
        const t = s.t()
        const { pl } = t
        const data = Uint8Array.from([1, 2, 3, 4])
        const h = await pl.copyTo(
          await t.createHandle('two-bytes', { entry: LONG_RUNNER }),
          '/tmp',
          'b.bin',
          0o644,
          data,
        )
        data.fill(9)
        const id = await pl.commit(await pl.setRunState(h, 'running'))
        expect(await pl.copyFrom(id, '/tmp', 'b.bin')).toEqual(Uint8Array.from([1, 2, 3, 4]))
      },
    )

    it("5: setRunState('created') fails with INVALID_ARGUMENT", async () => {
      const t = s.t()
      const h = await t.createHandle('five-created')
      await expectPortLayerError(t.pl.setRunState(h, RunState.Created), 'INVALID_ARGUMENT')
    })

    it('5: committing running without an entry point fails with INVALID_STATE', async () => {
      const t = s.t()
      const { pl } = t
      const fresh = await t.createHandle('five-noentry', { run: true })
      await expectPortLayerError(pl.commit(fresh), 'INVALID_STATE', 'create-handle asking to run')
      await expectPortLayerError(
        pl.getContainerConfig(fresh.containerId),
        'NOT_FOUND',
        'the refused container',
      )

      const id = await t.container('five-noentry-existing')
      await expectPortLayerError(t.start(id), 'INVALID_STATE', 'existing container asking to run')
      expect((await t.state(id)).status).toBe('created')
    })

    it('5: running starts the main process; stopped ends it with SIGTERM (143)', async () => {
      const t = s.t()
      const id = await t.running('five-run')
      const running = await t.state(id)
      expect(running.status).toBe('running')
      const main = running.mainProcess
      expect(main).toMatchObject({ status: 'started', exitMsg: '', finishedAt: null })
      expect(
        Number.isInteger(main?.guestPid) && (main?.guestPid ?? 0) > 0,
        `guestPid ${main?.guestPid}`,
      ).toBe(true)
      expect(main?.startedAt).toBeInstanceOf(Date)
      expect(main?.processId).toBe((await t.config(id)).mainProcess?.processId)

      await t.stop(id)
      const stopped = await t.state(id)
      expect(stopped.status).toBe('stopped')
      expect(stopped.mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })
      expect(stopped.mainProcess?.finishedAt).toBeInstanceOf(Date)
      expect(stopped.mainProcess?.finishedAt?.getTime()).toBeGreaterThanOrEqual(
        main?.startedAt?.getTime() ?? 0,
      )
    })

    it.skipIf(!caps.signal || !caps.files)(
      '5: stop waits the grace period for a process that ignores SIGTERM, then kills it (137)',
      async () => {
        const t = s.t()
        const { pl } = t
        const { pollMs, waitMs } = t.options
        const file = { dir: '/usr/local/bin', name: 'ignores-term', data: IGNORES_SIGTERM, perms: 0o755 }
        const program = '/usr/local/bin/ignores-term'
        const id = await t.running('five-grace', { entry: { execPath: program }, files: [file] })
        try {
          const execd = caps.exec ? await pl.execProcess(id, '/', program, '') : undefined
          await pl.signal(id, Signal.SIGTERM)
          await t.advance(500)
          const after = await t.state(id)
          expect(after.status, 'after SIGTERM to a process that ignores it').toBe('running')
          expect(after.mainProcess).toMatchObject({ status: 'started', finishedAt: null })
          if (execd) expect(after.execdProcs.find((p) => p.processId === execd)?.status).toBe('started')

          // The commit blocks through the grace period, which passes only as backend time does.
          let settled = false
          const stopping = t.stop(id).finally(() => {
            settled = true
          })
          stopping.catch(() => {})
          const startedAt = Date.now()
          let advanced = 0
          // A virtual clock's grace period may be long; a real one counts against the real deadline.
          while (!settled && advanced < 6 * waitMs && Date.now() - startedAt < waitMs) {
            await t.advance(pollMs)
            advanced += pollMs
          }
          expect(settled, `the stop commit resolved within ${advanced} ms of backend time`).toBe(true)
          await stopping
          const stopped = await t.state(id)
          expect(stopped.status).toBe('stopped')
          expect(stopped.mainProcess).toMatchObject({ status: 'exited', exitCode: 137 })
          if (execd) {
            expect(stopped.execdProcs.find((p) => p.processId === execd)).toMatchObject({
              status: 'exited',
              exitCode: 137,
            })
          }
        } finally {
          // A failed check must not leave a process that the cleanup's own stop would wait on.
          if ((await t.state(id).catch(() => undefined))?.status === 'running') {
            await pl.signal(id, Signal.SIGKILL).catch(() => {})
          }
        }
      },
    )

    it('5: a stopped container starts afresh: new pid, new startedAt, exit fields reset', async () => {
      const t = s.t()
      const id = await t.running('five-restart')
      const first = await t.main(id)
      await t.stop(id)
      expect((await t.main(id)).exitCode).toBe(143)
      await t.advance(1000)
      await t.start(id)
      const again = await t.state(id)
      expect(again.status).toBe('running')
      const main = again.mainProcess
      expect(main).toMatchObject({ status: 'started', exitCode: 0, exitMsg: '', finishedAt: null })
      expect(main?.guestPid).toBeGreaterThan(0)
      expect(main?.guestPid).not.toBe(first.guestPid)
      expect(main?.startedAt?.getTime()).toBeGreaterThan(
        first.startedAt?.getTime() ?? Number.POSITIVE_INFINITY,
      )
    })

    it('5: asking a running container to run changes its run state in nothing; the rest applies', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('five-again')
      const before = await t.main(id)
      await t.update(id, async (h) => {
        const running = await pl.setRunState(h, 'running')
        return caps.files ? pl.copyTo(running, '/tmp', 'again.txt', 0o644, text('again')) : running
      })
      const after = await t.state(id)
      expect(after.status).toBe('running')
      expect(after.mainProcess).toEqual(before)
      if (caps.files) expect(await pl.copyFrom(id, '/tmp', 'again.txt')).toEqual(text('again'))
    })

    it('5: asking a created, never started container to stop leaves it created', async () => {
      const t = s.t()
      const id = await t.container('five-stop-created', { entry: LONG_RUNNER })
      await t.stop(id)
      const state = await t.state(id)
      expect(state.status).toBe('created')
      expect(state.mainProcess?.status).toBe('not-started')
    })

    it('8: destroying a running container fails with INVALID_STATE and changes nothing', async () => {
      const t = s.t()
      const id = await t.running('eight-running')
      const before = await t.snapshot(id)
      await expectPortLayerError(t.pl.destroyContainer(id), 'INVALID_STATE')
      expect(await t.snapshot(id)).toEqual(before)
    })

    it('8: destroying a created or stopped container removes it for good', async () => {
      const t = s.t()
      const { pl } = t
      const created = await t.container('eight-created', { entry: LONG_RUNNER })
      const stopped = await t.running('eight-stopped')
      await t.stop(stopped)
      const staleHandle = await pl.getHandle(stopped)
      for (const id of [created, stopped]) {
        await pl.destroyContainer(id)
        await expectPortLayerError(pl.getContainerConfig(id), 'NOT_FOUND', 'config after destroy')
        await expectPortLayerError(pl.getContainerState(id), 'NOT_FOUND', 'state after destroy')
        await expectPortLayerError(pl.getHandle(id), 'NOT_FOUND', 'getHandle after destroy')
        await expectPortLayerError(pl.destroyContainer(id), 'NOT_FOUND', 'second destroy')
      }
      expect(await pl.listContainers()).not.toContain(created)
      expect(await pl.listContainers()).not.toContain(stopped)
      await expectPortLayerError(
        pl.commit(await pl.setRunState(staleHandle, 'running')),
        'NOT_FOUND',
        'commit of a handle taken before destroy',
      )
    })

    it('9: listContainers returns the IDs in the given state, or all', async () => {
      const t = s.t()
      const { pl } = t
      const created = await t.container('nine-created')
      const running = await t.running('nine-running')
      const stopped = await t.running('nine-stopped')
      await t.stop(stopped)
      const all = await pl.listContainers()
      expect(new Set(all).size, 'no ID listed twice').toBe(all.length)
      expect(all).toEqual(expect.arrayContaining([created, running, stopped]))
      const expected = { created, running, stopped }
      for (const state of [RunState.Created, RunState.Running, RunState.Stopped]) {
        const listed = await pl.listContainers(state)
        for (const [which, id] of Object.entries(expected)) {
          if (which === state) expect(listed, `listContainers('${state}')`).toContain(id)
          else expect(listed, `listContainers('${state}') must not list the ${which} one`).not.toContain(id)
        }
      }
    })
  })
}
