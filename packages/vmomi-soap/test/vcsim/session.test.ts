import { afterEach, describe, expect, it } from 'vitest'
import { SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, DATASTORE_QUERY, useVcsim } from '../support/vcsim.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
type PortLayerErrorLike = { detail: Record<string, unknown> }

describe('sessions', () => {
  const vcsim = useVcsim()
  afterEach(async () => {
    await vcsim().admin.reset()
  })

  it('heals an expired session with one re-login and one retry', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    expect(gw.stats().logins).toBe(1)
    await vc.admin.expireSessions()
    expect(await gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).toBeInstanceOf(Date)
    expect(gw.stats().logins).toBe(2)
    expect(gw.stats().requestsByMethod.CurrentTime).toBe(2)
    await gw.close()
  })

  it('serves many concurrent calls without a MaxListenersExceededWarning', async () => {
    const gw = await connect(vcsim())
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      await Promise.all(Array.from({ length: 40 }, () => gw.call('CurrentTime', { _this: SERVICE_INSTANCE })))
      await sleep(10) // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning)
      await gw.close()
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning')
  })

  it('shares one re-login among concurrent callers', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    const before = await vc.admin.calls()
    await vc.admin.expireSessions()
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2
          ? gw.call('CurrentTime', { _this: SERVICE_INSTANCE })
          : gw.call('FindByInventoryPath', { _this: gw.serviceContent.searchIndex, inventoryPath: 'DC0/vm' }),
      ),
    )
    expect(results).toHaveLength(12)
    expect(gw.stats().logins).toBe(2)
    expect((await vc.admin.calls()).Login).toBe((before.Login ?? 0) + 1)
    await gw.close()
  })

  it('retries only once: a session lost again right away is UNAVAILABLE, not a loop', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    const before = await vc.admin.calls()
    await vc.admin.failNext('CurrentTime', 'NotAuthenticated', 5)
    await expect(gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      detail: { fault: 'NotAuthenticated' },
    })
    const calls = await vc.admin.calls()
    expect(calls.CurrentTime).toBe(2)
    expect(calls.Login).toBe((before.Login ?? 0) + 1)
    expect(gw.stats().logins).toBe(2)
    await gw.close()
  })

  it('reports refused credentials on re-login as UNAVAILABLE and tries again only after the back-off', async () => {
    const vc = vcsim()
    const gw = await connect(vc, { loginRetryBackoffMs: 400 })
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin')
    const error = await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      detail: { fault: 'NotAuthenticated', loginFault: 'InvalidLogin' },
    })
    expect((error as Error).message).toMatch(/credentials were refused \(InvalidLogin\)/)
    expect((error as Error).message).toMatch(/no login is tried again before \d{4}-\d\d-\d\dT/)
    expect(JSON.stringify(error)).not.toContain(vc.password)
    const refusedAt = await vc.admin.calls()
    // Within the back-off the next call fails at once, without reaching the server.
    const early = await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e)
    expect(early).toMatchObject({ code: 'UNAVAILABLE', detail: { loginFault: 'InvalidLogin' } })
    expect(await vc.admin.calls()).toEqual(refusedAt)
    // After it, the next call logs in again and succeeds.
    await sleep(450)
    expect(await gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).toBeInstanceOf(Date)
    const after = await vc.admin.calls()
    expect(after.Login).toBe((refusedAt.Login ?? 0) + 1)
    expect(after.CurrentTime).toBe((refusedAt.CurrentTime ?? 0) + 1)
    expect(gw.stats().logins).toBe(2)
    await gw.close()
  })

  it('sends no Login during the back-off, neither for calls, transfers, task waits nor the keepalive', async () => {
    const vc = vcsim()
    const gw = await connect(vc, { keepAliveMs: 100 })
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin')
    const first = await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e)
    expect(first).toMatchObject({ detail: { loginFault: 'InvalidLogin' } })
    const refusedAt = await vc.admin.calls()
    const sentAt = gw.stats().requests
    // A backend polling for exits, as fast as it likes: every call fails at once, never sent.
    for (let i = 0; i < 10; i++) {
      const error = await gw
        .call('FindByInventoryPath', { _this: gw.serviceContent.searchIndex, inventoryPath: 'DC0/vm' })
        .catch((e: unknown) => e)
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        detail: { fault: 'NotAuthenticated', loginFault: 'InvalidLogin', retryAt: expect.any(String) },
      })
      expect((error as Error).message).toMatch(/FindByInventoryPath not sent: the credentials were refused/)
      expect(JSON.stringify(error)).not.toContain(vc.password)
      await sleep(20)
    }
    await expect(gw.transfer({ method: 'GET', url: `/folder/x?${DATASTORE_QUERY}` })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      detail: { loginFault: 'InvalidLogin' },
    })
    await expect(gw.waitForTask({ type: 'Task', value: 'task-1' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      detail: { loginFault: 'InvalidLogin' },
    })
    // Idle well past keepAliveMs: the keepalive stays quiet too.
    await sleep(500)
    expect(await vc.admin.calls()).toEqual(refusedAt)
    expect(gw.stats().requests).toBe(sentAt)
    await gw.close()
  })

  it('a keepalive whose re-login is refused stays quiet afterwards', async () => {
    const vc = vcsim()
    const gw = await connect(vc, { keepAliveMs: 100 })
    const before = await vc.admin.calls()
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin', 10)
    await sleep(700)
    expect((await vc.admin.calls()).Login).toBe((before.Login ?? 0) + 1)
    await expect(gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).rejects.toMatchObject({
      detail: { loginFault: 'InvalidLogin' },
    })
    await gw.close()
  })

  it('fails all concurrent callers at once during the back-off', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin')
    await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch(() => undefined)
    const refusedAt = await vc.admin.calls()
    // A server that took its time would show: nothing may wait on it.
    await vc.admin.delay('CurrentTime', 2_000)
    const began = Date.now()
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => gw.call('CurrentTime', { _this: SERVICE_INSTANCE })),
    )
    expect(Date.now() - began).toBeLessThan(1_000)
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason).toMatchObject({
        code: 'UNAVAILABLE',
        detail: { loginFault: 'InvalidLogin' },
      })
    }
    expect(await vc.admin.calls()).toEqual(refusedAt)
    await gw.close()
  })

  it('shares one refused re-login among concurrent callers', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    const before = await vc.admin.calls()
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin', 5)
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => gw.call('CurrentTime', { _this: SERVICE_INSTANCE })),
    )
    for (const result of results) {
      expect((result as PromiseRejectedResult).reason).toMatchObject({
        detail: { loginFault: 'InvalidLogin' },
      })
    }
    expect((await vc.admin.calls()).Login).toBe((before.Login ?? 0) + 1)
    await gw.close()
  })

  it('after the back-off, concurrent callers share one Login; refused again, it backs off again', async () => {
    const vc = vcsim()
    const gw = await connect(vc, { loginRetryBackoffMs: 300, keepAliveMs: 100 })
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin', 2)
    await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch(() => undefined)
    const refusedAt = await vc.admin.calls()
    // Past the back-off, and idle past keepAliveMs: the keepalive does not retry the credentials.
    await sleep(450)
    expect(await vc.admin.calls()).toEqual(refusedAt)

    // Refused again: one Login for the whole batch, then a new back-off.
    const again = await Promise.allSettled(
      Array.from({ length: 6 }, () => gw.call('CurrentTime', { _this: SERVICE_INSTANCE })),
    )
    expect(again.every((r) => r.status === 'rejected')).toBe(true)
    expect((await vc.admin.calls()).Login).toBe((refusedAt.Login ?? 0) + 1)
    await expect(gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).rejects.toMatchObject({
      detail: { loginFault: 'InvalidLogin' },
    })

    // Accepted: one shared Login, then every call is sent once (logged in first, not refused first).
    await sleep(350)
    const recovered = await Promise.all(
      Array.from({ length: 10 }, () => gw.call('CurrentTime', { _this: SERVICE_INSTANCE })),
    )
    expect(recovered.every((d) => d instanceof Date)).toBe(true)
    const after = await vc.admin.calls()
    expect(after.Login).toBe((refusedAt.Login ?? 0) + 2)
    expect(after.CurrentTime).toBe((refusedAt.CurrentTime ?? 0) + 10)
    expect(gw.stats().logins).toBe(2)
    await gw.close()
  })

  it('retries at once after a re-login that failed for another reason (no back-off)', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    await vc.admin.expireSessions()
    await vc.admin.dropResponse('Login')
    const error = await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'UNAVAILABLE', detail: { fault: 'NotAuthenticated' } })
    expect((error as PortLayerErrorLike).detail.loginFault).toBeUndefined()
    expect(await gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).toBeInstanceOf(Date)
    expect(gw.stats().logins).toBe(2)
    await gw.close()
  })

  it('keeps an idle session alive and restores an expired one before anyone needs it', async () => {
    const vc = vcsim()
    const gw = await connect(vc, { keepAliveMs: 150 })
    await sleep(500)
    const pings = gw.stats().requestsByMethod.CurrentTime ?? 0
    expect(pings).toBeGreaterThanOrEqual(1)
    await vc.admin.expireSessions()
    await sleep(500)
    expect(gw.stats().logins).toBe(2)
    await gw.close()
    const after = gw.stats().requestsByMethod.CurrentTime ?? 0
    await sleep(400)
    expect(gw.stats().requestsByMethod.CurrentTime ?? 0).toBe(after)
  })

  it('sends no keepalive when turned off', async () => {
    const vc = vcsim()
    const off = await connect(vc, { keepAliveMs: 0 })
    await sleep(300)
    expect(off.stats().requestsByMethod.CurrentTime).toBeUndefined()
    await off.close()
  })
})
