import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startVcsim, type Vcsim } from '../src/index.js'
import { envelope, login, moref, post, textOf } from './soap.js'

// What a raw SOAP client sees of the emulated guest: the envelopes a gateway must send and the
// answers it must read.
describe('emulated guest on the wire', () => {
  let vc: Vcsim
  let cookie: string
  let vm: string
  let auth: string
  const pm = moref('_this', 'GuestProcessManager', 'guestOperationsProcessManager')
  const fm = moref('_this', 'GuestFileManager', 'guestOperationsFileManager')

  beforeAll(async () => {
    vc = await startVcsim()
    cookie = await login(vc.url, vc.username, vc.password)
    const found = await post(
      vc.url,
      envelope(
        'FindByInventoryPath',
        `${moref('_this', 'SearchIndex', 'SearchIndex')}<inventoryPath>DC0/vm/DC0_H0_VM0</inventoryPath>`,
      ),
      cookie,
    )
    vm = textOf(found.body, 'returnval') as string
    auth = `${moref('vm', 'VirtualMachine', vm)}<auth xsi:type="NamePasswordAuthentication"><interactiveSession>false</interactiveSession><username>${vc.guest.username}</username><password>${vc.guest.password}</password></auth>`
  }, 300_000)
  afterAll(() => vc?.stop())

  it('runs a program and lists it with exitCode 0 present', async () => {
    const started = await post(
      vc.url,
      envelope(
        'StartProgramInGuest',
        `${pm}${auth}<spec><programPath>/bin/true</programPath><arguments></arguments></spec>`,
      ),
      cookie,
    )
    expect(started.status).toBe(200)
    const pid = textOf(started.body, 'returnval') as string
    expect(Number(pid)).toBeGreaterThan(0)
    const listed = await post(
      vc.url,
      envelope('ListProcessesInGuest', `${pm}${auth}<pids>${pid}</pids>`),
      cookie,
    )
    expect(textOf(listed.body, 'pid')).toBe(pid)
    expect(textOf(listed.body, 'name')).toBe('true')
    expect(textOf(listed.body, 'exitCode')).toBe('0')
    expect(textOf(listed.body, 'endTime')).toMatch(/^\d{4}-\d\d-\d\dT/)
  })

  it('moves a file in and out through one-shot URLs on the SDK server with * as host', async () => {
    const data = new TextEncoder().encode('hello guest\n')
    const initiated = await post(
      vc.url,
      envelope(
        'InitiateFileTransferToGuest',
        `${fm}${auth}<guestFilePath>/tmp/hello</guestFilePath><fileAttributes xsi:type="GuestPosixFileAttributes"><permissions>493</permissions></fileAttributes><fileSize>${data.length}</fileSize><overwrite>true</overwrite>`,
      ),
      cookie,
    )
    const putUrl = (textOf(initiated.body, 'returnval') as string).replaceAll('&amp;', '&')
    const port = new URL(vc.url).port
    expect(putUrl).toMatch(new RegExp(`^http://\\*:${port}/guestFile\\?id=\\d+&token=[0-9a-f]+$`))
    const host = new URL(vc.url).hostname
    expect((await fetch(putUrl.replace('*', host), { method: 'PUT', body: data })).status).toBe(200)

    const from = await post(
      vc.url,
      envelope('InitiateFileTransferFromGuest', `${fm}${auth}<guestFilePath>/tmp/hello</guestFilePath>`),
      cookie,
    )
    // vcsim's encoder names the instance namespace XMLSchema-instance rather than xsi.
    expect(from.body).toMatch(/(xsi|XMLSchema-instance):type="GuestPosixFileAttributes"/)
    expect(textOf(from.body, 'permissions')).toBe('493')
    expect(textOf(from.body, 'size')).toBe(String(data.length))
    const getUrl = (textOf(from.body, 'url') as string).replaceAll('&amp;', '&').replace('*', host)
    const got = await fetch(getUrl)
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(data)
    expect((await fetch(getUrl)).status).toBe(404)
  })
})
