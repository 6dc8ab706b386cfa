import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PortLayerError } from '@portlayer/contracts'
import type { MoRef, VmomiGateway } from '@portlayer/contracts/vmomi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRecordingGateway, createReplayGateway, loadFixture } from '../../src/index.js'
import { find, guestManagers, property } from '../support/inventory.js'
import { connect, DATASTORE_QUERY, useVcsim } from '../support/vcsim.js'

/** A small but varied session: inventory, tasks, properties, faults, guest and datastore files. */
async function scenario(gw: VmomiGateway, guest: { username: string; password: string }) {
  const out: Record<string, unknown> = {}
  const outcome = async (name: string, fn: () => Promise<unknown>) => {
    try {
      out[name] = await fn()
    } catch (e) {
      if (!PortLayerError.isInstance(e)) throw e
      out[name] = { code: e.code, message: e.message, detail: e.detail }
    }
  }
  const [folder, pool] = [await find(gw, 'DC0/vm'), await find(gw, 'DC0/host/DC0_C0/Resources')]
  out.folder = folder
  const create = await gw.call('CreateVM_Task', {
    _this: folder,
    config: {
      name: 'record-replay',
      guestId: 'otherGuest',
      memoryMB: 32,
      files: { vmPathName: '[LocalDS_0]' },
      extraConfig: [{ key: 'guestinfo.portlayer.id', value: 'rr-1' }],
    },
    pool,
  })
  const created = await gw.waitForTask(create)
  out.created = created
  const vm = created.result as MoRef
  const version = (await property(gw, vm, 'config.changeVersion')) as string
  await gw.waitForTask(
    await gw.call('ReconfigVM_Task', {
      _this: vm,
      spec: {
        changeVersion: version,
        cpuAllocation: { limit: 500 },
        extraConfig: [{ key: 'guestinfo.portlayer.name', value: 'rr' }],
      },
    }),
  )
  out.properties = await gw.call('RetrievePropertiesEx', {
    _this: gw.serviceContent.propertyCollector,
    specSet: [
      {
        propSet: [
          {
            type: 'VirtualMachine',
            pathSet: ['name', 'config.extraConfig', 'config.cpuAllocation', 'runtime.powerState'],
          },
        ],
        objectSet: [{ obj: vm }],
      },
    ],
    options: {},
  })
  await outcome('stale', async () =>
    gw.waitForTask(
      await gw.call('ReconfigVM_Task', { _this: vm, spec: { changeVersion: version, memoryMB: 64 } }),
    ),
  )
  await outcome('bogus', () =>
    gw.call('Destroy_Task', { _this: { type: 'VirtualMachine', value: 'vm-bogus' } }),
  )
  await gw.waitForTask(await gw.call('PowerOnVM_Task', { _this: vm }))
  const managers = await guestManagers(gw)
  const auth = { _type: 'NamePasswordAuthentication', interactiveSession: false, ...guest } as const
  const data = new TextEncoder().encode('recorded bytes')
  const putUrl = await gw.call('InitiateFileTransferToGuest', {
    _this: managers.files,
    vm,
    auth,
    guestFilePath: '/tmp/rr.txt',
    fileAttributes: {},
    fileSize: data.byteLength,
    overwrite: true,
  })
  await gw.transfer({ method: 'PUT', url: putUrl, body: data })
  const from = await gw.call('InitiateFileTransferFromGuest', {
    _this: managers.files,
    vm,
    auth,
    guestFilePath: '/tmp/rr.txt',
  })
  out.guestFile = { size: from.size, body: (await gw.transfer({ method: 'GET', url: from.url })).body }
  await outcome('destroyRunning', async () => gw.waitForTask(await gw.call('Destroy_Task', { _this: vm })))
  const dsUrl = `/folder/record-replay.txt?${DATASTORE_QUERY}`
  await gw.transfer({ method: 'PUT', url: dsUrl, body: data })
  out.datastoreFile = (await gw.transfer({ method: 'GET', url: dsUrl })).body
  await gw.waitForTask(await gw.call('PowerOffVM_Task', { _this: vm }))
  await gw.waitForTask(await gw.call('Destroy_Task', { _this: vm }))
  return out
}

describe('record → replay against the harness', () => {
  const vcsim = useVcsim()
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmomi-record-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('replays a recorded session with the same results, and the fixture holds no secret', async () => {
    const vc = vcsim()
    const path = join(dir, 'session.json')
    const recorder = createRecordingGateway(await connect(vc), { path, secrets: [vc.password] })
    const live = await scenario(recorder, vc.guest)
    await recorder.close()

    expect((live.stale as { code: string }).code).toBe('CONFLICT')
    expect((live.bogus as { code: string }).code).toBe('NOT_FOUND')
    expect((live.destroyRunning as { code: string }).code).toBe('INVALID_STATE')
    expect(live.datastoreFile).toEqual(new TextEncoder().encode('recorded bytes'))

    const text = await readFile(path, 'utf8')
    for (const secret of [vc.password, vc.guest.password]) expect(text).not.toContain(secret)
    expect(text).not.toMatch(/vmware_soap_session=(?!<redacted>)/)
    const fixture = await loadFixture(path)
    const auth = fixture.entries.find((e) => e.kind === 'call' && e.method === 'InitiateFileTransferToGuest')
    expect((auth as { args: { auth: unknown } }).args.auth).toEqual({
      _type: 'NamePasswordAuthentication',
      interactiveSession: false,
      username: '<redacted>',
      password: '<redacted>',
    })
    // Guest transfer URLs carry one-time tokens: scrubbed as well.
    expect(text).not.toMatch(/token=(?!<redacted>)[0-9a-f]+/)

    const replay = createReplayGateway(fixture, { secrets: [vc.password] })
    const replayed = await scenario(replay, vc.guest)
    expect(replayed).toEqual(live)
    expect(replay.remaining).toBe(0)
    await replay.close()
  })
})
