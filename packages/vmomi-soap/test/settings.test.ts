import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSoapGateway, type SoapGatewaySettings } from '../src/index.js'
import { Connector, normalizeThumbprint } from '../src/tls.js'
import { resolveTransferUrl } from '../src/transfer.js'

const PASSWORD = 'Pa55-word-that-must-not-leak'
const BASE: SoapGatewaySettings = {
  url: 'https://vc.example.test/sdk',
  username: 'admin',
  password: PASSWORD,
}

async function refused(settings: SoapGatewaySettings): Promise<PortLayerError> {
  try {
    const gw = await createSoapGateway(settings)
    await gw.close()
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e
    throw e
  }
  throw new Error('connected')
}

describe('settings', () => {
  it.each<[string, Partial<SoapGatewaySettings>, RegExp]>([
    ['a URL that is not one', { url: 'not a url' }, /settings.url is not a valid URL/],
    ['a non-HTTP URL', { url: 'ftp://vc/sdk' }, /http or https/],
    ['credentials in the URL', { url: `https://admin:${PASSWORD}@vc/sdk` }, /must not carry credentials/],
    ['an empty user name', { username: '' }, /username/],
    ['TLS options on plain HTTP', { url: 'http://vc/sdk', tls: { insecure: true } }, /https URLs only/],
    [
      'insecure with a thumbprint',
      { tls: { insecure: true, thumbprint: 'AA'.repeat(32) } },
      /cannot be combined/,
    ],
    ['a SHA-1 thumbprint', { tls: { thumbprint: 'AB:'.repeat(19).concat('AB') } }, /SHA-1/],
    ['a malformed thumbprint', { tls: { thumbprint: 'xyz' } }, /SHA-256/],
    ['a CA that is neither text nor bytes', { tls: { ca: 42 as never } }, /tls.ca must be PEM/],
    ['a CA list with a number in it', { tls: { ca: ['x', 42] as never } }, /tls.ca must be PEM/],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs/],
    ['a bad API version', { apiVersion: 'latest' }, /apiVersion/],
    ['a task deadline beyond the timer range', { taskTimeoutMs: 2 ** 31 }, /taskTimeoutMs/],
    ['a keepalive beyond the timer range', { keepAliveMs: 2 ** 31 }, /keepAliveMs/],
    ['a retry delay beyond the timer range', { retryDelayMs: 2 ** 31 }, /retryDelayMs/],
    ['a negative login back-off', { loginRetryBackoffMs: -1 }, /loginRetryBackoffMs must be an integer/],
    ['a fractional login back-off', { loginRetryBackoffMs: 1.5 }, /loginRetryBackoffMs/],
    ['a login back-off beyond the timer range', { loginRetryBackoffMs: 2 ** 31 }, /loginRetryBackoffMs/],
  ])('refuses %s with INVALID_ARGUMENT, never echoing the password', async (_name, change, message) => {
    const error = await refused({ ...BASE, ...change })
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toMatch(message)
    expect(JSON.stringify(error)).not.toContain(PASSWORD)
    expect(error.message).not.toContain(PASSWORD)
  })

  it.each<[string, unknown, RegExp]>([
    ['a string', 'console', /settings.logger must be an object/],
    ['null', null, /settings.logger must be an object/],
    ['a warn that is not a function', { warn: 'loud' }, /settings.logger.warn must be a function/],
    ['a debug that is not a function', { debug: 1, info() {}, warn() {} }, /settings.logger.debug must be/],
    [
      'a proxy that throws when read',
      new Proxy(
        {},
        {
          get() {
            throw new Error('trap')
          },
        },
      ),
      /settings.logger could not be read/,
    ],
  ])('refuses a logger that is %s with INVALID_ARGUMENT', async (_name, logger, message) => {
    const error = await refused({ ...BASE, logger: logger as never })
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toMatch(message)
  })

  it.each<[string, unknown]>([
    ['console', console],
    ['a logger with only warn', { warn() {} }],
    ['a logger with no methods', {}],
    ['a function with logger methods', Object.assign(() => undefined, { warn() {}, info() {} })],
  ])('accepts %s as the logger', async (_name, logger) => {
    // Accepted settings get as far as the network: the port refuses the connection.
    const error = await refused({
      ...BASE,
      url: 'http://127.0.0.1:9/sdk',
      retries: 0,
      logger: logger as never,
    })
    expect(error.code).toBe('UNAVAILABLE')
  })

  it('reports an unreachable endpoint as UNAVAILABLE', async () => {
    const error = await refused({ ...BASE, url: 'http://127.0.0.1:9/sdk', timeoutMs: 5_000 })
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail).toMatchObject({ network: 'ECONNREFUSED' })
  })
})

describe('TLS helpers', () => {
  it('normalises SHA-256 thumbprints', () => {
    const hex = 'ab'.repeat(32)
    expect(normalizeThumbprint(hex)).toBe(Array(32).fill('AB').join(':'))
    expect(normalizeThumbprint(Array(32).fill('ab').join(':'))).toBe(Array(32).fill('AB').join(':'))
  })

  it('builds a TLS connector per connection, never touching process-wide TLS settings', () => {
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    expect(new Connector({ insecure: true }).verifiesChain).toBe(false)
    expect(new Connector(undefined).verifiesChain).toBe(true)
    expect(new Connector({ ca: 'x' }).verifiesChain).toBe(true)
    const pinned = new Connector({ thumbprint: 'ab'.repeat(32) })
    expect(pinned.verifiesChain).toBe(false)
    expect(pinned.pinned).toBe(Array(32).fill('AB').join(':'))
    expect(new Connector({ thumbprint: 'ab'.repeat(32), ca: 'x' }).verifiesChain).toBe(true)
    expect(() => new Connector({ insecure: true, thumbprint: 'ab'.repeat(32) })).toThrow(/cannot be combined/)
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBe(before)
  })
})

describe('transfer URLs', () => {
  const endpoint = new URL('https://vc.example.test:8443/sdk')
  it('replaces a * host by the connected host, keeping a named port', () => {
    expect(resolveTransferUrl('https://*:443/guestFile?id=1&token=x', endpoint).href).toBe(
      'https://vc.example.test/guestFile?id=1&token=x',
    )
    expect(resolveTransferUrl('https://*/guestFile?id=1', endpoint).href).toBe(
      'https://vc.example.test:8443/guestFile?id=1',
    )
  })
  it('resolves paths against the endpoint and refuses other schemes', () => {
    expect(resolveTransferUrl('/folder/a.txt?dsName=LocalDS_0', endpoint).href).toBe(
      'https://vc.example.test:8443/folder/a.txt?dsName=LocalDS_0',
    )
    expect(() => resolveTransferUrl('file:///etc/passwd', endpoint)).toThrow(/http or https/)
    expect(() => resolveTransferUrl('http://*/guestFile?id=1', endpoint)).toThrow(/plain http/)
    expect(resolveTransferUrl('http://*:8080/guestFile?id=1', new URL('http://127.0.0.1/sdk')).href).toBe(
      'http://127.0.0.1:8080/guestFile?id=1',
    )
    expect(() => resolveTransferUrl('https://u:p@esx/x', endpoint)).toThrow(/credentials/)
  })
})
