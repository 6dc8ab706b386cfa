import { createClientAsync } from 'soap'
import { normalizeField } from '../../src/normalize.js'
import { OPS } from '../../src/schema/registry.js'
import { toSoapArgs } from '../../src/serialize.js'
import { vim25Wsdl } from '../../src/wsdl.js'

type Client = Record<string, (args: unknown) => Promise<[unknown]>>

/**
 * node-soap with the generated WSDL and an HTTP client that answers from memory: what node-soap
 * sends and parses, without a server (the gateway's own transport is tested against vcsim).
 */
export async function offlineClient(answer: (requestXml: string) => { status: number; body: string }) {
  const requests: string[] = []
  const client = (await createClientAsync(vim25Wsdl(), {
    endpoint: 'http://127.0.0.1:9/sdk',
    httpClient: {
      request(_url: string, data: string, callback: (e: unknown, res?: unknown, body?: unknown) => void) {
        requests.push(data)
        const { status, body } = answer(data)
        setImmediate(() => callback(null, { status, headers: {}, data: body }, body))
        return Promise.resolve()
      },
    },
  } as never)) as unknown as Client
  return {
    requests,
    /** Serialises `args` as the gateway does and returns the request body node-soap built. */
    async send(method: string, args: unknown): Promise<string> {
      const op = OPS.get(method)
      if (!op) throw new Error(`no ${method}`)
      const fn = client[`${method}Async`]
      if (!fn) throw new Error(`client lacks ${method}`)
      await fn.call(client, toSoapArgs(op, args))
      return requests[requests.length - 1] as string
    },
    /** Parses `body` as the response of `method` and normalises it as the gateway does. */
    async receive(method: string, args: unknown): Promise<unknown> {
      const op = OPS.get(method)
      if (!op?.returns) throw new Error(`no result for ${method}`)
      const fn = client[`${method}Async`]
      if (!fn) throw new Error(`client lacks ${method}`)
      const [raw] = await fn.call(client, toSoapArgs(op, args))
      return normalizeField((raw as { returnval?: unknown } | null)?.returnval, op.returns)
    },
    /** The raw node-soap rejection for `method` (a SOAP fault answer). */
    async fail(method: string, args: unknown): Promise<unknown> {
      const op = OPS.get(method)
      if (!op) throw new Error(`no ${method}`)
      const fn = client[`${method}Async`]
      if (!fn) throw new Error(`client lacks ${method}`)
      try {
        await fn.call(client, toSoapArgs(op, args))
      } catch (e) {
        return e
      }
      throw new Error(`${method} did not fail`)
    },
  }
}

export function envelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ' +
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ' +
    `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`
  )
}

export function fault(detail: string, message = 'fault'): string {
  return envelope(
    `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${message}</faultstring><detail>${detail}</detail></soapenv:Fault>`,
  )
}
