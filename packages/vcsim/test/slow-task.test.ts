import { InvalidArgumentError } from '@portlayer/contracts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startVcsim, type Vcsim } from '../src/index.js'
import { envelope, faultOf, login, moref, post, textOf } from './soap.js'

// Raw SOAP, like the other tests of this package: @portlayer/vmomi-soap depends on this package
// for its own tests, so this one cannot import the gateway without a cycle.

const PC = moref('_this', 'PropertyCollector', 'propertyCollector')

function readProperty(type: string, obj: string, ...paths: string[]): string {
  return envelope(
    'RetrievePropertiesEx',
    `${PC}<specSet><propSet><type>${type}</type>${paths.map((p) => `<pathSet>${p}</pathSet>`).join('')}</propSet><objectSet>${moref('obj', type, obj)}</objectSet></specSet><options></options>`,
  )
}

function findByPath(path: string): string {
  return envelope(
    'FindByInventoryPath',
    `${moref('_this', 'SearchIndex', 'SearchIndex')}<inventoryPath>${path}</inventoryPath>`,
  )
}

const powerOn = (vm: string) => envelope('PowerOnVM_Task', moref('_this', 'VirtualMachine', vm))
const cancelTask = (task: string) => envelope('CancelTask', moref('_this', 'Task', task))

/** The `returnval` of a successful call. */
function returnval(res: { status: number; body: string }): string {
  expect(res.status, res.body).toBe(200)
  const value = textOf(res.body, 'returnval')
  expect(value).toBeTruthy()
  return value as string
}

