import { type Client, createClientAsync, type IOptions } from 'soap'
import type { Redactor } from './redact.js'
import { SoapHttpClient, type Transport } from './transport.js'
import { vim25Wsdl } from './wsdl.js'

type SoapMethod = (args: unknown, options?: { signal?: AbortSignal }) => Promise<[unknown, ...unknown[]]>

/** The slice of a node-soap client the gateway uses. */
export interface VimSoapClient {
  invoke(method: string, args: unknown, signal: AbortSignal): Promise<unknown>
}

// node-soap parses a WSDL string once per cache; ours holds only the generated vim25 subset.
export const wsdlCache = new Map<string, unknown>()

// Options the parsed WSDL itself reads (they are kept with it in the cache).
const WSDL_OPTIONS = {
  // vim25 faults carry the fault type in the detail; node-soap must not interpret them.
  returnFault: false,
  // Otherwise node-soap trims every text value: an extraConfig value or a name would lose the
  // spaces at its ends.
  preserveWhitespace: true,
}

// The cached WSDL keeps the options of whichever client parsed it first, HTTP client included,
// for the life of the process. Parsing it first with options that hold no connection keeps a
// closed gateway's transport (and its credentials) from living on in the cache.
let warmed: Promise<unknown> | undefined
function warmWsdlCache(): Promise<unknown> {
  warmed ??= createClientAsync(vim25Wsdl(), { wsdlCache, ...WSDL_OPTIONS } as unknown as IOptions)
  return warmed
}

export async function createVimSoapClient(
  transport: Transport,
  redactor: Redactor,
  apiVersion: string,
): Promise<VimSoapClient> {
  await warmWsdlCache()
  const client = (await createClientAsync(vim25Wsdl(), {
    endpoint: transport.endpoint.href,
    httpClient: new SoapHttpClient(transport, redactor),
    wsdlCache,
    ...WSDL_OPTIONS,
  } as unknown as IOptions)) as unknown as Client & Record<string, unknown>
  client.setSOAPAction(`urn:vim25/${apiVersion}`)
  const mutable = client as unknown as Record<string, unknown>
  // node-soap keeps the last request and response on the client (a password, a session key).
  const forget = (): void => {
    mutable.lastRequest = undefined
    mutable.lastMessage = undefined
    mutable.lastRequestHeaders = undefined
    mutable.lastResponse = undefined
    mutable.lastResponseHeaders = undefined
  }
  return {
    async invoke(method, args, signal) {
      const fn = client[`${method}Async`] as SoapMethod | undefined
      if (typeof fn !== 'function') throw new Error(`node-soap client lacks ${method}`)
      try {
        const [result] = await fn.call(client, args, { signal })
        return result
      } finally {
        forget()
      }
    },
  }
}
