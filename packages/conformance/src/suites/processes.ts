import { type ID, isId, Signal } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { LONG_RUNNER } from '../harness.js'
import { expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

/** Behaviours 10 and 12 (processes), and signals. */
export function processTests(s: SuiteContext): void {
  const { caps } = s

  describe('processes', () => {
    it.skipIf(!caps.exec)(
      '10: execProcess on a container that is not running fails with INVALID_STATE',
      async () => {
        const t = s.t()
        const { pl } = t
        const created = await t.container('ten-exec-created', { entry: LONG_RUNNER })
        const stopped = await t.running('ten-exec-stopped')
        await t.stop(stopped)
        for (const id of [created, stopped]) {
          const before = await t.snapshot(id)
          await expectPortLayerError(pl.execProcess(id, '/', '/bin/sleep', '3600'), 'INVALID_STATE')
          expect(await t.snapshot(id)).toEqual(before)
        }
      },
    )

    it.skipIf(!caps.exec)(
      "10: execProcess returns a new process ID listed in config's and state's execdProcs",
      async () => {
        const t = s.t()
        const { pl } = t
        const id = await t.running('ten-exec')
        const mainPid = (await t.main(id)).guestPid
        const long = await pl.execProcess(id, '/tmp', '/bin/sleep', '3600')
        const short = await pl.execProcess(id, '/', '/bin/false', '')
        const mainId = (await t.config(id)).mainProcess?.processId
        for (const pid of [long, short]) {
          expect(isId(pid), `process ID ${pid} is a UUID`).toBe(true)
          expect(pid).not.toBe(id)
          expect(pid).not.toBe(mainId)
        }
        expect(long).not.toBe(short)
        const config = await t.config(id)
        expect(config.execdProcs).toEqual(
          expect.arrayContaining([
            { processId: long, workDir: '/tmp', execPath: '/bin/sleep', execArgs: '3600' },
            { processId: short, workDir: '/', execPath: '/bin/false', execArgs: '' },
          ]),
        )
        const running = await t.execd(id, long)
        expect(running).toMatchObject({ processId: long, status: 'started', finishedAt: null })
        expect(running.startedAt).toBeInstanceOf(Date)
        const exited = await t.execdExited(id, short)
        expect(exited).toMatchObject({ exitCode: 1, exitMsg: '' })
        expect(exited.finishedAt).toBeInstanceOf(Date)
        const pids = [mainPid, running.guestPid, exited.guestPid]
        for (const pid of pids) expect(pid).toBeGreaterThan(0)
        expect(new Set(pids).size, `guest pids ${pids.join(', ')} are unique within the container`).toBe(3)
        expect((await t.state(id)).status).toBe('running')
      },
    )

    it('10: when the main process exits, the container becomes stopped', async () => {
      const t = s.t()
      const id = await t.container('ten-exit', { entry: { execPath: '/bin/true' }, run: true })
      const state = await t.mainExited(id)
      expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 0 })
      expect(await t.pl.listContainers('stopped')).toContain(id)
    })

    it.skipIf(!caps.exec)(
      "10: when the main process exits, the container's exec'd processes end too",
      async () => {
        const t = s.t()
        const id = await t.running('ten-exit-execd', { entry: { execPath: '/bin/sleep', execArgs: '2' } })
        const execd = await t.pl.execProcess(id, '/', '/bin/sleep', '3600')
        await t.advance(2000)
        const state = await t.mainExited(id)
        expect(state.mainProcess?.exitCode).toBe(0)
        expect(state.execdProcs.find((p) => p.processId === execd)?.status).toBe('exited')
      },
    )

    it.skipIf(!caps.exec)("12: stopping a container ends its exec'd processes", async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('twelve-stop-execd')
      const execd = await Promise.all([
        pl.execProcess(id, '/', '/bin/sleep', '3600'),
        pl.execProcess(id, '/', '/bin/sleep', '3600'),
      ])
      await t.stop(id)
      const state = await t.state(id)
      expect(state.status).toBe('stopped')
      for (const pid of execd) {
        const p = state.execdProcs.find((x) => x.processId === pid)
        expect(p?.status, `exec'd process ${pid} after stop`).toBe('exited')
        expect(p?.finishedAt).toBeInstanceOf(Date)
      }
    })

    const bound = s.options.maxExitedExecs
    it.skipIf(!caps.exec || bound === undefined)(
      `10: only the last maxExitedExecs (${bound ?? 'not given in the options'}) exited exec'd processes are kept`,
      async () => {
        const t = s.t()
        const { pl } = t
        const max = bound as number
        const id = await t.running('ten-exec-bound')
        const ids: ID[] = []
        for (let i = 0; i < max + 2; i++) ids.push(await pl.execProcess(id, '/', '/bin/true', ''))
        const newest = ids.slice(2)
        await t.eventually(async () => {
          const { execdProcs } = await t.state(id)
          return newest.every((pid) => execdProcs.find((p) => p.processId === pid)?.status === 'exited')
            ? true
            : undefined
        }, `the last ${max} exec'd processes of ${id} exited`)
        const state = await t.state(id)
        expect(state.execdProcs.map((p) => [p.processId, p.status])).toEqual(
          newest.map((pid) => [pid, 'exited']),
        )
        expect((await t.config(id)).execdProcs.map((p) => p.processId)).toEqual(newest)
        await expectPortLayerError(
          pl.signal(ids[0] as ID, Signal.SIGTERM),
          'NOT_FOUND',
          "a dropped exec'd process",
        )
      },
    )

    it('12: before its first start a container with an entry point reports its main process as not-started', async () => {
      const t = s.t()
      const id = await t.container('twelve-not-started', { entry: LONG_RUNNER })
      const config = await t.config(id)
      expect(config.mainProcess).toMatchObject({ workDir: '/', execPath: '/bin/sleep', execArgs: '3600' })
      const state = await t.state(id)
      expect(state.status).toBe('created')
      expect(state.mainProcess).toMatchObject({
        processId: config.mainProcess?.processId,
        status: 'not-started',
        guestPid: 0,
        startedAt: null,
        finishedAt: null,
      })
    })
  })

  describe.skipIf(!caps.signal)('signals', () => {
    it('signals: SIGTERM via the container ID ends the main process with 143 and stops the container', async () => {
      const t = s.t()
      const id = await t.running('sig-term')
      await t.pl.signal(id, Signal.SIGTERM)
      const state = await t.mainExited(id)
      expect(state.mainProcess?.exitCode).toBe(143)
      expect(state.mainProcess?.finishedAt).toBeInstanceOf(Date)
    })

    it('signals: SIGKILL ends the main process with 137', async () => {
      const t = s.t()
      const id = await t.running('sig-kill')
      await t.pl.signal(id, Signal.SIGKILL)
      expect((await t.mainExited(id)).mainProcess?.exitCode).toBe(137)
    })

    it.skipIf(!caps.exec)(
      "signals: a process ID reaches that exec'd process and leaves the main process running",
      async () => {
        const t = s.t()
        const { pl } = t
        const id = await t.running('sig-execd')
        const [term, kill] = await Promise.all([
          pl.execProcess(id, '/', '/bin/sleep', '3600'),
          pl.execProcess(id, '/', '/bin/sleep', '3600'),
        ])
        const mainBefore = await t.main(id)
        await pl.signal(term, Signal.SIGTERM)
        await pl.signal(kill, Signal.SIGKILL)
        expect((await t.execdExited(id, term)).exitCode).toBe(143)
        expect((await t.execdExited(id, kill)).exitCode).toBe(137)
        const state = await t.state(id)
        expect(state.status).toBe('running')
        expect(state.mainProcess).toEqual(mainBefore)
      },
    )

    it('signals: signalling a process that is not running fails with INVALID_STATE', async () => {
      const t = s.t()
      const { pl } = t
      const notStarted = await t.container('sig-not-started', { entry: LONG_RUNNER })
      await expectPortLayerError(
        pl.signal(notStarted, Signal.SIGTERM),
        'INVALID_STATE',
        'a not-started main process',
      )
      const exited = await t.running('sig-exited')
      await pl.signal(exited, Signal.SIGTERM)
      await t.mainExited(exited)
      const before = await t.snapshot(exited)
      await expectPortLayerError(pl.signal(exited, Signal.SIGKILL), 'INVALID_STATE', 'an exited main process')
      expect(await t.snapshot(exited)).toEqual(before)
      if (caps.exec) {
        const id = await t.running('sig-execd-exited')
        const pid = await pl.execProcess(id, '/', '/bin/true', '')
        await t.execdExited(id, pid)
        await expectPortLayerError(
          pl.signal(pid, Signal.SIGTERM),
          'INVALID_STATE',
          "an exited exec'd process",
        )
      }
    })
  })
}
