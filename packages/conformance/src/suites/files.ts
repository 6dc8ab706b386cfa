import {
  DEFAULT_DIRECTORIES,
  type FileCopy,
  type Handle,
  type HandleFactory,
  MAX_MESSAGE_LENGTH,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { type Harness, LONG_RUNNER, text } from '../harness.js'
import { expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i)

type Place = readonly [dir: string, name: string]

/**
 * Pending files that cannot all land: a path that is a file in one copy and a directory in
 * another (either order, any depth), and files at a directory every container has or a parent
 * of one. Each can be told from the handle alone.
 */
const CONFLICTS: ReadonlyArray<readonly [label: string, files: readonly Place[]]> = [
  [
    'a file, then a file inside it',
    [
      ['/conflict/a', 'b'],
      ['/conflict/a/b', 'c'],
    ],
  ],
  [
    'a file inside a path, then a file at that path',
    [
      ['/conflict/a/b', 'c'],
      ['/conflict/a', 'b'],
    ],
  ],
  [
    'a file, then a file three levels inside it',
    [
      ['/conflict', 'x'],
      ['/conflict/x/y/z', 'f'],
    ],
  ],
  [
    'a file between two unrelated ones, then one inside it',
    [
      ['/q', 'r'],
      ['/conflict', 'm'],
      ['/s', 't'],
      ['/conflict/m', 'n'],
    ],
  ],
  ...DEFAULT_DIRECTORIES.flatMap((dir) => {
    const places: Array<readonly [string, readonly Place[]]> = []
    for (let i = dir.indexOf('/', 1); ; i = dir.indexOf('/', i + 1)) {
      const path = i === -1 ? dir : dir.slice(0, i)
      const at = path.lastIndexOf('/')
      places.push([`a file at ${path}`, [[path.slice(0, at) || '/', path.slice(at + 1)]]])
      if (i === -1) break
    }
    return places
  }),
]

function fileAt([dir, name]: Place): FileCopy {
  return { targetDir: dir, fname: name, perms: 0o644, data: text(`${dir}/${name}`) }
}

/**
 * `h` with `places` added to its pending files without going through copyTo, as a handle from
 * another factory, a deserialised one or a hand-made one can carry them: through the suite's
 * handle factory when it has `withFile`, else as plain data.
 */
function withForgedFiles(t: Harness, h: Handle, places: readonly Place[]): Handle {
  const factory = t.options.handleFactory as Partial<Pick<HandleFactory, 'withFile'>> | undefined
  const files = places.map(fileAt)
  if (typeof factory?.withFile === 'function') {
    const withFile = factory.withFile.bind(factory)
    return files.reduce((x, f) => withFile(x, f), h)
  }
  return { ...h, pending: { ...h.pending, files: [...h.pending.files, ...files] } }
}

async function expectRefused(action: Promise<unknown>, what: string): Promise<void> {
  const e = await expectPortLayerError(action, 'INVALID_ARGUMENT', what)
  expect(e.message.length, what).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH)
}

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

    it('7: pending files that cannot all land are refused at copyTo, and the handle stays as it was', async () => {
      const t = s.t()
      const { pl } = t
      const created = await t.createHandle('seven-conflict-copyto', { entry: LONG_RUNNER })
      for (const [label, places] of CONFLICTS) {
        let h = created
        for (const place of places.slice(0, -1)) h = await pl.copyTo(h, ...place, 0o644, text('x'))
        const kept = structuredClone(h)
        const last = places[places.length - 1] as Place
        await expectRefused(pl.copyTo(h, ...last, 0o644, text('x')), `copyTo: ${label}`)
        expect(h, `${label}: the handle passed to the refused copyTo`).toEqual(kept)
      }
      // A copy to a path already copied to replaces it; siblings, look-alike prefixes and files
      // inside the default directories are fine.
      let h = created
      const fine: readonly Place[] = [
        ['/conflict/a', 'b'],
        ['/conflict/a', 'b'],
        ['/conflict/a', 'bc'],
        ['/conflict/a/bc.d', 'e'],
        ['/conflict/ab', 'c'],
        ['/tmp', 'x'],
        ['/usr/local/bin', 'tool'],
        ['/usr', 'other'],
      ]
      for (const place of fine) h = await pl.copyTo(h, ...place, 0o644, text('fine'))
      expect(await pl.commit(h)).toBe(created.containerId)
    })

    it('7: commit refuses pending files that cannot all land before any change: the version does not move', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('seven-conflict-commit', { entry: LONG_RUNNER })
      const before = await t.snapshot(id)
      const h0 = await pl.getHandle(id)
      // Other changes ride along, so a backend that applied anything before checking the files is seen.
      const busy = await pl.setRunState(await pl.setLimits(h0, 256, 500), 'running')
      for (const [label, places] of CONFLICTS) {
        await expectRefused(pl.commit(withForgedFiles(t, busy, places)), `commit: ${label}`)
      }
      expect(await t.snapshot(id), 'the container after the refused commits').toEqual(before)
      // The handle taken before the refused commits is still current.
      await pl.commit(
        await pl.copyTo(await pl.setLimits(h0, 256, 500), '/conflict/a', 'b', 0o644, text('ok')),
      )
      expect((await t.config(id)).limits).toEqual({ memoryMb: 256, cpuMhz: 500 })
    })

    it('7: on a running container too, and for a create-handle, which stays committable', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.running('seven-conflict-running')
      const before = await t.snapshot(id)
      const h0 = await pl.getHandle(id)
      const [label, places] = CONFLICTS[0] as (typeof CONFLICTS)[number]
      await expectRefused(pl.commit(withForgedFiles(t, h0, places)), `running container: ${label}`)
      expect(await t.snapshot(id), 'the running container after the refused commit').toEqual(before)
      await pl.commit(await pl.copyTo(h0, '/conflict/a', 'b', 0o644, text('landed')))
      expect(await pl.copyFrom(id, '/conflict/a', 'b')).toEqual(text('landed'))

      const create = await t.createHandle('seven-conflict-create', { entry: LONG_RUNNER })
      await expectRefused(
        pl.commit(withForgedFiles(t, create, [['/', 'etc']])),
        'create-handle: a file at /etc',
      )
      await expectRefused(pl.commit(withForgedFiles(t, create, places)), `create-handle: ${label}`)
      expect(await pl.listContainers(), 'containers after the refused creates').not.toContain(
        create.containerId,
      )
      expect(await pl.commit(create)).toBe(create.containerId)
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
