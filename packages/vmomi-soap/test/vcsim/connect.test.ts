import { inspect } from 'node:util'
import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSoapGateway, type SoapGatewaySettings } from '../../src/index.js'
import { connect, useVcsim } from '../support/vcsim.js'

async function refusal(settings: SoapGatewaySettings): Promise<PortLayerError> {
  try {
    const gw = await createSoapGateway(settings)
    await gw.close()
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e
    throw e
  }
  throw new Error('the gateway connected')
}

/** Everything an error could show: message, JSON, and a deep inspection including its cause. */
function everythingIn(error: unknown): string {
  return `${String(error)}\n${JSON.stringify(error)}\n${inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })}`
}

describe('connecting over HTTP', () => {
  const vcsim = useVcsim()

  it('reads the service content and logs in, then logs out on close', async () => {
    const vc = vcsim()
    const before = await vc.admin.calls()
    const gw = await connect(vc)
    expect(gw.serviceContent.about.apiType).toBe('VirtualCenter')
    expect(gw.serviceContent.rootFolder).toEqual({ type: 'Folder', value: 'group-d1' })
    expect(gw.serviceContent.propertyCollector.type).toBe('PropertyCollector')
    // The session cookie is sent: an authenticated call succeeds.
    const now = await gw.call('CurrentTime', { _this: { type: 'ServiceInstance', value: 'ServiceInstance' } })
    expect(now).toBeInstanceOf(Date)
    const folder = await gw.call('FindByInventoryPath', {
      _this: gw.serviceContent.searchIndex,
      inventoryPath: 'DC0/vm',
    })
    expect(folder?.type).toBe('Folder')
    await gw.close()
    await gw.close()
    const after = await vc.admin.calls()
    expect((after.Login ?? 0) - (before.Login ?? 0)).toBe(1)
    expect((after.Logout ?? 0) - (before.Logout ?? 0)).toBe(1)
    await expect(
      gw.call('CurrentTime', { _this: { type: 'ServiceInstance', value: 'ServiceInstance' } }),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      detail: { closed: true },
    })
  })

  it('refuses a bad password with InvalidLogin and never shows the password', async () => {
    const vc = vcsim()
    const password = `not-${vc.password}-at-all`
    const lines: string[] = []
    const logger = {
      debug: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
    }
    const error = await refusal({ url: vc.url, username: vc.username, password, logger })
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.detail).toMatchObject({ fault: 'InvalidLogin', method: 'Login' })
    expect(error.backend).toBe('vsphere')
    expect(everythingIn(error)).not.toContain(password)
    expect(lines.join('\n')).not.toContain(password)
  })

  it('never shows the password when the connection drops during Login', async () => {
    const vc = vcsim()
    await vc.admin.dropResponse('Login')
    const lines: string[] = []
    const error = await refusal({
      url: vc.url,
      username: vc.username,
      password: vc.password,
      retries: 0,
      logger: { warn: (m) => lines.push(m), info: (m) => lines.push(m), debug: (m) => lines.push(m) },
    })
    expect(error.code).toBe('UNAVAILABLE')
    expect(everythingIn(error)).not.toContain(vc.password)
    expect(lines.join('\n')).not.toContain(vc.password)
  })
})

describe('connecting over HTTPS', () => {
  const vcsim = useVcsim({ tls: true })
  const settings = (tls: SoapGatewaySettings['tls']): SoapGatewaySettings => {
    const vc = vcsim()
    return { url: vc.url, username: vc.username, password: vc.password, tls }
  }

  it('refuses the self-signed certificate by default', async () => {
    const error = await refusal(settings(undefined))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail?.tls).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/)
    expect(error.message).toContain('tls.thumbprint')
  })

  it('connects with the certificate as a custom CA', async () => {
    const gw = await createSoapGateway(settings({ ca: vcsim().certificatePem }))
    expect(gw.url.startsWith('https://')).toBe(true)
    expect(
      await gw.call('CurrentTime', { _this: { type: 'ServiceInstance', value: 'ServiceInstance' } }),
    ).toBeInstanceOf(Date)
    await gw.close()
  })

  it('takes the CA as bytes too (a plain Uint8Array, or a list of them), not only as text', async () => {
    const pem = new TextEncoder().encode(vcsim().certificatePem)
    for (const ca of [pem, [pem]]) {
      const gw = await createSoapGateway(settings({ ca }))
      expect(
        await gw.call('CurrentTime', { _this: { type: 'ServiceInstance', value: 'ServiceInstance' } }),
      ).toBeInstanceOf(Date)
      await gw.close()
    }
  })

  it('connects with the right SHA-256 thumbprint, in any letter case and without colons', async () => {
    const thumbprint = vcsim().thumbprint ?? ''
    for (const form of [thumbprint, thumbprint.replaceAll(':', '').toLowerCase()]) {
      const gw = await createSoapGateway(settings({ thumbprint: form }))
      expect(gw.serviceContent.about.apiVersion).toBeTruthy()
      await gw.close()
    }
  })

  it('refuses a wrong thumbprint before sending anything', async () => {
    const vc = vcsim()
    const wrong = `${(vc.thumbprint ?? '').startsWith('00') ? '11' : '00'}${(vc.thumbprint ?? '').slice(2)}`
    const before = await vc.admin.calls()
    const error = await refusal(settings({ thumbprint: wrong }))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail).toMatchObject({ tls: 'ERR_TLS_THUMBPRINT_MISMATCH' })
    expect(error.message).toContain(vc.thumbprint)
    expect(await vc.admin.calls()).toEqual(before)
  })

  it('refuses a CA that did not sign the certificate, even with the right thumbprint', async () => {
    const vc = vcsim()
    const otherCa = (await import('node:tls')).rootCertificates[0] as string
    const error = await refusal(settings({ ca: otherCa, thumbprint: vc.thumbprint }))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail?.tls).toBeDefined()
  })

  it('connects insecurely only when asked, for that connection only', async () => {
    const gw = await createSoapGateway(settings({ insecure: true }))
    expect(gw.serviceContent.about.apiType).toBe('VirtualCenter')
    // Another connection at the same time still verifies.
    const error = await refusal(settings(undefined))
    expect(error.code).toBe('UNAVAILABLE')
    await gw.close()
  })

  it('moves files over HTTPS with the same TLS settings', async () => {
    const gw = await createSoapGateway(settings({ thumbprint: vcsim().thumbprint }))
    const data = new TextEncoder().encode('over tls')
    const url = '/folder/tls-check.txt?dcPath=DC0&dsName=LocalDS_0'
    await gw.transfer({ method: 'PUT', url, body: data })
    expect((await gw.transfer({ method: 'GET', url })).body).toEqual(data)
    await gw.transfer({ method: 'DELETE', url })
    await gw.close()
  })
})
