import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, NotFoundError, PortLayerError } from '@portlayer/contracts'
import type { ServiceContent, VimArgs, VimMethodName, VmomiGateway } from '@portlayer/contracts/vmomi'
import { describe, expect, it } from 'vitest'
import { createRecordingGateway, createReplayGateway, loadFixture } from '../src/index.js'
import { REDACTED, Redactor, scrub } from '../src/redact.js'

const CONTENT = {
  rootFolder: { type: 'Folder', value: 'group-d1' },
  propertyCollector: { type: 'PropertyCollector', value: 'pc' },
  searchIndex: { type: 'SearchIndex', value: 'si' },
  about: { name: 'n', fullName: 'f', version: '6.5', apiVersion: '6.5', apiType: 'VirtualCenter' },
} satisfies ServiceContent

const AUTH = {
  _type: 'NamePasswordAuthentication',
  interactiveSession: false,
  username: 'root',
  password: 'guest-pw-123',
} as const
const VM = { type: 'VirtualMachine', value: 'vm-1' }
const BYTES = new Uint8Array([1, 2, 3, 250])

/** A scripted in-memory gateway: the thing being recorded. */
function scriptedGateway(): VmomiGateway & { closed: boolean } {
  const gw = {
    closed: false,
    serviceContent: CONTENT,
    async call<M extends VimMethodName>(method: M, args: VimArgs<M>) {
      if (method === 'Login')
        return { key: 'session-key-abc', userName: 'admin', loginTime: new Date(1) } as never
      if (method === 'Destroy_Task') {
        throw new NotFoundError('vSphere Destroy_Task failed with ManagedObjectNotFound', {
          backend: 'vsphere',
          detail: { fault: 'ManagedObjectNotFound', object: (args as { _this: unknown })._this },
        })
      }
      if (method === 'ListProcessesInGuest') {
        return [
          { name: 'sleep', pid: 7, owner: 'root', cmdLine: 'sleep', startTime: new Date(1000) },
        ] as never
      }
      if (method === 'InitiateFileTransferFromGuest') {
        return { attributes: {}, size: 4, url: 'https://*:443/guestFile?id=1&token=t0k3n' } as never
      }
      return { type: 'Folder', value: 'group-v3' } as never
    },
    async waitForTask(task: { type: string; value: string }) {
      return { key: task.value, task, state: 'success', result: VM, completeTime: new Date(2000) } as never
    },
    async transfer(request: { method: string }) {
      return {
        status: 200,
        headers: { 'content-type': 'application/octet-stream' },
        body: request.method === 'GET' ? BYTES : new Uint8Array(),
      }
    },
    async close() {
      gw.closed = true
    },
  }
  return gw
}

async function scenario(gw: VmomiGateway) {
  const out: unknown[] = []
  out.push(await gw.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'DC0/vm' }))
  out.push(
    await gw.call('ListProcessesInGuest', {
      _this: { type: 'GuestProcessManager', value: 'pm' },
      vm: VM,
      auth: AUTH,
    }),
  )
  const from = await gw.call('InitiateFileTransferFromGuest', {
    _this: { type: 'GuestFileManager', value: 'fm' },
    vm: VM,
    auth: AUTH,
    guestFilePath: '/etc/hosts',
  })
  out.push(from)
  out.push(await gw.transfer({ method: 'GET', url: from.url }))
  out.push(await gw.transfer({ method: 'PUT', url: '/folder/x?dsName=LocalDS_0', body: BYTES }))
  out.push(await gw.waitForTask({ type: 'Task', value: 'task-1' }))
  try {
    await gw.call('Destroy_Task', { _this: VM })
  } catch (e) {
    out.push({
      code: (e as PortLayerError).code,
      message: (e as Error).message,
      detail: (e as PortLayerError).detail,
    })
  }
  return out
}

