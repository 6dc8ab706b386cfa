import { InvalidArgumentError } from '@portlayer/contracts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startVcsim, type Vcsim } from '../src/index.js'
import { envelope, faultOf, login, moref, post, textOf } from './soap.js'

const CURRENT_TIME = envelope('CurrentTime', moref('_this', 'ServiceInstance', 'ServiceInstance'))

function findVm(path: string): string {
  return envelope(
    'FindByInventoryPath',
    `${moref('_this', 'SearchIndex', 'SearchIndex')}<inventoryPath>${path}</inventoryPath>`,
  )
}

function powerState(vm: string): string {
  return envelope(
    'RetrievePropertiesEx',
    `${moref('_this', 'PropertyCollector', 'propertyCollector')}<specSet><propSet><type>VirtualMachine</type><pathSet>runtime.powerState</pathSet></propSet><objectSet>${moref('obj', 'VirtualMachine', vm)}</objectSet></specSet><options></options>`,
  )
}

describe('vc.admin fault injection', () => {
  let vc: Vcsim
  let cookie: string
  beforeAll(async () => {
    vc = await startVcsim()
    cookie = await login(vc.url, vc.username, vc.password)
  }, 300_000)
  afterEach(() => vc.admin.reset())
  afterAll(() => vc?.stop())

  it('failNext: the next N calls of a method fail with the named fault', async () => {
    await vc.admin.failNext('CurrentTime', 'NotAuthenticated', 2)
    for (let i = 0; i < 2; i++) {
      const res = await post(vc.url, CURRENT_TIME, cookie)
      expect(res.status).toBe(500)
      expect(faultOf(res.body)).toBe('NotAuthenticated')
    }
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
  })

  it('delay: every call of a method waits', async () => {
    await vc.admin.delay('CurrentTime', 250)
    const began = Date.now()
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
    expect(Date.now() - began).toBeGreaterThanOrEqual(240)
  })

  it('dropResponse: the call is applied but the client gets no answer', async () => {
    const found = await post(vc.url, findVm('DC0/vm/DC0_H0_VM0'), cookie)
    const vm = textOf(found.body, 'returnval') as string
    expect(vm).toMatch(/^vm-/)
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOn')
    await vc.admin.dropResponse('PowerOffVM_Task')
    const off = envelope('PowerOffVM_Task', moref('_this', 'VirtualMachine', vm))
    await expect(post(vc.url, off, cookie)).rejects.toThrow()
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOff')
    const on = await post(vc.url, envelope('PowerOnVM_Task', moref('_this', 'VirtualMachine', vm)), cookie)
    expect(on.status).toBe(200)
  })

  it('expireSessions: the next call of an old session fails with NotAuthenticated', async () => {
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
    await vc.admin.expireSessions()
    const res = await post(vc.url, CURRENT_TIME, cookie)
    expect(faultOf(res.body)).toBe('NotAuthenticated')
    cookie = await login(vc.url, vc.username, vc.password)
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
  })

  it('reset clears pending faults; calls() counts calls by method', async () => {
    await vc.admin.failNext('CurrentTime', 'InvalidState')
    await vc.admin.reset()
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
    expect(await vc.admin.calls()).toEqual({ CurrentTime: 2 })
  })

  it('rejects unknown faults and bad counts as INVALID_ARGUMENT', async () => {
    await expect(vc.admin.failNext('CurrentTime', 'NoSuchFault')).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(vc.admin.failNext('CurrentTime', 'InvalidState', 0)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    await expect(vc.admin.delay('CurrentTime', -1)).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})
