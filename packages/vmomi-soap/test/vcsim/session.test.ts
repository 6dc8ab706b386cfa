import { afterEach, describe, expect, it } from 'vitest'
import { SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

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

  it('reports a re-login that fails as UNAVAILABLE naming the login fault', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    await vc.admin.expireSessions()
    await vc.admin.failNext('Login', 'InvalidLogin')
    const error = await gw.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      detail: { fault: 'NotAuthenticated', loginFault: 'InvalidLogin' },
    })
    expect(JSON.stringify(error)).not.toContain(vc.password)
    // The next call tries again and succeeds.
    expect(await gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).toBeInstanceOf(Date)
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