describe('recording and replay (unit)', () => {
  it('replays what was recorded, with dates, bytes and errors intact, and scrubs secrets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmomi-fixture-'))
    try {
      const path = join(dir, 'session.json')
      const inner = scriptedGateway()
      const recorder = createRecordingGateway(inner, { path, secrets: ['vcenter-pw-xyz'] })
      await recorder.call('Login', {
        _this: { type: 'SessionManager', value: 'sm' },
        userName: 'admin',
        password: 'vcenter-pw-xyz',
      })
      const recorded = await scenario(recorder)
      await recorder.close()
      expect(inner.closed).toBe(true)

      const text = await readFile(path, 'utf8')
      for (const secret of ['vcenter-pw-xyz', 'guest-pw-123', 'session-key-abc', 't0k3n'])
        expect(text).not.toContain(secret)
      expect(text).toContain(REDACTED)

      const replay = createReplayGateway(await loadFixture(path), { secrets: ['vcenter-pw-xyz'] })
      expect(replay.serviceContent).toEqual(CONTENT)
      await replay.call('Login', {
        _this: { type: 'SessionManager', value: 'sm' },
        userName: 'admin',
        password: 'vcenter-pw-xyz',
      })
      const replayed = await scenario(replay)
      // The guest transfer URL's token was scrubbed in the fixture, so it replays scrubbed.
      const expected = structuredClone(recorded) as Record<string, unknown>[]
      ;(expected[2] as { url: string }).url = `https://*:443/guestFile?id=1&token=${REDACTED}`
      expect(replayed).toEqual(expected)
      expect((replayed[5] as { completeTime: unknown }).completeTime).toBeInstanceOf(Date)
      expect((replayed[3] as { body: unknown }).body).toEqual(BYTES)
      expect(replay.remaining).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('matches by request by default and refuses what it has not seen', async () => {
    const recorder = createRecordingGateway(scriptedGateway())
    await recorder.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' })
    await recorder.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'b' })
    const replay = createReplayGateway(recorder.fixture())
    await expect(
      replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'b' }),
    ).resolves.toBeDefined()
    await expect(
      replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'c' }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      detail: { replay: 'unmatched' },
    })
    await expect(
      replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' }),
    ).resolves.toBeDefined()
    await expect(
      replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    })
  })

  it('in sequential order checks only the method, so fresh arguments replay', async () => {
    const recorder = createRecordingGateway(scriptedGateway())
    await recorder.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'run-1-uuid' })
    await recorder.waitForTask({ type: 'Task', value: 'task-9' })
    const replay = createReplayGateway(JSON.stringify(recorder.fixture()), { order: 'sequential' })
    await expect(replay.waitForTask({ type: 'Task', value: 'task-9' })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    })
    await expect(
      replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'run-2-uuid' }),
    ).resolves.toEqual({
      type: 'Folder',
      value: 'group-v3',
    })
  })

  it('honours aborts and close', async () => {
    const recorder = createRecordingGateway(scriptedGateway())
    await recorder.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' })
    const replay = createReplayGateway(recorder.fixture())
    const controller = new AbortController()
    controller.abort()
    await expect(
      replay.call(
        'FindByInventoryPath',
        { _this: CONTENT.searchIndex, inventoryPath: 'a' },
        { signal: controller.signal },
      ),
    ).rejects.toMatchObject({ code: 'CANCELLED', outcome: 'not-applied', detail: { aborted: true } })
    await replay.close()
    await expect(
      replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' }),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    })
  })

  it('Symbol.asyncDispose closes like close(): the inner gateway, the fixture file, the replay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portlayer-dispose-'))
    try {
      const inner = scriptedGateway()
      const path = join(dir, 'fixture.json')
      const recorder = createRecordingGateway(inner, { path })
      await recorder.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' })
      await recorder[Symbol.asyncDispose]()
      expect(inner.closed).toBe(true)
      const replay = createReplayGateway(await readFile(path, 'utf8'))
      expect(replay.remaining).toBe(1)
      {
        await using disposable = replay
        expect(
          await disposable.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' }),
        ).toEqual({
          type: 'Folder',
          value: 'group-v3',
        })
      }
      await expect(
        replay.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'a' }),
      ).rejects.toMatchObject({ code: 'UNAVAILABLE', detail: { closed: true } })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('records a call the inner gateway refuses for an unserialisable argument, as a rejection', async () => {
    const inner = scriptedGateway()
    inner.call = (async () => {
      throw new InvalidArgumentError('vSphere: fileAttributes.modificationTime must be a valid Date', {
        backend: 'vsphere',
      })
    }) as typeof inner.call
    const recorder = createRecordingGateway(inner)
    const args = {
      _this: { type: 'GuestFileManager', value: 'fm' },
      vm: VM,
      auth: AUTH,
      guestFilePath: '/tmp/x',
      fileAttributes: { modificationTime: new Date(Number.NaN) },
      fileSize: 1,
      overwrite: true,
    }
    let outcome: Promise<unknown> | undefined
    expect(() => {
      outcome = recorder.call('InitiateFileTransferToGuest', args)
    }).not.toThrow()
    await expect(outcome).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const [entry] = recorder.fixture().entries
    expect(entry).toMatchObject({ kind: 'call', error: { code: 'INVALID_ARGUMENT' } })
    const replayed = createReplayGateway(recorder.fixture()).call('InitiateFileTransferToGuest', args)
    await expect(replayed).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })

  it('rejects documents that are not fixtures', () => {
    expect(() => createReplayGateway('{"entries": []}')).toThrow(PortLayerError)
    expect(() => createReplayGateway('not json')).toThrow(/not valid JSON/)
  })
})

describe('scrub', () => {
  it('redacts secret fields by name, guest authentication whole, sessions, cookies and URL tokens', () => {
    const redactor = new Redactor()
    const value = {
      password: 'p1',
      auth: {
        _type: 'NamePasswordAuthentication',
        interactiveSession: false,
        username: 'root',
        password: 'p2',
      },
      session: { key: 'k1', userName: 'admin', loginTime: new Date(0) },
      headers: { cookie: 'vmware_soap_session="abc"' },
      note: 'see vmware_soap_session=abc; and https://h/guestFile?id=1&token=zzz',
      extraConfig: [{ key: 'guestinfo.portlayer.id', value: 'keep me' }],
    }
    const out = scrub(value, redactor)
    expect(out).toEqual({
      password: REDACTED,
      auth: {
        _type: 'NamePasswordAuthentication',
        interactiveSession: false,
        username: REDACTED,
        password: REDACTED,
      },
      session: { key: REDACTED, userName: REDACTED, loginTime: new Date(0) },
      headers: { cookie: REDACTED },
      note: `see vmware_soap_session=${REDACTED}; and https://h/guestFile?id=1&token=${REDACTED}`,
      extraConfig: [{ key: 'guestinfo.portlayer.id', value: 'keep me' }],
    })
  })

  it('cuts a known secret out of any string, longest first', () => {
    const redactor = new Redactor()
    redactor.add('abc')
    redactor.add('abcdef')
    expect(redactor.text('x abcdef y abc')).toBe(`x ${REDACTED} y ${REDACTED}`)
  })
})
