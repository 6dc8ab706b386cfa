import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { envelope } from './soap-capture.js'

const SERVICE_CONTENT = `<rootFolder type="Folder">group-d1</rootFolder>
  <propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>
  <about><name>fake</name><fullName>fake vSphere</fullName><vendor>portlayer</vendor><version>6.5</version>
  <build>1</build><osType>linux</osType><productLineId>fake</productLineId><apiType>VirtualCenter</apiType>
  <apiVersion>6.5</apiVersion></about>
  <sessionManager type="SessionManager">SessionManager</sessionManager>
  <searchIndex type="SearchIndex">SearchIndex</searchIndex>`

const USER_SESSION = `<key>session-key</key><userName>u</userName><fullName>u</fullName>
  <loginTime>2024-01-01T00:00:00Z</loginTime><lastActiveTime>2024-01-01T00:00:00Z</lastActiveTime>
  <locale>en</locale><messageLocale>en</messageLocale>`

/**
 * A minimal SDK endpoint for what vcsim cannot show: `RetrieveServiceContent`, `Login` (each one a
 * new session cookie), `Logout`, and `/folder` files that, as on vCenter, need a live session
 * (401 otherwise). `onFolder` may hold back a `/folder` answer.
 */
export async function startFakeSdk(
  onFolder?: (request: { session: string | undefined; live: boolean }) => Promise<void>,
) {
  let sessions = 0
  let live: string | undefined
  const server = http.createServer((req, res) => {
    const cookie = /vmware_soap_session="?([^";]+)/.exec(req.headers.cookie ?? '')?.[1]
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      if (req.url?.startsWith('/folder/')) {
        const ok = cookie !== undefined && cookie === live
        await onFolder?.({ session: cookie, live: ok })
        res.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain' }).end(ok ? 'data' : 'not logged in')
        return
      }
      const body = Buffer.concat(chunks).toString('utf8')
      const method = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?(\w+)/.exec(body)?.[1]
      const answer = (inner: string, headers: Record<string, string> = {}) =>
        res
          .writeHead(200, { 'content-type': 'text/xml', ...headers })
          .end(envelope(`<${method}Response xmlns="urn:vim25">${inner}</${method}Response>`))
      if (method === 'RetrieveServiceContent') return answer(`<returnval>${SERVICE_CONTENT}</returnval>`)
      if (method === 'Login') {
        live = `s${++sessions}`
        return answer(`<returnval>${USER_SESSION}</returnval>`, {
          'set-cookie': `vmware_soap_session="${live}"; Path=/; HttpOnly`,
        })
      }
      if (method === 'Logout') return answer('')
      res.writeHead(500).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/sdk`,
    /** Sessions created so far (Login calls). */
    get logins() {
      return sessions
    },
    /** Ends the live session, as vCenter does when it times out. */
    expire() {
      live = undefined
    },
    async stop() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
