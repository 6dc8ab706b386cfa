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

function readProperty(type: string, obj: string, ...paths: string[]): string {
  return envelope(
    'RetrievePropertiesEx',
    `${moref('_this', 'PropertyCollector', 'propertyCollector')}<specSet><propSet><type>${type}</type>${paths.map((p) => `<pathSet>${p}</pathSet>`).join('')}</propSet><objectSet>${moref('obj', type, obj)}</objectSet></specSet><options></options>`,
  )
}

function powerState(vm: string): string {
  return readProperty('VirtualMachine', vm, 'runtime.powerState')
}

function createVm(folder: string, pool: string, name: string): string {
  return envelope(
    'CreateVM_Task',
    `${moref('_this', 'Folder', folder)}<config><name>${name}</name><guestId>otherGuest</guestId><files><vmPathName>[LocalDS_0]</vmPathName></files></config>${moref('pool', 'ResourcePool', pool)}`,
  )
}

/** The `returnval` of a successful call. */
function returnval(res: { status: number; body: string }): string {
  expect(res.status, res.body).toBe(200)
  const value = textOf(res.body, 'returnval')
  expect(value).toBeTruthy()
  return value as string
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

  it('failTask: the call succeeds with a task that failed with the fault, and nothing changes', async () => {
    const vm = returnval(await post(vc.url, findVm('DC0/vm/DC0_H0_VM0'), cookie))
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOn')
    const off = envelope('PowerOffVM_Task', moref('_this', 'VirtualMachine', vm))
    for (const fault of ['NotAuthenticated', 'ConcurrentAccess', 'InvalidPowerState', 'HostCommunication']) {
      await vc.admin.failTask('PowerOffVM_Task', fault)
      const task = returnval(await post(vc.url, off, cookie))
      const info = await post(vc.url, readProperty('Task', task, 'info.state', 'info.error'), cookie)
      expect(info.body).toContain('>error<')
      expect(info.body).toMatch(new RegExp(`:type="${fault}"`))
      expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOn')
    }
    // The next call is served again.
    const task = returnval(await post(vc.url, off, cookie))
    expect((await post(vc.url, readProperty('Task', task, 'info.state'), cookie)).body).toContain('>success<')
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOff')
    returnval(await post(vc.url, envelope('PowerOnVM_Task', moref('_this', 'VirtualMachine', vm)), cookie))
  })

  it('a second VM of one name in a folder fails its task with DuplicateName naming the VM that has it', async () => {
    const folder = returnval(
      await post(
        vc.url,
        envelope(
          'FindByInventoryPath',
          `${moref('_this', 'SearchIndex', 'SearchIndex')}<inventoryPath>DC0/vm</inventoryPath>`,
        ),
        cookie,
      ),
    )
    const pool = returnval(
      await post(
        vc.url,
        envelope(
          'FindByInventoryPath',
          `${moref('_this', 'SearchIndex', 'SearchIndex')}<inventoryPath>DC0/host/DC0_C0/Resources</inventoryPath>`,
        ),
        cookie,
      ),
    )
    const name = `dup-${Date.now()}`
    const first = returnval(await post(vc.url, createVm(folder, pool, name), cookie))
    const made = textOf((await post(vc.url, readProperty('Task', first, 'info.result'), cookie)).body, 'val')
    expect(made).toMatch(/^vm-/)
    const second = returnval(await post(vc.url, createVm(folder, pool, name), cookie))
    const info = (await post(vc.url, readProperty('Task', second, 'info.state', 'info.error'), cookie)).body
    expect(info).toContain('>error<')
    expect(info).toMatch(/:type="DuplicateName"/)
    const fault = info.slice(info.indexOf(':type="DuplicateName"'))
    expect(textOf(fault, 'name')).toBe(name)
    expect(textOf(fault, 'object')).toBe(made)
  })

  it('delayResponse: the call is applied at once, its answer comes ms later', async () => {
    const vm = returnval(await post(vc.url, findVm('DC0/vm/DC0_H0_VM0'), cookie))
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOn')
    await vc.admin.delayResponse('PowerOffVM_Task', 1500)
    const off = envelope('PowerOffVM_Task', moref('_this', 'VirtualMachine', vm))
    const began = Date.now()
    await expect(
      fetch(vc.url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: 'urn:vim25/6.5', cookie },
        body: off,
        signal: AbortSignal.timeout(150),
      }),
    ).rejects.toThrow()
    // The client gave up, but the change has landed — long before the answer was due.
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOff')
    expect(Date.now() - began).toBeLessThan(1200)
    // A patient client gets the answer late; count holds back that many calls.
    const on = envelope('PowerOnVM_Task', moref('_this', 'VirtualMachine', vm))
    await vc.admin.delayResponse('PowerOnVM_Task', 300, 1)
    const late = Date.now()
    returnval(await post(vc.url, on, cookie))
    expect(Date.now() - late).toBeGreaterThanOrEqual(290)
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOn')
  })

  it('expireSessions: the next call of an old session fails with NotAuthenticated', async () => {
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
    await vc.admin.expireSessions()
    const res = await post(vc.url, CURRENT_TIME, cookie)
    expect(faultOf(res.body)).toBe('NotAuthenticated')
    cookie = await login(vc.url, vc.username, vc.password)
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
  })

  it('expireSessions: property reads answer with missingSet NotAuthenticated by default, or a fault', async () => {
    const vm = returnval(await post(vc.url, findVm('DC0/vm/DC0_H0_VM0'), cookie))
    await vc.admin.expireSessions()
    const read = await post(vc.url, powerState(vm), cookie)
    expect(read.status).toBe(200)
    expect(read.body).toContain('<missingSet>')
    expect(read.body).toMatch(/:type="NotAuthenticated"/)
    expect(textOf(read.body, 'path')).toBe('runtime.powerState')
    expect(read.body).not.toContain('<propSet>')
    expect(faultOf((await post(vc.url, CURRENT_TIME, cookie)).body)).toBe('NotAuthenticated')

    cookie = await login(vc.url, vc.username, vc.password)
    expect(textOf((await post(vc.url, powerState(vm), cookie)).body, 'val')).toBe('poweredOn')
    await vc.admin.expireSessions({ readsAs: 'fault' })
    const refused = await post(vc.url, powerState(vm), cookie)
    expect(refused.status).toBe(500)
    expect(faultOf(refused.body)).toBe('NotAuthenticated')
    cookie = await login(vc.url, vc.username, vc.password)
  })

  it('reset clears pending faults; calls() counts calls by method', async () => {
    await vc.admin.failNext('CurrentTime', 'InvalidState')
    await vc.admin.delayResponse('CurrentTime', 5000)
    await vc.admin.failTask('PowerOffVM_Task', 'HostCommunication')
    await vc.admin.reset()
    const began = Date.now()
    expect((await post(vc.url, CURRENT_TIME, cookie)).status).toBe(200)
    expect(Date.now() - began).toBeLessThan(2000)
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

  it('validates the arguments of every call: any value gives INVALID_ARGUMENT, never a TypeError', async () => {
    const nullProto = Object.create(null) as object
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('trap')
        },
      },
    )
    const hostile: unknown[] = [
      undefined,
      null,
      '',
      'x'.repeat(10_000_000),
      Symbol('m'),
      1n,
      nullProto,
      throwing,
      3.5,
    ]
    const admin = vc.admin as unknown as Record<string, (...args: unknown[]) => Promise<void>>
    const calls: Array<(v: unknown) => Promise<void>> = [
      (v) => admin.failTask?.(v, 'NotAuthenticated') as Promise<void>,
      (v) => admin.failTask?.('PowerOnVM_Task', v) as Promise<void>,
      (v) => admin.failTask?.('PowerOnVM_Task', 'NotAuthenticated', v ?? 0) as Promise<void>,
      (v) => admin.delayResponse?.(v, 10) as Promise<void>,
      (v) => admin.delayResponse?.('PowerOnVM_Task', v) as Promise<void>,
      (v) => admin.delayResponse?.('PowerOnVM_Task', 10, v ?? -1) as Promise<void>,
      (v) => admin.failNext?.(v, 'NotAuthenticated') as Promise<void>,
      (v) => admin.dropResponse?.(v) as Promise<void>,
      (v) => admin.delay?.('CurrentTime', v) as Promise<void>,
      // An empty options object is valid; a null-prototype one is read like any other.
      (v) =>
        admin.expireSessions?.(
          v === nullProto
            ? Object.assign(Object.create(null), { readsAs: 'x' })
            : (v ?? { readsAs: 'sometimes' }),
        ) as Promise<void>,
      (v) => admin.expireSessions?.({ readsAs: v ?? 'never' }) as Promise<void>,
    ]
    for (const call of calls) {
      for (const value of hostile) {
        const error = await call(value).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error, `${call} with ${typeof value}`).toBeInstanceOf(InvalidArgumentError)
        expect((error as Error).message.length).toBeLessThanOrEqual(1000)
      }
    }
    await expect(vc.admin.failTask('CurrentTime', 'NotAuthenticated')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    await expect(vc.admin.failTask('PowerOnVM_Task', 'NoSuchFault')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    await expect(vc.admin.delayResponse('PowerOnVM_Task', 0)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(vc.admin.delayResponse('PowerOnVM_Task', 600_001)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    // Nothing of it was queued.
    expect(await vc.admin.calls()).toEqual({})
  })
})
