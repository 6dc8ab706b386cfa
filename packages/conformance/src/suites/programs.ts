import { Signal } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { text } from '../harness.js'
import type { SuiteContext } from './context.js'

/** The program-semantics table of DESIGN.md, one test per row, run as main processes. */
export function programTests(s: SuiteContext): void {
  const { caps } = s

  describe('programs', () => {
    it('program: /bin/true exits 0 at once with an empty exit message', async () => {
      const main = await s.t().runMain('prog-true', { execPath: '/bin/true' })
      expect(main).toMatchObject({ status: 'exited', exitCode: 0, exitMsg: '' })
      expect(main.startedAt).toBeInstanceOf(Date)
      expect(main.finishedAt).toBeInstanceOf(Date)
    })

    it('program: /bin/false exits 1', async () => {
      expect(await s.t().runMain('prog-false', { execPath: '/bin/false' })).toMatchObject({
        exitCode: 1,
        exitMsg: '',
      })
    })

    it("program: /bin/sleep N exits 0 after N seconds of the backend's clock", async () => {
      const t = s.t()
      const id = await t.container('prog-sleep', {
        entry: { execPath: '/bin/sleep', execArgs: '2' },
        run: true,
      })
      await t.advance(1000)
      const midway = await t.state(id)
      expect(midway.status, 'one second into a two-second sleep').toBe('running')
      expect(midway.mainProcess?.status).toBe('started')
      const main = (await t.mainExited(id)).mainProcess
      expect(main).toMatchObject({ exitCode: 0, exitMsg: '' })
      const took = (main?.finishedAt?.getTime() ?? 0) - (main?.startedAt?.getTime() ?? 0)
      // Guests may record whole seconds, so allow one second of rounding below the two asked for.
      expect(took, 'finishedAt - startedAt in ms').toBeGreaterThanOrEqual(1000)
    })

    it('program: /bin/sh -c "exit N" exits N; any other script exits 127', async () => {
      const t = s.t()
      const [exit42, exit0, other] = await Promise.all([
        t.runMain('prog-sh-42', { execPath: '/bin/sh', execArgs: '-c "exit 42"' }),
        t.runMain('prog-sh-0', { execPath: '/bin/sh', execArgs: "-c 'exit 0'" }),
        t.runMain('prog-sh-other', { execPath: '/bin/sh', execArgs: '-c "echo hello"' }),
      ])
      expect(exit42).toMatchObject({ exitCode: 42, exitMsg: '' })
      expect(exit0).toMatchObject({ exitCode: 0, exitMsg: '' })
      expect(other.exitCode).toBe(127)
    })

    it.skipIf(!caps.files)('program: /bin/cp SRC DST copies a file and exits 0', async () => {
      const t = s.t()
      const data = text('copied by /bin/cp')
      const cp = { workDir: '/tmp', execPath: '/bin/cp', execArgs: 'src.txt /etc/dst.txt' }
      const id = await t.container('prog-cp', {
        entry: cp,
        files: [{ dir: '/tmp', name: 'src.txt', data }],
        run: true,
      })
      expect((await t.mainExited(id)).mainProcess).toMatchObject({ exitCode: 0, exitMsg: '' })
      await t.update(id, async (h) =>
        t.pl.setRunState(await t.pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running'),
      )
      expect(await t.pl.copyFrom(id, '/etc', 'dst.txt')).toEqual(data)
    })

    it('program: /bin/cp with a missing SRC exits 1 with an exit message', async () => {
      const main = await s
        .t()
        .runMain('prog-cp-missing', { execPath: '/bin/cp', execArgs: '/tmp/no-such-file /tmp/dst.txt' })
      expect(main.exitCode).toBe(1)
      expect(main.exitMsg.length, 'exitMsg explains the failure').toBeGreaterThan(0)
    })

    it.skipIf(!caps.files)('program: a file with an execute bit runs until signalled', async () => {
      const t = s.t()
      const tool = { dir: '/usr/local/bin', name: 'serve', data: text('#!/bin/sh\n'), perms: 0o755 }
      const id = await t.running('prog-exec-file', {
        entry: { execPath: '/usr/local/bin/serve' },
        files: [tool],
      })
      await t.advance(2000)
      const state = await t.state(id)
      expect(state.status).toBe('running')
      expect(state.mainProcess?.status).toBe('started')
      if (caps.signal) {
        await t.pl.signal(id, Signal.SIGTERM)
        expect((await t.mainExited(id)).mainProcess?.exitCode).toBe(143)
      } else {
        await t.stop(id)
        expect((await t.main(id)).exitCode).toBe(143)
      }
    })

    it.skipIf(!caps.files)('program: a file without an execute bit exits 127 as not found', async () => {
      const t = s.t()
      const data = { dir: '/usr/local/bin', name: 'plain', data: text('not a program'), perms: 0o644 }
      const main = await t.runMain(
        'prog-no-exec-bit',
        { execPath: '/usr/local/bin/plain' },
        { files: [data] },
      )
      expect(main.exitCode).toBe(127)
      expect(main.exitMsg.toLowerCase()).toContain('not found')
    })

    it('program: an unknown path exits 127 with a "not found" message', async () => {
      const main = await s.t().runMain('prog-unknown', { execPath: '/opt/conformance/no-such-program' })
      expect(main.exitCode).toBe(127)
      expect(main.exitMsg.toLowerCase()).toContain('not found')
    })

    it.skipIf(!caps.exec)(
      'program: /bin/kill -N PID signals a guest process; an unknown PID exits 1',
      async () => {
        const t = s.t()
        const { pl } = t
        const id = await t.running('prog-kill')
        const target = await pl.execProcess(id, '/', '/bin/sleep', '3600')
        const targetPid = (await t.execd(id, target)).guestPid
        const kill = await pl.execProcess(id, '/', '/bin/kill', `-9 ${targetPid}`)
        expect((await t.execdExited(id, kill)).exitCode).toBe(0)
        expect((await t.execdExited(id, target)).exitCode).toBe(137)
        const pids = [(await t.main(id)).guestPid, targetPid, (await t.execd(id, kill)).guestPid]
        const unused = Math.max(...pids) + 1000
        const missing = await pl.execProcess(id, '/', '/bin/kill', `-15 ${unused}`)
        expect((await t.execdExited(id, missing)).exitCode).toBe(1)
        expect((await t.state(id)).status).toBe('running')
      },
    )
  })
}
