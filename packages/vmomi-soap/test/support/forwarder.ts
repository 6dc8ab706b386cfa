import net from 'node:net'

/**
 * A TCP forwarder in front of a server, for what the harness's fault injection cannot do: refuse
 * connections (`refuse()`: the port stops listening, open connections are cut) and lose answers
 * (`swallowAnswers()`: requests reach the server in full; the first byte of its answer closes the
 * client's connection instead).
 */
export async function startForwarder(target: URL) {
  const sockets = new Set<net.Socket>()
  let swallow = false
  const port = Number(target.port)
  const host = target.hostname
  const handle = (client: net.Socket): void => {
    const server = net.connect(port, host)
    sockets.add(client)
    sockets.add(server)
    const end = (): void => {
      client.destroy()
      server.destroy()
      sockets.delete(client)
      sockets.delete(server)
    }
    client.on('data', (chunk) => server.write(chunk))
    server.on('data', (chunk) => {
      if (swallow) end()
      else client.write(chunk)
    })
    client.on('error', end).on('close', end)
    server.on('error', end).on('close', end)
  }
  let listener = net.createServer(handle)
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const address = listener.address() as net.AddressInfo
  const url = new URL(target.href)
  url.hostname = '127.0.0.1'
  url.port = String(address.port)
  const cut = (): void => {
    for (const socket of sockets) socket.destroy()
    sockets.clear()
  }
  return {
    /** The target's URL, through the forwarder. */
    url: url.href,
    swallowAnswers(on = true): void {
      swallow = on
    },
    /** Stops listening (new connections are refused) and cuts every open connection. */
    async refuse(): Promise<void> {
      cut()
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    },
    /** Listens again on the same port. */
    async accept(): Promise<void> {
      listener = net.createServer(handle)
      await new Promise<void>((resolve) => listener.listen(address.port, '127.0.0.1', resolve))
    },
    async stop(): Promise<void> {
      cut()
      if (listener.listening) await new Promise<void>((resolve) => listener.close(() => resolve()))
    },
  }
}
