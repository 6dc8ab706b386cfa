import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { createSoapGateway } from '../src/index.js'
import type { TlsOptions } from '../src/tls.js'

/** A server that accepts TCP connections and never answers: a TLS handshake with it stalls. */
async function stallingServer() {
  const open = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => undefined)
    socket.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    url: `https://127.0.0.1:${port}/sdk`,
    open,
    async stop() {
      for (const socket of open) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  return check()
}

describe('sockets of a gateway that gave up', () => {
  it.each<[string, TlsOptions | undefined]>([
    ['verified', undefined],
    ['pinned', { thumbprint: 'AB'.repeat(32) }],
    ['insecure', { insecure: true }],
  ])('closes the socket of a %s connection whose TLS handshake stalled', async (_name, tls) => {
    const server = await stallingServer()
    try {
      const error = await createSoapGateway({
        url: server.url,
        username: 'u',
        password: 'p',
        tls,
        timeoutMs: 150,
      }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'TIMEOUT' })
      expect(server.open.size).toBeLessThanOrEqual(1)
      // The socket is the client's to close: left open, it would keep the process alive.
      expect(await until(() => server.open.size === 0, 1_000)).toBe(true)
    } finally {
      await server.stop()
    }
  })
})
