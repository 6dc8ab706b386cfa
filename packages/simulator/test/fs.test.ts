import { describe, expect, it } from 'vitest'
import { expectCode, startContainer, stop, virtualSim } from './helpers.js'

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

describe('container file system', () => {
  it('starts with the default directories and their modes', async () => {
    const sim = virtualSim()
    const id = await sim.commit(await sim.createContainer('x'))
    const fs = sim.fs(id)
    expect(fs.readdir('/')).toEqual(['bin', 'etc', 'tmp', 'usr'])
    expect(fs.readdir('/usr/local')).toEqual(['bin'])
    expect(fs.stat('/bin')).toEqual({ type: 'directory', perms: 0o755, size: 0 })
    expect(fs.stat('/tmp')?.perms).toBe(0o1777)
  })

  it('gives each container its own copy: writes in one never show in another', async () => {
    const sim = virtualSim()
    const a = await sim.commit(await sim.createContainer('a'))
    const b = await sim.commit(await sim.createContainer('b'))
    sim.fs(a).writeFile('/etc/only-a', 'a')
    sim.fs(a).remove('/tmp')
    expect(sim.fs(b).exists('/etc/only-a')).toBe(false)
    expect(sim.fs(b).exists('/tmp')).toBe(true)
  })

  it('refuses a copy whose directory runs through a file, changing nothing', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim, '/bin/sleep', '100')
    sim.fs(id).writeFile('/etc/conf', 'x')
    const version = (await sim.getHandle(id)).baseVersion
    let h = await sim.getHandle(id)
    h = await sim.copyTo(h, '/tmp', 'fine', 0o644, bytes('1'))
    h = await sim.copyTo(h, '/etc/conf/sub', 'f', 0o644, bytes('2'))
    const e = await expectCode(sim.commit(h), 'INVALID_ARGUMENT')
    expect(e.message).toContain('/etc/conf is a file')
    expect(sim.fs(id).exists('/tmp/fine')).toBe(false)
    expect((await sim.getHandle(id)).baseVersion).toBe(version)
  })

  it('refuses a copy onto a directory: a default one at copyTo, one of the container at commit', async () => {
    const sim = virtualSim()
    const created = await sim.createContainer('x')
    const e = await expectCode(sim.copyTo(created, '/usr', 'local', 0o644, bytes('no')), 'INVALID_ARGUMENT')
    expect(e.message).toContain('/usr/local')
    const id = await sim.commit(created)
    sim.fs(id).mkdir('/data')
    sim.fs(id).mkdir('/data/dir')
    const version = (await sim.getHandle(id)).baseVersion
    const h = await sim.copyTo(await sim.getHandle(id), '/data', 'dir', 0o644, bytes('no'))
    const refused = await expectCode(sim.commit(h), 'INVALID_ARGUMENT')
    expect(refused.message).toContain('/data/dir')
    expect((await sim.getHandle(id)).baseVersion).toBe(version)
  })

  it('checks copies against earlier ones in the same handle (at copyTo) and still waiting from earlier commits (at commit)', async () => {
    const sim = virtualSim()
    let h = await sim.createContainer('x')
    h = await sim.copyTo(h, '/data', 'a', 0o644, bytes('file'))
    const kept = structuredClone(h)
    const e = await expectCode(
      sim.copyTo(h, '/data/a', 'b', 0o644, bytes('under a file')),
      'INVALID_ARGUMENT',
    )
    expect(e.message).toMatch(/\/data\/a is a file in one copy and a directory in another/)
    expect(h).toEqual(kept)
    // A handle that carries such files anyway (made without copyTo) is refused at commit, first.
    const forged = {
      ...h,
      pending: {
        ...h.pending,
        files: [...h.pending.files, { ...h.pending.files[0], targetDir: '/data/a', fname: 'b' }],
      },
    }
    await expectCode(sim.commit(forged as typeof h), 'INVALID_ARGUMENT')
    expect(await sim.listContainers()).toEqual([])
    const id = await sim.commit(h)
    await expectCode(
      sim.commit(await sim.copyTo(await sim.getHandle(id), '/data/a/deeper', 'c', 0o644, bytes('!'))),
      'INVALID_ARGUMENT',
    )
    await expectCode(
      sim.commit(await sim.copyTo(await sim.getHandle(id), '/', 'data', 0o644, bytes('!'))),
      'INVALID_ARGUMENT',
    )
  })

  it('lands copies at start in order: missing directories created, a later copy to the same path wins', async () => {
    const sim = virtualSim()
    let h = await sim.createContainer('x')
    h = await sim.setEntryPoint(h, '/', '/bin/sleep', '100')
    h = await sim.copyTo(h, '/opt/app/conf', 'a.cfg', 0o600, bytes('first'))
    const id = await sim.commit(h)
    expect(sim.fs(id).exists('/opt')).toBe(false)
    h = await sim.copyTo(await sim.getHandle(id), '/opt/app/conf', 'a.cfg', 0o640, bytes('second'))
    await sim.commit(await sim.setRunState(h, 'running'))
    const fs = sim.fs(id)
    expect(fs.stat('/opt/app')).toEqual({ type: 'directory', perms: 0o755, size: 0 })
    expect(fs.stat('/opt/app/conf/a.cfg')).toEqual({ type: 'file', perms: 0o640, size: 6 })
    expect(text(await sim.copyFrom(id, '/opt/app/conf', 'a.cfg'))).toBe('second')
    await stop(sim, id)
  })

  it('a pending copy replaces whatever direct edits put in its way before the start', async () => {
    const sim = virtualSim()
    let h = await sim.createContainer('x')
    h = await sim.setEntryPoint(h, '/', '/bin/sleep', '100')
    h = await sim.copyTo(h, '/data', 'x', 0o644, bytes('copied'))
    const id = await sim.commit(h)
    sim.fs(id).writeFile('/data', 'in the way')
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    expect(sim.fs(id).stat('/data')?.type).toBe('directory')
    expect(sim.fs(id).readText('/data/x')).toBe('copied')
  })

  it('never shares bytes with callers', async () => {
    const sim = virtualSim()
    const buf = bytes('original')
    let h = await sim.copyTo(await sim.createContainer('x'), '/tmp', 'f', 0o644, buf)
    buf[0] = 0
    h = await sim.setEntryPoint(h, '/', '/bin/sleep', '1')
    const id = await sim.commit(await sim.setRunState(h, 'running'))
    const out = await sim.copyFrom(id, '/tmp', 'f')
    out[0] = 0
    expect(text(await sim.copyFrom(id, '/tmp', 'f'))).toBe('original')
    const read = sim.fs(id).readFile('/tmp/f')
    read[1] = 0
    expect(sim.fs(id).readText('/tmp/f')).toBe('original')
  })

  it('copies a handle’s bytes when the commit applies: changing them afterwards changes nothing', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const landed = await sim.copyTo(await sim.getHandle(id), '/tmp', 'now', 0o644, bytes('landed'))
    await sim.commit(landed)
    await stop(sim, id)
    const pending = await sim.copyTo(await sim.getHandle(id), '/tmp', 'later', 0o644, bytes('pending'))
    await sim.commit(pending)
    const snap = sim.snapshot()
    for (const h of [landed, pending]) h.pending.files[0]?.data.fill(0x21)
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    expect(text(await sim.copyFrom(id, '/tmp', 'now'))).toBe('landed')
    expect(text(await sim.copyFrom(id, '/tmp', 'later'))).toBe('pending')
    await stop(sim, id)
    sim.restore(snap)
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    expect(text(await sim.copyFrom(id, '/tmp', 'later'))).toBe('pending')
  })

  it('copyFrom refuses a directory, and file perms decide what runs', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    await expectCode(sim.copyFrom(id, '/usr/local', 'bin'), 'INVALID_ARGUMENT')
    sim.fs(id).writeFile('/usr/local/bin/plain', 'data', 0o644)
    sim.fs(id).writeFile('/usr/local/bin/group-exec', 'data', 0o010)
    const plain = await sim.execProcess(id, '/', '/usr/local/bin/plain', '')
    const dir = await sim.execProcess(id, '/', '/usr/local/bin', '')
    const runs = await sim.execProcess(id, '/', '/usr/local/bin/group-exec', '')
    const state = new Map((await sim.getContainerState(id)).execdProcs.map((p) => [p.processId, p]))
    expect(state.get(plain)).toMatchObject({ status: 'exited', exitCode: 127 })
    expect(state.get(plain)?.exitMsg).toContain('not found')
    expect(state.get(dir)?.exitCode).toBe(127)
    expect(state.get(runs)?.status).toBe('started')
  })

  it('/bin/cp resolves relative paths, copies into directories and keeps an existing file’s mode', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    const fs = sim.fs(id)
    fs.writeFile('/tmp/src', 'payload', 0o700)
    fs.writeFile('/etc/dst', 'old', 0o600)
    const run = async (workDir: string, args: string) => {
      const p = await sim.execProcess(id, workDir, '/bin/cp', args)
      return (await sim.getContainerState(id)).execdProcs.find((s) => s.processId === p)
    }
    expect(await run('/tmp', 'src ../etc')).toMatchObject({ exitCode: 0 })
    expect(fs.stat('/etc/src')).toEqual({ type: 'file', perms: 0o700, size: 7 })
    expect(await run('/', 'tmp/src /etc/dst')).toMatchObject({ exitCode: 0 })
    expect(fs.stat('/etc/dst')?.perms).toBe(0o600)
    expect(fs.readText('/etc/dst')).toBe('payload')
    expect(await run('/', '/tmp /x')).toMatchObject({ exitCode: 1 })
    expect(await run('/', '/tmp/src /no/such/dir/f')).toMatchObject({ exitCode: 1 })
    expect(await run('/', '/tmp/src')).toMatchObject({ exitCode: 1 })
    // Empty operands are errors of cp, never of the exec call that started it.
    expect(await run('/', "'' /tmp/x")).toMatchObject({ status: 'exited', exitCode: 1 })
    expect((await run('/', "'' /tmp/x"))?.exitMsg).toContain("cannot stat ''")
    expect(await run('/', "/tmp/src ''")).toMatchObject({ status: 'exited', exitCode: 1 })
    expect((await sim.getContainerState(id)).execdProcs.every((p) => p.status === 'exited')).toBe(true)
  })

  it('/bin/cp as the entry point with an empty operand exits 1, and the commit that started it lands whole', async () => {
    const sim = virtualSim()
    let h = await sim.createContainer('x')
    h = await sim.setEntryPoint(h, '/', '/bin/cp', "'' /tmp/x")
    const id = await sim.commit(await sim.setRunState(h, 'running'))
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 1 })
  })

  it('the fs control reports POSIX errors as PortLayerErrors with errno', async () => {
    const sim = virtualSim()
    const id = await sim.commit(await sim.createContainer('x'))
    const fs = sim.fs(id)
    fs.mkdir('/a/b/c', { recursive: true })
    fs.mkdir('/a/b/c', { recursive: true })
    fs.writeFile('/a/file', new Uint8Array([1, 2]))
    expect(fs.readdir('/a')).toEqual(['b', 'file'])
    fs.chmod('/a/file', 0o400)
    expect(fs.stat('/a/file')).toEqual({ type: 'file', perms: 0o400, size: 2 })
    const cases: Array<[() => unknown, string, string]> = [
      [() => fs.mkdir('/a'), 'INVALID_STATE', 'EEXIST'],
      [() => fs.mkdir('/x/y'), 'NOT_FOUND', 'ENOENT'],
      [() => fs.mkdir('/a/file/z', { recursive: true }), 'INVALID_ARGUMENT', 'ENOTDIR'],
      [() => fs.readFile('/a'), 'INVALID_ARGUMENT', 'EISDIR'],
      [() => fs.readFile('/nope'), 'NOT_FOUND', 'ENOENT'],
      [() => fs.writeFile('/nope/f', 'x'), 'NOT_FOUND', 'ENOENT'],
      [() => fs.writeFile('/a/file/f', 'x'), 'INVALID_ARGUMENT', 'ENOTDIR'],
      [() => fs.writeFile('/a', 'x'), 'INVALID_ARGUMENT', 'EISDIR'],
      [() => fs.readdir('/a/file'), 'INVALID_ARGUMENT', 'ENOTDIR'],
      [() => fs.remove('/a'), 'INVALID_STATE', 'ENOTEMPTY'],
      [() => fs.remove('/'), 'INVALID_ARGUMENT', 'EINVAL'],
      [() => fs.chmod('/nope', 0o644), 'NOT_FOUND', 'ENOENT'],
    ]
    for (const [op, code, errno] of cases) {
      const e = await expectCode(op, code as never)
      expect(e.detail?.errno).toBe(errno)
      expect(e.message).toContain(id)
    }
    await expectCode(() => fs.chmod('/a/file', 0o10000), 'INVALID_ARGUMENT')
    await expectCode(() => fs.readFile(''), 'INVALID_ARGUMENT')
    fs.remove('/a', { recursive: true })
    expect(fs.exists('/a/b/c')).toBe(false)
    expect(fs.readdir('/')).toEqual(['bin', 'etc', 'tmp', 'usr'])
  })

  it('the fs control needs a committed container and stops working once it is destroyed', async () => {
    const sim = virtualSim()
    const h = await sim.createContainer('x')
    await expectCode(() => sim.fs(h.containerId), 'NOT_FOUND')
    await expectCode(() => sim.fs('not-an-id'), 'INVALID_ARGUMENT')
    const id = await sim.commit(h)
    const fs = sim.fs(id)
    await sim.destroyContainer(id)
    await expectCode(() => fs.exists('/'), 'NOT_FOUND')
  })

  it('survives stop and start', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim)
    sim.fs(id).writeFile('/tmp/state', 'kept')
    await stop(sim, id)
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    expect(text(await sim.copyFrom(id, '/tmp', 'state'))).toBe('kept')
  })
})
