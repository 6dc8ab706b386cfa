import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import type { MoRef, NamePasswordAuthentication } from '@portlayer/contracts/vmomi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { createVm, guestManagers, run } from '../support/inventory.js'
import { connect, DATASTORE_QUERY, useVcsim } from '../support/vcsim.js'

describe('HTTP transfers', () => {
  const vcsim = useVcsim()
  let gw: SoapGateway
  let vm: MoRef
  let managers: { files: MoRef; processes: MoRef }
  let auth: NamePasswordAuthentication
  beforeAll(async () => {
    gw = await connect(vcsim())
    vm = await createVm(gw, 'transfers-guest')
    await run(gw, gw.call('PowerOnVM_Task', { _this: vm }))
    managers = await guestManagers(gw)
    auth = { _type: 'NamePasswordAuthentication', interactiveSession: false, ...vcsim().guest }
  })
  afterAll(async () => {
    await gw.close()
  })

  it('round-trips a file through the datastore /folder endpoint', async () => {
    const url = `/folder/transfers/round-trip.bin?${DATASTORE_QUERY}`
    const data = new Uint8Array(randomBytes(64 * 1024))
    const put = await gw.transfer({ method: 'PUT', url, body: data })
    expect(put.status).toBeGreaterThanOrEqual(200)
    expect(put.status).toBeLessThan(300)
    const got = await gw.transfer({ method: 'GET', url })
    expect(got.status).toBe(200)
    expect(got.body).toEqual(data)
    expect(got.headers['set-cookie']).toBeUndefined()
    const head = await gw.transfer({ method: 'HEAD', url })
    expect(head.body).toHaveLength(0)
    // The harness deletes the file, as vCenter does (vcsim alone kept it).
    expect((await gw.transfer({ method: 'DELETE', url })).status).toBe(200)
    await expect(gw.transfer({ method: 'GET', url })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(
      gw.transfer({ method: 'GET', url: `/folder/transfers/never-written?${DATASTORE_QUERY}` }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      detail: { httpStatus: 404 },
    })
  })

  it('refuses malformed requests before sending them', async () => {
    const before = gw.stats().transfers
    await expect(gw.transfer({ method: 'POST' as never, url: '/folder/x' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await expect(
      gw.transfer({ method: 'GET', url: '/folder/x', body: new Uint8Array(1) }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await expect(gw.transfer({ method: 'GET', url: 'gopher://x/' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await expect(
      gw.transfer({ method: 'GET', url: '/folder/x', headers: { Cookie: 'a=b' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(gw.stats().transfers).toBe(before + 4)
  })

  it('round-trips a file through the guest (InitiateFileTransferToGuest / FromGuest)', async () => {
    const data = new TextEncoder().encode(`hello from the gateway ${Date.now()}\n`)
    await gw.call('MakeDirectoryInGuest', {
      _this: managers.files,
      vm,
      auth,
      directoryPath: '/tmp/gateway',
      createParentDirectories: true,
    })
    const putUrl = await gw.call('InitiateFileTransferToGuest', {
      _this: managers.files,
      vm,
      auth,
      guestFilePath: '/tmp/gateway/hello.txt',
      fileAttributes: { _type: 'GuestPosixFileAttributes', permissions: 0o640 },
      fileSize: data.byteLength,
      overwrite: true,
    })
    expect(typeof putUrl).toBe('string')
    await gw.transfer({ method: 'PUT', url: putUrl, body: data })

    const info = await gw.call('InitiateFileTransferFromGuest', {
      _this: managers.files,
      vm,
      auth,
      guestFilePath: '/tmp/gateway/hello.txt',
    })
    expect(info.size).toBe(data.byteLength)
    expect(info.attributes).toMatchObject({ _type: 'GuestPosixFileAttributes' })
    expect((info.attributes as { permissions?: number }).permissions).toBe(0o640)
    const got = await gw.transfer({ method: 'GET', url: info.url })
    expect(got.body).toEqual(data)
  })

  it('refuses wrong guest credentials with InvalidGuestLogin, without echoing them', async () => {
    const password = `wrong-${vcsim().guest.password}`
    const error = await gw
      .call('InitiateFileTransferFromGuest', {
        _this: managers.files,
        vm,
        auth: { ...auth, password },
        guestFilePath: '/etc/hosts',
      })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', detail: { fault: 'InvalidGuestLogin' } })
    expect(inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })).not.toContain(password)
  })

  it('reports a missing guest file as NOT_FOUND', async () => {
    await expect(
      gw.call('InitiateFileTransferFromGuest', {
        _this: managers.files,
        vm,
        auth,
        guestFilePath: '/no/such/file',
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', detail: { fault: 'FileNotFound' } })
  })

  it('runs a guest program and lists it with normalised values', async () => {
    const pid = await gw.call('StartProgramInGuest', {
      _this: managers.processes,
      vm,
      auth,
      spec: { programPath: '/bin/sh', arguments: '-c "exit 3"', workingDirectory: '/tmp' },
    })
    expect(typeof pid).toBe('number')
    let listed: Awaited<ReturnType<typeof gw.call<'ListProcessesInGuest'>>> = []
    for (let i = 0; i < 50; i++) {
      listed = await gw.call('ListProcessesInGuest', { _this: managers.processes, vm, auth, pids: [pid] })
      if (listed[0]?.endTime) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(Array.isArray(listed)).toBe(true)
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ pid, exitCode: 3 })
    expect(listed[0]?.startTime).toBeInstanceOf(Date)
    expect(listed[0]?.endTime).toBeInstanceOf(Date)
  })
})
