import { NotFoundError, PortLayerError } from '@portlayer/contracts'
import type {
  HttpTransferRequest,
  MoRef,
  ServiceContent,
  VimArgs,
  VimMethodName,
  VmomiCallOptions,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { describe, expect, it } from 'vitest'
import { createRecordingGateway, createReplayGateway, ForwardingGateway } from '../src/index.js'

const CONTENT = {
  rootFolder: { type: 'Folder', value: 'group-d1' },
  propertyCollector: { type: 'PropertyCollector', value: 'propertyCollector' },
  sessionManager: { type: 'SessionManager', value: 'SessionManager' },
  searchIndex: { type: 'SearchIndex', value: 'SearchIndex' },
  about: { name: 'n', fullName: 'f', version: '6.5', apiVersion: '6.5', apiType: 'VirtualCenter' },
} as unknown as ServiceContent
const VM: MoRef = { type: 'VirtualMachine', value: 'vm-1' }
const TASK: MoRef = { type: 'Task', value: 'task-1' }

type Seen = { method: string; args: unknown[] }

/** An in-memory gateway that notes what reaches it. */
function fakeGateway(): Omit<VmomiGateway, 'serviceContent'> & {
  serviceContent: ServiceContent
  seen: Seen[]
} {
  const seen: Seen[] = []
  return {
    seen,
    serviceContent: CONTENT,
    async call(method, ...args) {
      seen.push({ method, args })
      if (method === 'Destroy_Task') {
        throw new NotFoundError('vSphere Destroy_Task failed with ManagedObjectNotFound', {
          backend: 'vsphere',
          detail: { fault: 'ManagedObjectNotFound' },
        })
      }
      return { type: 'Folder', value: 'group-v3' } as never
    },
    async waitForTask(task, ...args) {
      seen.push({ method: 'waitForTask', args: [task, ...args] })
      return { key: task.value, task, state: 'success' } as never
    },
    async transfer(request, ...args) {
      seen.push({ method: 'transfer', args: [request, ...args] })
      return { status: 200, headers: {}, body: new Uint8Array([7]) }
    },
    async close() {
      seen.push({ method: 'close', args: [] })
    },
  }
}

// The README's logging wrapper, as written there.
class LoggingGateway extends ForwardingGateway {
  readonly #log: (line: string) => void

  constructor(inner: VmomiGateway, log: (line: string) => void) {
    super(inner)
    this.#log = log
  }

  // Only the method name and the outcome: arguments can hold passwords (Login, guest auth).
  override async call<M extends VimMethodName>(method: M, args: VimArgs<M>, options?: VmomiCallOptions) {
    try {
      const result = await super.call(method, args, options)
      this.#log(`${method} ok`)
      return result
    } catch (error) {
      this.#log(`${method} failed: ${PortLayerError.isInstance(error) ? error.code : 'error'}`)
      throw error
    }
  }
}

describe('ForwardingGateway', () => {
  it('forwards every member, with the same arguments, results and errors', async () => {
    const inner = fakeGateway()
    const gw = new ForwardingGateway(inner)
    const signal = new AbortController().signal
    const request: HttpTransferRequest = { method: 'GET', url: '/folder/a?dsName=LocalDS_0' }

    expect(gw.serviceContent).toBe(CONTENT)
    const args = { _this: CONTENT.searchIndex, inventoryPath: 'DC0/vm' }
    expect(await gw.call('FindByInventoryPath', args, { timeoutMs: 5 })).toEqual({
      type: 'Folder',
      value: 'group-v3',
    })
    expect((await gw.waitForTask(TASK, { signal })).state).toBe('success')
    expect((await gw.transfer(request, { timeoutMs: 9 })).body).toEqual(new Uint8Array([7]))
    const error = await gw.call('Destroy_Task', { _this: VM }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error) && error.code).toBe('NOT_FOUND')
    await gw.close()

    expect(inner.seen).toEqual([
      { method: 'FindByInventoryPath', args: [args, { timeoutMs: 5 }] },
      { method: 'waitForTask', args: [TASK, { signal }] },
      { method: 'transfer', args: [request, { timeoutMs: 9 }] },
      { method: 'Destroy_Task', args: [{ _this: VM }, undefined] },
      { method: 'close', args: [] },
    ])
    // The very objects, not copies.
    expect(inner.seen[0]?.args[0]).toBe(args)
    expect(inner.seen[2]?.args[0]).toBe(request)
  })

  it('reads serviceContent from the inner gateway each time', () => {
    const inner = fakeGateway()
    const gw = new ForwardingGateway(inner)
    const later = { ...CONTENT, rootFolder: { type: 'Folder', value: 'group-d2' } } as ServiceContent
    inner.serviceContent = later
    expect(gw.serviceContent).toBe(later)
  })

  it('turns an inner gateway that throws at once into a rejection', async () => {
    const inner = fakeGateway()
    inner.call = () => {
      throw new Error('thrown, not rejected')
    }
    const gw = new ForwardingGateway(inner)
    let settled: 'threw' | 'rejected' = 'threw'
    try {
      await gw.call('CurrentTime', { _this: CONTENT.rootFolder }).catch(() => {
        settled = 'rejected'
      })
    } catch {
      settled = 'threw'
    }
    expect(settled).toBe('rejected')
  })

  it.each([
    ['null', null],
    ['a string', 'gateway'],
    ['an object without methods', {}],
    ['an object without close', { call() {}, waitForTask() {}, transfer() {} }],
    [
      'a throwing proxy',
      new Proxy(
        {},
        {
          get() {
            throw new Error('no')
          },
        },
      ),
    ],
  ])('refuses %s as the inner gateway with INVALID_ARGUMENT', (_, value) => {
    let error: unknown
    try {
      new ForwardingGateway(value as never)
    } catch (e) {
      error = e
    }
    expect(PortLayerError.isInstance(error) && error.code).toBe('INVALID_ARGUMENT')
  })

  it('makes a logging wrapper a few lines (the README example)', async () => {
    const inner = fakeGateway()
    const lines: string[] = []
    const gw = new LoggingGateway(inner, (line) => lines.push(line))
    await gw.call('FindByInventoryPath', { _this: CONTENT.searchIndex, inventoryPath: 'DC0/vm' })
    await expect(gw.call('Destroy_Task', { _this: VM })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    // What the wrapper does not override is forwarded untouched.
    expect((await gw.waitForTask(TASK)).state).toBe('success')
    await gw.close()
    expect(lines).toEqual(['FindByInventoryPath ok', 'Destroy_Task failed: NOT_FOUND'])
    expect(inner.seen.map((s) => s.method)).toEqual([
      'FindByInventoryPath',
      'Destroy_Task',
      'waitForTask',
      'close',
    ])
  })

  it('stacks: a recording of a logging gateway replays what went through both', async () => {
    const lines: string[] = []
    const recorder = createRecordingGateway(new LoggingGateway(fakeGateway(), (line) => lines.push(line)))
    expect(recorder).toBeInstanceOf(ForwardingGateway)
    const args = { _this: CONTENT.searchIndex, inventoryPath: 'DC0/vm' }
    const found = await recorder.call('FindByInventoryPath', args)
    await recorder.close()
    expect(lines).toEqual(['FindByInventoryPath ok'])
    const replay = createReplayGateway(recorder.fixture())
    expect(await replay.call('FindByInventoryPath', args)).toEqual(found)
    expect(replay.remaining).toBe(0)
  })
})
