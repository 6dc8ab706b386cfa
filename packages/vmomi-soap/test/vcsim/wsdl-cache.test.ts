import { expect, it } from 'vitest'
import { wsdlCache } from '../../src/soap-client.js'
import { connect, useVcsim } from '../support/vcsim.js'

const vcsim = useVcsim()

// The parsed WSDL lives for the whole process; a connection's HTTP client (which holds its
// transport and the secrets its redactor scrubs) must not be kept with it.
it('keeps no gateway connection in the shared WSDL cache', async () => {
  const gateway = await connect(vcsim())
  await gateway.close()
  expect(wsdlCache.size).toBe(1)
  const [wsdl] = [...wsdlCache.values()] as { options: Record<string, unknown> }[]
  expect(wsdl?.options).toBeDefined()
  expect(wsdl?.options.httpClient).toBeUndefined()
})
