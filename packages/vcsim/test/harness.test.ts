import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startVcsim, type Vcsim } from '../src/index.js'
import { envelope, faultOf, login, moref, post, postTls, textOf } from './soap.js'

const SERVICE_CONTENT = envelope(
  'RetrieveServiceContent',
  moref('_this', 'ServiceInstance', 'ServiceInstance'),
)

describe('startVcsim over HTTP', () => {
  let vc: Vcsim
  beforeAll(async () => {
    vc = await startVcsim()
  }, 300_000)
  afterAll(() => vc?.stop())

  it('serves the VPX model at a loopback /sdk URL with its credentials', async () => {
    expect(vc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sdk$/)
    expect(vc.thumbprint).toBeUndefined()
    const content = await post(vc.url, SERVICE_CONTENT)
    expect(content.status).toBe(200)
    expect(textOf(content.body, 'apiType')).toBe('VirtualCenter')
    expect(content.body).toContain('<guestOperationsManager type="GuestOperationsManager">')
    const cookie = await login(vc.url, vc.username, vc.password)
    expect(cookie).toMatch(/^vmware_soap_session=/)
  })

  it('refuses a wrong password with InvalidLogin', async () => {
    const res = await post(
      vc.url,
      envelope(
        'Login',
        `${moref('_this', 'SessionManager', 'SessionManager')}<userName>${vc.username}</userName><password>wrong</password>`,
      ),
    )
    expect(res.status).toBe(500)
    expect(faultOf(res.body)).toBe('InvalidLogin')
  })
})

describe('startVcsim over HTTPS', () => {
  let vc: Vcsim
  beforeAll(async () => {
    vc = await startVcsim({ tls: true })
  }, 300_000)
  afterAll(() => vc?.stop())

  it('reports the certificate and its SHA-256 thumbprint', async () => {
    expect(vc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/sdk$/)
    expect(vc.thumbprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(vc.certificatePem).toContain('BEGIN CERTIFICATE')
  })

  it('is trusted with its certificate as CA and pinned by its thumbprint', async () => {
    const ok = await postTls(vc.url, SERVICE_CONTENT, {
      ca: vc.certificatePem as string,
      thumbprint: vc.thumbprint as string,
    })
    expect(ok.status).toBe(200)
    expect(textOf(ok.body, 'apiType')).toBe('VirtualCenter')
  })

  it('is refused by default verification and by a wrong thumbprint', async () => {
    await expect(postTls(vc.url, SERVICE_CONTENT, {})).rejects.toThrow(/self.signed|certificate/i)
    const right = vc.thumbprint as string
    const wrong = `${right.startsWith('00') ? 'FF' : '00'}${right.slice(2)}`
    await expect(
      postTls(vc.url, SERVICE_CONTENT, { ca: vc.certificatePem as string, thumbprint: wrong }),
    ).rejects.toThrow(/thumbprint mismatch/)
  })
})
