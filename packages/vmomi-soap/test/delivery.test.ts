import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redactor } from '../src/redact.js'
import { type Delivery, Transport, toTransportError } from '../src/transport.js'

// How far a failed request got decides whether a change may have landed. Checked with real
// sockets: a server that reads the whole request and hangs up, one that hangs up without reading,
// one that is not there, and aborts before and after the request was written.

describe('delivery of a failed request', () => {
  let server: http.Server
  let base: string
  const transport = new Transport(new URL('http://127.0.0.1/'), undefined, 4, new Redactor())

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/read-then-drop') {
        req.resume()
        req.on('end', () => req.socket.destroy())
      } else if (req.url === '/drop-unread') {
        req.socket.destroy()
      } else if (req.url === '/slow') {
        req.resume()
        setTimeout(() => res.end('slow'), 100)
      } else if (req.url === '/hold') {
        req.resume()
      } else {
        res.end('ok')
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    transport.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  async function deliveryOf(url: string, body: string, signal?: AbortSignal): Promise<Delivery> {
    try {
      await transport.request({ url: new URL(url), method: 'POST', headers: [], body, signal })
    } catch (error) {
      return toTransportError(error, new Redactor()).delivery
    }
    throw new Error('the request succeeded')
  }

  it('written in full, then the connection dropped: all', async () => {
    expect(await deliveryOf(`${base}/read-then-drop`, '<Envelope/>')).toBe('all')
  })

  it('a large body the server never read: partial', async () => {
    expect(await deliveryOf(`${base}/drop-unread`, 'x'.repeat(8_000_000))).toBe('partial')
  })

  it('no server listening: none', async () => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    expect(await deliveryOf(`http://127.0.0.1:${port}/`, 'x')).toBe('none')
  })

  it('aborted before it was sent: none; aborted while waiting for the answer: all', async () => {
    expect(await deliveryOf(`${base}/hold`, 'x', AbortSignal.abort())).toBe('none')
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    expect(await deliveryOf(`${base}/hold`, 'x', controller.signal)).toBe('all')
  })

  it('aborted while queued behind a busy connection: none, and that connection carries on', async () => {
    const one = new Transport(new URL(base), undefined, 1, new Redactor())
    const post = (path: string, signal?: AbortSignal) =>
      one.request({ url: new URL(`${base}${path}`), method: 'POST', headers: [], body: 'x', signal })
    try {
      const first = post('/slow')
      const queued = new AbortController()
      const second = post('/', queued.signal)
      await new Promise((r) => setTimeout(r, 20))
      queued.abort()
      expect(await second.catch((e: unknown) => e)).toMatchObject({ delivery: 'none' })
      expect((await first).body.toString()).toBe('slow')
    } finally {
      one.close()
    }
  })

  it('an error that is not an HTTP client error is taken at its worst', () => {
    expect(toTransportError(new Error('odd'), new Redactor()).delivery).toBe('all')
    expect(toTransportError({ code: 'ECONNREFUSED', message: 'refused' }, new Redactor()).delivery).toBe(
      'none',
    )
  })
})
