import { CancelledError } from '@portlayer/contracts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { failure } from '../support/failure.js'
import { startForwarder } from '../support/forwarder.js'
import { createVm, find, property, run, SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, DATASTORE_QUERY, useVcsim } from '../support/vcsim.js'

// Whether a failed call may have changed something. A change refused by the server, or never
// sent, is `not-applied`; a change whose answer was lost, came too late or was abandoned in flight
// is `unknown`; a read is always `not-applied`. The harness shows which is true.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('outcome of failed calls', () => {
  const vcsim = useVcsim()
  let gw: SoapGateway
  beforeAll(async () => {
    gw = await connect(vcsim(), { retries: 0 })
  })
  afterAll(async () => {
    await gw.close()
  })
  afterEach(async () => {
    await vcsim().admin.reset()
  })

  const annotate = (
    vm: { type: string; value: string },
    annotation: string,
    timeoutMs?: number,
    signal?: AbortSignal,
  ) =>
    gw.call(
      'ReconfigVM_Task',
      { _this: vm, spec: { annotation } },
      { ...(timeoutMs ? { timeoutMs } : {}), ...(signal ? { signal } : {}) },
    )

  it('a change refused with a SOAP fault is not-applied, and nothing changed', async () => {
    const vm = await createVm(gw, 'outcome-refused')
    await vcsim().admin.failNext('ReconfigVM_Task', 'InvalidState')
    const error = await failure(annotate(vm, 'refused'))
    expect(error).toMatchObject({
      code: 'INVALID_STATE',
      outcome: 'not-applied',
      detail: { fault: 'InvalidState' },
    })
    expect(await property(gw, vm, 'config.annotation')).not.toBe('refused')

    // A refusal that maps to UNAVAILABLE is still a refusal.
    await vcsim().admin.failNext('ReconfigVM_Task', 'SystemError')
    const unavailable = await failure(annotate(vm, 'refused'))
    expect(unavailable).toMatchObject({ code: 'UNAVAILABLE', outcome: 'not-applied' })
    expect(await property(gw, vm, 'config.annotation')).not.toBe('refused')
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a change whose answer is lost is UNAVAILABLE with outcome unknown (and it did land)', async () => {
    const vm = await createVm(gw, 'outcome-dropped')
    await vcsim().admin.dropResponse('ReconfigVM_Task')
    const error = await failure(annotate(vm, 'landed'))
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      outcome: 'unknown',
      detail: { method: 'ReconfigVM_Task', sent: true },
    })
    expect(error.toJSON()).toMatchObject({ outcome: 'unknown' })
    expect((await vcsim().admin.calls()).ReconfigVM_Task).toBe(1)
    expect(await property(gw, vm, 'config.annotation')).toBe('landed')
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a read whose answer is lost is not-applied', async () => {
    await vcsim().admin.dropResponse('FindByInventoryPath')
    const error = await failure(find(gw, 'DC0/vm'))
    expect(error).toMatchObject({ code: 'UNAVAILABLE', outcome: 'not-applied', detail: { sent: true } })
  })

  it('a change past its deadline is TIMEOUT with outcome unknown; a read past it, not-applied', async () => {
    const vm = await createVm(gw, 'outcome-late')
    await vcsim().admin.delay('ReconfigVM_Task', 800)
    const error = await failure(annotate(vm, 'late', 150))
    expect(error).toMatchObject({
      code: 'TIMEOUT',
      outcome: 'unknown',
      detail: { method: 'ReconfigVM_Task', timeoutMs: 150, sent: true },
    })
    // The server serves it all the same.
    await sleep(900)
    expect(await property(gw, vm, 'config.annotation')).toBe('late')

    await vcsim().admin.delay('CurrentTime', 800)
    const read = await failure(gw.call('CurrentTime', { _this: SERVICE_INSTANCE }, { timeoutMs: 150 }))
    expect(read).toMatchObject({ code: 'TIMEOUT', outcome: 'not-applied' })
    await vcsim().admin.delay('ReconfigVM_Task', 0)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('the default per-call deadline (settings.timeoutMs) applies the same way', async () => {
    const quick = await connect(vcsim(), { timeoutMs: 200, retries: 0 })
    try {
      const vm = await createVm(quick, 'outcome-default-deadline')
      await vcsim().admin.delay('ReconfigVM_Task', 700)
      const error = await failure(
        quick.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'default deadline' } }),
      )
      expect(error).toMatchObject({ code: 'TIMEOUT', outcome: 'unknown', detail: { timeoutMs: 200 } })
      await vcsim().admin.delay('ReconfigVM_Task', 0)
      await sleep(700)
      await run(quick, quick.call('Destroy_Task', { _this: vm }))
    } finally {
      await quick.close()
    }
  })

  it('a change aborted in flight is CANCELLED with outcome unknown; aborted before it is sent, not-applied', async () => {
    const vm = await createVm(gw, 'outcome-aborted')
    await vcsim().admin.delay('ReconfigVM_Task', 800)
    const controller = new AbortController()
    const reason = new Error('user pressed ctrl-c')
    setTimeout(() => controller.abort(reason), 150)
    const error = await failure(annotate(vm, 'aborted', undefined, controller.signal))
    expect(error).toBeInstanceOf(CancelledError)
    expect(error).toMatchObject({
      code: 'CANCELLED',
      outcome: 'unknown',
      detail: { sent: true, aborted: true },
    })
    expect(error.cause).toBe(reason)
    await sleep(900)
    expect(await property(gw, vm, 'config.annotation')).toBe('aborted')

    const before = await vcsim().admin.calls()
    const early = await failure(annotate(vm, 'never', undefined, AbortSignal.abort(reason)))
    expect(early).toMatchObject({ code: 'CANCELLED', outcome: 'not-applied', detail: { sent: false } })
    expect(early.cause).toBe(reason)
    expect(await vcsim().admin.calls()).toEqual(before)
    await vcsim().admin.delay('ReconfigVM_Task', 0)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a task that ends in error is not-applied', async () => {
    const vm = await createVm(gw, 'outcome-task-error')
    await run(gw, gw.call('PowerOnVM_Task', { _this: vm }))
    const error = await failure(gw.waitForTask(await gw.call('Destroy_Task', { _this: vm })))
    expect(error).toMatchObject({ code: 'INVALID_STATE', outcome: 'not-applied' })
    await run(gw, gw.call('PowerOffVM_Task', { _this: vm }))
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a task wait whose polls fail says unknown: the task may still finish', async () => {
    const vm = await createVm(gw, 'outcome-wait-lost')
    const task = await annotate(vm, 'polled')
    await vcsim().admin.dropResponse('RetrievePropertiesEx', 5)
    const error = await failure(gw.waitForTask(task))
    expect(error).toMatchObject({ code: 'UNAVAILABLE', outcome: 'unknown' })
    await vcsim().admin.reset()
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('an aborted task wait is CANCELLED; unknown when the task may have run', async () => {
    const vm = await createVm(gw, 'outcome-wait-aborted')
    const task = await annotate(vm, 'waited')
    await vcsim().admin.delay('RetrievePropertiesEx', 3_000)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const error = await failure(gw.waitForTask(task, { signal: controller.signal }))
    expect(error).toMatchObject({ code: 'CANCELLED', outcome: 'unknown', detail: { task, aborted: true } })
    await vcsim().admin.delay('RetrievePropertiesEx', 0)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('an aborted wait for a task seen to end in error is not-applied', async () => {
    const vm = await createVm(gw, 'outcome-wait-aborted-failed')
    await vcsim().admin.failTask('ReconfigVM_Task', 'InvalidState')
    const task = await annotate(vm, 'never')
    // Only the first poll is held up: after the abort, the gateway cancels the task and looks.
    await vcsim().admin.delayResponse('RetrievePropertiesEx', 3_000, 1)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const error = await failure(gw.waitForTask(task, { signal: controller.signal }))
    expect(error).toMatchObject({
      code: 'CANCELLED',
      outcome: 'not-applied',
      detail: { task, taskState: 'error' },
    })
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })

  it('a change answered later than its deadline (delayResponse) is TIMEOUT, unknown, and applied', async () => {
    const vm = await createVm(gw, 'outcome-delayed-answer')
    await vcsim().admin.delayResponse('ReconfigVM_Task', 800, 1)
    const error = await failure(annotate(vm, 'answered late', 150))
    expect(error).toMatchObject({ code: 'TIMEOUT', outcome: 'unknown', detail: { sent: true } })
    expect(await property(gw, vm, 'config.annotation')).toBe('answered late')
    await sleep(700)
    await run(gw, gw.call('Destroy_Task', { _this: vm }))
  })
})

describe('outcome when the connection fails', () => {
  const vcsim = useVcsim()

  it('a change to an endpoint that refuses connections is not-applied (nothing sent)', async () => {
    const vc = vcsim()
    const forwarder = await startForwarder(new URL(vc.url))
    const gw = await connect(vc, { url: forwarder.url, retries: 0, keepAliveMs: 0 })
    try {
      const vm = await createVm(gw, 'outcome-refused-connection')
      await forwarder.refuse()
      await sleep(50) // the client sees its idle connections closed
      const before = await vc.admin.calls()
      const error = await failure(gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'x' } }))
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        outcome: 'not-applied',
        detail: { network: 'ECONNREFUSED', sent: false },
      })
      expect(await vc.admin.calls()).toEqual(before)
      await forwarder.accept()
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    } finally {
      await gw.close()
      await forwarder.stop()
    }
  })

  it('a datastore PUT whose answer is lost is unknown (the file is there); a GET, not-applied', async () => {
    const vc = vcsim()
    const forwarder = await startForwarder(new URL(vc.url))
    const gw = await connect(vc, { url: forwarder.url, retries: 0, keepAliveMs: 0 })
    const url = `/folder/outcome-put.txt?${DATASTORE_QUERY}`
    try {
      forwarder.swallowAnswers()
      const put = await failure(gw.transfer({ method: 'PUT', url, body: new TextEncoder().encode('kept') }))
      expect(put).toMatchObject({ code: 'UNAVAILABLE', outcome: 'unknown', detail: { sent: true } })
      const get = await failure(gw.transfer({ method: 'GET', url }))
      expect(get).toMatchObject({ code: 'UNAVAILABLE', outcome: 'not-applied' })
      forwarder.swallowAnswers(false)
      expect(new TextDecoder().decode((await gw.transfer({ method: 'GET', url })).body)).toBe('kept')

      await forwarder.refuse()
      await sleep(50) // the client sees its idle connections closed
      const refused = await failure(gw.transfer({ method: 'DELETE', url }))
      expect(refused).toMatchObject({ code: 'UNAVAILABLE', outcome: 'not-applied', detail: { sent: false } })
      await forwarder.accept()
      const aborted = await failure(
        gw.transfer({ method: 'DELETE', url }, { signal: AbortSignal.abort(new Error('no')) }),
      )
      expect(aborted).toMatchObject({ code: 'CANCELLED', outcome: 'not-applied' })
      await gw.transfer({ method: 'DELETE', url })
    } finally {
      await gw.close()
      await forwarder.stop()
    }
  })
})
