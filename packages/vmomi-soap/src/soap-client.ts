import { type Client, createClientAsync, type IOptions } from 'soap'
import { encodeRequest } from './encode.js'
import { parseAnswer } from './fast-parse.js'
import type { Redactor } from './redact.js'
import type { CallScope } from './scope.js'
import { SOAP_CONTENT_TYPE, SoapHttpClient, type Transport, toTransportError } from './transport.js'
import { vim25Wsdl } from './wsdl.js'

type SoapMethod = (args: unknown, options?: { signal?: AbortSignal }) => Promise<[unknown, ...unknown[]]>

/** The slice of a node-soap client the gateway uses. */
export interface VimSoapClient {
  invoke(method: string, args: unknown, scope: CallScope): Promise<unknown>
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

type Description = (this: unknown, definitions: unknown, xmlns?: unknown) => unknown
interface Describable {
  description: Description
}
interface Definitions {
  schemas?: Record<string, { complexTypes?: object; types?: object; elements?: object }>
  messages?: object
}

const described = new WeakSet<object>()

/**
 * node-soap works out the schema description of a type anew for every element of an answer that
 * names its type (`xsi:type`: every property value, every extraConfig entry) and of every response
 * message, building fresh objects each time. With no namespace context given, a description
 * depends only on the parsed WSDL, which never changes: each is kept after its first use.
 */
export function keepDescriptions(definitions: Definitions | undefined): void {
  if (!definitions || described.has(definitions)) return
  described.add(definitions)
  const keep = (element: unknown): void => {
    const el = element as Partial<Describable> | null
    if (typeof el?.description !== 'function') return
    const original = el.description
    let kept: { value: unknown } | undefined
    el.description = function (this: unknown, defs: unknown, xmlns?: unknown): unknown {
      if (defs !== definitions || xmlns !== undefined) return original.call(this, defs, xmlns)
      kept ??= { value: original.call(this, defs) }
      return kept.value
    }
  }
  for (const schema of Object.values(definitions.schemas ?? {})) {
    for (const table of [schema.complexTypes, schema.types, schema.elements]) {
      for (const element of Object.values(table ?? {})) keep(element)
    }
  }
  for (const message of Object.values(definitions.messages ?? {})) keep(message)
}

interface Wsdl {
  definitions?: Definitions
  xmlToObject(xml: unknown, callback?: unknown): unknown
}

const fastParsing = new WeakSet<object>()

/** node-soap reads answers with {@link parseAnswer} first, and itself only what that leaves. */
export function useFastParse(wsdl: Wsdl | undefined): void {
  if (!wsdl || fastParsing.has(wsdl)) return
  fastParsing.add(wsdl)
  const own = wsdl.xmlToObject
  wsdl.xmlToObject = function (this: unknown, xml: unknown, callback?: unknown): unknown {
    if (callback === undefined && typeof xml === 'string') {
      const envelope = parseAnswer(xml)
      if (envelope !== undefined) return envelope
    }
    return own.call(this, xml, callback)
  }
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
  const wsdl = (client as unknown as { wsdl?: Wsdl }).wsdl
  keepDescriptions(wsdl?.definitions)
  useFastParse(wsdl)
  const mutable = client as unknown as Record<string, unknown>
  // node-soap keeps the last request and response on the client (a password, a session key).
  const forget = (): void => {
    mutable.lastRequest = undefined
    mutable.lastMessage = undefined
    mutable.lastRequestHeaders = undefined
    mutable.lastResponse = undefined
    mutable.lastResponseHeaders = undefined
  }
  const action = `"urn:vim25/${apiVersion}"`
  /**
   * A call whose envelope the gateway wrote itself: sent, and its answer read, as node-soap would
   * (its parser, its errors for a fault, an HTTP error status or an answer without a body).
   */
  const direct = async (method: string, xml: string, scope: CallScope): Promise<unknown> => {
    let answer: Awaited<ReturnType<Transport['request']>>
    try {
      answer = await transport.request({
        method: 'POST',
        url: transport.endpoint,
        headers: ['content-type', SOAP_CONTENT_TYPE, 'soapaction', action],
        body: xml,
        stop: scope,
      })
    } catch (error) {
      throw toTransportError(error, redactor)
    }
    const body = answer.body.toString('utf8')
    const response = { status: answer.status, headers: {}, data: body }
    let envelope: Record<string, unknown>
    try {
      envelope = (wsdl as Wsdl).xmlToObject(body) as Record<string, unknown>
    } catch (error) {
      if (typeof error === 'object' && error !== null) Object.assign(error, { response, body })
      throw error
    }
    const content = envelope?.Body
    if (!envelope?.html && !content) {
      if (answer.status >= 400) throw Object.assign(new Error('Error http status codes'), { response, body })
      return envelope
    }
    if (typeof content !== 'object' || content === null) {
      throw Object.assign(new Error('Cannot parse response'), { response, body })
    }
    const found = content as Record<string, unknown>
    return found[`${method}Response`] ?? found[method] ?? found[`${method}Out`] ?? found[`${method}Output`]
  }
  return {
    async invoke(method, args, scope) {
      const xml = wsdl ? encodeRequest(method, args as Record<string, unknown>) : undefined
      if (xml !== undefined) return direct(method, xml, scope)
      const signal = scope.signal
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
