import { PortLayerError } from '@portlayer/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createRecordingGateway,
  createReplayGateway,
  createSoapGateway,
  type SoapGateway,
} from '../src/index.js'
import { startFakeSdk } from './support/fake-sdk.js'

// Any JavaScript value handed to a gateway method rejects with a PortLayerError (never a
// TypeError or whatever a proxy throws), before anything is sent.

const throwing = new Proxy(
  {},
  {
    get() {
      throw new Error('proxy get')
    },
    ownKeys() {
      throw new Error('proxy keys')
    },
    getPrototypeOf() {
      throw new Error('proxy prototype')
    },
  },
)
const revoked = (() => {
  const r = Proxy.revocable({}, {})
  r.revoke()
  return r.proxy
})()
const nullProto = Object.create(null) as object
const VALUES: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['a symbol', Symbol('s')],
  ['a bigint', 10n],
  ['a null-prototype object', nullProto],
  ['a throwing proxy', throwing],
  ['a revoked proxy', revoked],
  ['a function', () => 1],
  ['a 10 MB string', 'x'.repeat(10_000_000)],
  ['a number', 42],
]

async function rejection(p: () => Promise<unknown>): Promise<unknown> {
  try {
    await p()
  } catch (e) {
    return e
  }
  return undefined
}

function expectGatewayError(error: unknown): void {
  expect(PortLayerError.isInstance(error), String((error as Error)?.message ?? error)).toBe(true)
  const e = error as PortLayerError
  expect(['INVALID_ARGUMENT', 'UNSUPPORTED']).toContain(e.code)
  expect(e.message.length).toBeLessThanOrEqual(1_000)
  expect(e.outcome).toBe('not-applied')
}

describe('hostile arguments', () => {
  let sdk: Awaited<ReturnType<typeof startFakeSdk>>
  let gw: SoapGateway
  beforeAll(async () => {
    sdk = await startFakeSdk()
    gw = await createSoapGateway({ url: sdk.url, username: 'u', password: 'p', keepAliveMs: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await sdk.stop()
  })

  it.each(VALUES)(
    'call() with %s as method, arguments or options rejects with a PortLayerError',
    async (_, value) => {
      const before = gw.stats().requests
      const this_ = { type: 'ServiceInstance', value: 'ServiceInstance' }
      expectGatewayError(await rejection(() => gw.call(value as never, { _this: this_ } as never)))
      if (value !== undefined) {
        expectGatewayError(await rejection(() => gw.call('CurrentTime', value as never)))
        expectGatewayError(await rejection(() => gw.call('CurrentTime', { _this: value as never })))
        expectGatewayError(
          await rejection(() => gw.call('CurrentTime', { _this: this_ }, { signal: value as never })),
        )
        // An object without a prototype is a valid (empty) options object; a number, a valid deadline.
        if (value !== nullProto)
          expectGatewayError(await rejection(() => gw.call('CurrentTime', { _this: this_ }, value as never)))
        if (typeof value !== 'number')
          expectGatewayError(
            await rejection(() => gw.call('CurrentTime', { _this: this_ }, { timeoutMs: value as never })),
          )
      }
      expect(gw.stats().requests).toBe(before)
    },
  )

  it.each(VALUES)('waitForTask() and transfer() with %s reject with a PortLayerError', async (_, value) => {
    const before = gw.stats().requests
    expectGatewayError(await rejection(() => gw.waitForTask(value as never)))
    expectGatewayError(await rejection(() => gw.transfer(value as never)))
    expectGatewayError(await rejection(() => gw.transfer({ method: value as never, url: '/folder/x' })))
    expectGatewayError(await rejection(() => gw.transfer({ method: 'GET', url: value as never })))
    if (value !== undefined) {
      expectGatewayError(
        await rejection(() => gw.transfer({ method: 'PUT', url: '/folder/x', body: value as never })),
      )
    }
    if (value !== undefined && value !== nullProto) {
      expectGatewayError(
        await rejection(() => gw.transfer({ method: 'GET', url: '/folder/x', headers: value as never })),
      )
      expectGatewayError(
        await rejection(() => gw.waitForTask({ type: 'Task', value: 'task-1' }, value as never)),
      )
    }
    expect(gw.stats().requests).toBe(before)
  })

  it.each(VALUES)('the recording and replay gateways reject %s with a PortLayerError', async (_, value) => {
    const recorder = createRecordingGateway(gw)
    expectGatewayError(await rejection(() => recorder.call('CurrentTime', value as never)))
    expectGatewayError(await rejection(() => recorder.transfer(value as never)))
    expectGatewayError(await rejection(() => recorder.waitForTask(value as never)))
    const replay = createReplayGateway(recorder.fixture())
    const replayed = await rejection(() => replay.call('CurrentTime', value as never))
    expect(PortLayerError.isInstance(replayed)).toBe(true)
    expect(PortLayerError.isInstance(await rejection(() => replay.transfer(value as never)))).toBe(true)
    expect(PortLayerError.isInstance(await rejection(() => replay.waitForTask(value as never)))).toBe(true)
  })
})