describe('vc.admin.slowTask: tasks that run for a while, as on vCenter', () => {
  let vc: Vcsim
  let cookie: string
  let folder: string
  let pool: string
  let made = 0

  const call = (body: string) => post(vc.url, body, cookie)
  const taskInfo = async (task: string, ...paths: string[]) =>
    (await call(readProperty('Task', task, ...paths))).body
  const taskState = async (task: string) => textOf(await taskInfo(task, 'info.state'), 'val')
  const powerState = async (vm: string) =>
    textOf((await call(readProperty('VirtualMachine', vm, 'runtime.powerState'))).body, 'val')

  /** Reads the task until it is no longer running (the harness finishes it on its own). */
  const settled = async (task: string) => {
    for (let i = 0; i < 200; i++) {
      const state = await taskState(task)
      if (state !== 'running') return state
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`task ${task} is still running`)
  }

  const createVm = async () => {
    const name = `slow-task-${process.pid}-${++made}`
    const task = returnval(
      await call(
        envelope(
          'CreateVM_Task',
          `${moref('_this', 'Folder', folder)}<config><name>${name}</name><guestId>otherGuest</guestId><files><vmPathName>[LocalDS_0]</vmPathName></files></config>${moref('pool', 'ResourcePool', pool)}`,
        ),
      ),
    )
    expect(await taskState(task)).toBe('success')
    return textOf(await taskInfo(task, 'info.result'), 'val') as string
  }

  beforeAll(async () => {
    vc = await startVcsim()
    cookie = await login(vc.url, vc.username, vc.password)
    folder = returnval(await call(findByPath('DC0/vm')))
    pool = returnval(await call(findByPath('DC0/host/DC0_C0/Resources')))
  }, 300_000)
  afterEach(() => vc.admin.reset())
  afterAll(() => vc?.stop())

  it('answers with a running task and applies the call ms later', async () => {
    const vm = await createVm()
    await vc.admin.slowTask('PowerOnVM_Task', 300)
    const task = returnval(await call(powerOn(vm)))
    const info = await taskInfo(task, 'info.state', 'info.name', 'info.entity', 'info.cancelable')
    expect(info).toContain('>running<')
    expect(info).toContain('>PowerOnVM_Task<')
    expect(info).toContain(`>${vm}<`)
    expect(await powerState(vm)).toBe('poweredOff')

    expect(await settled(task)).toBe('success')
    expect(await powerState(vm)).toBe('poweredOn')
    expect((await vc.admin.calls()).PowerOnVM_Task).toBe(1)
    // count defaults to 1: the next call's task has ended when it answers.
    const off = returnval(await call(envelope('PowerOffVM_Task', moref('_this', 'VirtualMachine', vm))))
    expect(await taskState(off)).toBe('success')
  })

  it('a slowed call that fails ends its task in error with the fault', async () => {
    const vm = await createVm()
    expect(await settled(returnval(await call(powerOn(vm))))).toBe('success')
    await vc.admin.slowTask('PowerOnVM_Task', 200)
    const task = returnval(await call(powerOn(vm)))
    expect(await taskState(task)).toBe('running')
    expect(await settled(task)).toBe('error')
    expect(await taskInfo(task, 'info.error')).toMatch(/:type="InvalidPowerState"/)
  })

  it('CancelTask before the call is applied: RequestCanceled, and the call never lands', async () => {
    const vm = await createVm()
    await vc.admin.slowTask('PowerOnVM_Task', 300)
    const task = returnval(await call(powerOn(vm)))
    const cancelled = await call(cancelTask(task))
    expect(cancelled.status, cancelled.body).toBe(200)
    const info = await taskInfo(task, 'info.state', 'info.error', 'info.cancelled')
    expect(info).toContain('>error<')
    expect(info).toMatch(/:type="RequestCanceled"/)
    expect(textOf(info.slice(info.indexOf('info.cancelled')), 'val')).toBe('true')
    // Past the time the call would have been applied, it still has not been.
    await new Promise((r) => setTimeout(r, 600))
    expect(await powerState(vm)).toBe('poweredOff')
    expect(await taskState(task)).toBe('error')
    // An ended task fails CancelTask as vcsim's own tasks do.
    const again = await call(cancelTask(task))
    expect(again.status).toBe(500)
    expect(faultOf(again.body)).toBe('MethodNotFound')
  })

  it('a property collector filter (CreateFilter + WaitForUpdatesEx) sees the task go running → success', async () => {
    const vm = await createVm()
    await vc.admin.slowTask('PowerOnVM_Task', 400)
    const task = returnval(await call(powerOn(vm)))
    const collector = returnval(await call(envelope('CreatePropertyCollector', PC)))
    const own = moref('_this', 'PropertyCollector', collector)
    returnval(
      await call(
        envelope(
          'CreateFilter',
          `${own}<spec><propSet><type>Task</type><pathSet>info.state</pathSet></propSet><objectSet>${moref('obj', 'Task', task)}</objectSet></spec><partialUpdates>false</partialUpdates>`,
        ),
      ),
    )
    const seen: string[] = []
    let version = ''
    while (seen.at(-1) !== 'success') {
      expect(seen.length).toBeLessThan(3)
      const res = await call(
        envelope(
          'WaitForUpdatesEx',
          `${own}${version ? `<version>${version}</version>` : ''}<options><maxWaitSeconds>10</maxWaitSeconds></options>`,
        ),
      )
      expect(res.status, res.body).toBe(200)
      version = textOf(res.body, 'version') ?? version
      const state = textOf(res.body, 'val')
      if (state) seen.push(state)
    }
    expect(seen).toEqual(['running', 'success'])
    expect(await powerState(vm)).toBe('poweredOn')
    await call(envelope('DestroyPropertyCollector', own))
  })

  it('validates its arguments: INVALID_ARGUMENT, never a TypeError, and nothing is queued', async () => {
    const hostile: unknown[] = [undefined, null, '', 'x'.repeat(100_000), Symbol('m'), 1n, {}, 3.5]
    const admin = vc.admin as unknown as Record<string, (...args: unknown[]) => Promise<void>>
    const calls: Array<(v: unknown) => Promise<void>> = [
      (v) => admin.slowTask?.(v, 10) as Promise<void>,
      (v) => admin.slowTask?.('PowerOnVM_Task', v) as Promise<void>,
      (v) => admin.slowTask?.('PowerOnVM_Task', 10, v ?? 0) as Promise<void>,
    ]
    for (const slow of calls) {
      for (const value of hostile) {
        const error = await slow(value).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error, `${slow} with ${typeof value}`).toBeInstanceOf(InvalidArgumentError)
      }
    }
    for (const [method, ms] of [
      ['CurrentTime', 10],
      ['NoSuchMethod_Task', 10],
      ['PowerOnVM_Task', 0],
      ['PowerOnVM_Task', 600_001],
    ] as const) {
      await expect(vc.admin.slowTask(method, ms)).rejects.toBeInstanceOf(InvalidArgumentError)
    }
    await expect(vc.admin.slowTask('PowerOnVM_Task', 10, -1)).rejects.toBeInstanceOf(InvalidArgumentError)
    // Nothing of it was queued: the next power-on's task has ended when it answers.
    const vm = await createVm()
    expect(await taskState(returnval(await call(powerOn(vm))))).toBe('success')
  })
})
