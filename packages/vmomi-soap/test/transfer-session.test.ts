import { describe, expect, it } from 'vitest'
import { createSoapGateway } from '../src/index.js'
import { startFakeSdk } from './support/fake-sdk.js'

// vcsim's /folder does not check the session (vCenter's does), so a small fake endpoint stands in.
describe('transfers and a lost session', () => {
  it('restores the session once for a transfer refused with 401, and retries it', async () => {
    const sdk = await startFakeSdk()
    const gw = await createSoapGateway({ url: sdk.url, username: 'u', password: 'p', keepAliveMs: 0 })
    try {
      sdk.expire()
      const got = await gw.transfer({ method: 'GET', url: '/folder/a?dsName=ds' })
      expect(new TextDecoder().decode(got.body)).toBe('data')
      expect(sdk.logins).toBe(2)
    } finally {
      await gw.close()
      await sdk.stop()
    }
  })

  it('shares one re-login among transfers sent with the same lost session, however late their 401', async () => {
    let stale = 0
    let sdk: Awaited<ReturnType<typeof startFakeSdk>> | undefined
    sdk = await startFakeSdk(async ({ live }) => {
      // The second refusal of the lost session arrives only after the first one's re-login is done.
      if (live || ++stale !== 2) return
      while ((sdk?.logins ?? 0) < 2) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, 50))
    })
    const gw = await createSoapGateway({ url: sdk.url, username: 'u', password: 'p', keepAliveMs: 0 })
    try {
      sdk.expire()
      const results = await Promise.all([
        gw.transfer({ method: 'GET', url: '/folder/a?dsName=ds' }),
        gw.transfer({ method: 'GET', url: '/folder/b?dsName=ds' }),
      ])
      expect(results.map((r) => r.status)).toEqual([200, 200])
      expect(stale).toBe(2)
      expect(sdk.logins).toBe(2)
      expect(gw.stats().logins).toBe(2)
    } finally {
      await gw.close()
      await sdk.stop()
    }
  })
})
