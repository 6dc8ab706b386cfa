import { DEFAULT_DIRECTORIES } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { LONG_RUNNER, text } from '../harness.js'
import { expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i)

/** Behaviours 7 and 12 (file system): copyTo, copyFrom, and where files land when. */
export function filesTests(s: SuiteContext): void {
  const { caps } = s

  describe.skipIf(!caps.files)('files', () => {
    it('7: on a running container copyTo lands when the commit returns, byte for byte', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('seven-running')
      await t.update(id, async (h) => {
        let x = await pl.copyTo(h, '/tmp', 'bytes.bin', 0o600, ALL_BYTES)
        x = await pl.copyTo(x, '/tmp', 'empty', 0o644, new Uint8Array(0))
        x = await pl.copyTo(x, '/tmp', 'twice.txt', 0o644, text('first'))
        return pl.copyTo(x, '/tmp', 'twice.txt', 0o644, text('later copy wins'))
      })
      expect(await pl.copyFrom(id, '/tmp', 'bytes.bin')).toEqual(ALL_BYTES)
      expect(await pl.copyFrom(id, '/tmp', 'empty')).toEqual(new Uint8Array(0))
      expect(await pl.copyFrom(id, '/tmp', 'twice.txt')).toEqual(text('later copy wins'))

      await t.update(id, (h) => pl.copyTo(h, '/tmp', 'twice.txt', 0o644, text('overwritten')))
      expect(await pl.copyFrom(id, '/tmp', 'twice.txt')).toEqual(text('overwritten'))
    })

    it('7: missing directories of targetDir are created, and paths are normalised', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('seven-dirs')
      await t.update(id, (h) => pl.copyTo(h, '/srv//deep/./er/', 'f.txt', 0o644, text('deep')))
      expect(await pl.copyFrom(id, '/srv/deep/er', 'f.txt')).toEqual(text('deep'))
      expect(await pl.copyFrom(id, '/srv/deep/er/', 'f.txt')).toEqual(text('deep'))
    })

    it.skipIf(!caps.exec)(`7: a new container already has ${DEFAULT_DIRECTORIES.join(', ')}`, async () => {
      const t = s.t()
      const { pl } = t
      // The seed lives in a directory copyTo has to create, so only the guest's own directories
      // can receive the copies below.
      const seed = { dir: '/conformance-seed', name: 'seed.txt', data: text('seed') }
      const id = await t.running('seven-defaults', { files: [seed] })
      const copies = await Promise.all(
        DEFAULT_DIRECTORIES.map((dir) =>
          pl.execProcess(id, '/', '/bin/cp', `/conformance-seed/seed.txt ${dir}/seed.txt`),
        ),
      )
      for (const [i, pid] of copies.entries()) {
        const dir = DEFAULT_DIRECTORIES[i] as string
        expect((await t.execdExited(id, pid)).exitCode, `/bin/cp into ${dir}`).toBe(0)
        expect(await pl.copyFrom(id, dir, 'seed.txt')).toEqual(seed.data)
      }
    })

    it('7: on a new container copyTo lands at first start, before the main process', async () => {
      const t = s.t()
      const { pl } = t
      const data = text('pending until start')
      // /bin/cp exits 1 when its source is missing, so exit 0 proves the file came first.
      const cp = { workDir: '/tmp', execPath: '/bin/cp', execArgs: '/tmp/in/pending.txt /tmp/out.txt' }
      const id = await t.container('seven-new', {
        entry: cp,
        files: [{ dir: '/tmp/in', name: 'pending.txt', data }],
        run: true,
      })
      expect((await t.mainExited(id)).mainProcess).toMatchObject({ exitCode: 0, exitMsg: '' })
      await t.update(id, async (h) =>
        pl.setRunState(await pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running'),
      )
      expect(await pl.copyFrom(id, '/tmp', 'out.txt')).toEqual(data)
      expect(await pl.copyFrom(id, '/tmp/in', 'pending.txt')).toEqual(data)
    })

    it('7: on a stopped container copyTo lands at the next start, before the main process', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('seven-stopped')
      await t.stop(id)
      const data = text('copied while stopped')
      await t.update(id, (h) => pl.copyTo(h, '/tmp', 'late.txt', 0o644, data))
      await expectPortLayerError(
        pl.copyFrom(id, '/tmp', 'late.txt'),
        'INVALID_STATE',
        'copyFrom while stopped',
      )
      await t.update(id, async (h) =>
        pl.setRunState(await pl.setEntryPoint(h, '/tmp', '/bin/cp', 'late.txt late-copy.txt'), 'running'),
      )
      expect((await t.mainExited(id)).mainProcess).toMatchObject({ exitCode: 0, exitMsg: '' })
      await t.update(id, async (h) =>
        pl.setRunState(await pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 'running'),
      )
      expect(await pl.copyFrom(id, '/tmp', 'late-copy.txt')).toEqual(data)
    })

    it('7: copyFrom on a container that is not running fails with INVALID_STATE', async () => {
      const t = s.t()
      const { pl } = t
      const file = { dir: '/tmp', name: 'f.txt', data: text('f') }
      const created = await t.container('seven-copyfrom-created', { entry: LONG_RUNNER, files: [file] })
      await expectPortLayerError(pl.copyFrom(created, '/tmp', 'f.txt'), 'INVALID_STATE', 'created container')
      const stopped = await t.running('seven-copyfrom-stopped', { files: [file] })
      await t.stop(stopped)
      await expectPortLayerError(pl.copyFrom(stopped, '/tmp', 'f.txt'), 'INVALID_STATE', 'stopped container')
    })

    it('7: copyFrom of a missing file fails with NOT_FOUND', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('seven-missing')
      await expectPortLayerError(pl.copyFrom(id, '/tmp', 'no-such-file'), 'NOT_FOUND', 'missing file')
      await expectPortLayerError(pl.copyFrom(id, '/no/such/dir', 'f.txt'), 'NOT_FOUND', 'missing directory')
    })

    it('12: the file system survives stop and start', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('twelve-fs')
      await t.update(id, (h) => pl.copyTo(h, '/etc', 'kept.conf', 0o640, text('kept')))
      await t.stop(id)
      await t.start(id)
      expect(await pl.copyFrom(id, '/etc', 'kept.conf')).toEqual(text('kept'))
    })
  })
}
