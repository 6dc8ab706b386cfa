import { createClientAsync } from 'soap'
import { describe, expect, it } from 'vitest'
import { parseAnswer } from '../src/fast-parse.js'
import { normalizeField } from '../src/normalize.js'
import { OPS } from '../src/schema/registry.js'
import { vim25Wsdl } from '../src/wsdl.js'
import { envelope } from './support/soap-capture.js'

const XI = 'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type'

async function oracle(xml: string): Promise<Record<string, unknown>> {
  const client = (await createClientAsync(vim25Wsdl(), {
    endpoint: 'http://127.0.0.1:9/sdk',
    returnFault: false,
    preserveWhitespace: true,
  } as never)) as unknown as { wsdl: { xmlToObject(xml: string): Record<string, unknown> } }
  return client.wsdl.xmlToObject(xml)
}

const returnval = (env: Record<string, unknown> | undefined, element: string) => {
  const body = (env?.Body ?? {}) as Record<string, unknown>
  return (body[element] as { returnval?: unknown } | null)?.returnval
}

describe('the fast answer parser', () => {
  it('reads what node-soap reads: nil elements left out, self-closing and empty elements, entities, white space', async () => {
    const xml = envelope(
      `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-1</obj>
      <propSet><name>a</name><val ${XI}="xsd:string"> &lt;x&gt; &amp; &#233;&#x1F680; </val></propSet>
      <propSet><name>b</name><val ${XI}="xsd:string"/></propSet>
      <propSet><name>c</name><val ${XI}="xsd:string">   </val></propSet>
      <propSet><name>d</name><val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></propSet>
      <propSet><name>e</name><val ${XI}="ArrayOfOptionValue"><OptionValue ${XI}="OptionValue"><key>k</key><value ${XI}="xsd:int">7</value></OptionValue></val></propSet>
      <!-- a comment -->
      </objects></returnval></RetrievePropertiesExResponse>`,
    )
    const fast = parseAnswer(xml)
    expect(fast).toBeDefined()
    const op = OPS.get('RetrievePropertiesEx')
    if (!op?.returns) throw new Error('no op')
    const element = 'RetrievePropertiesExResponse'
    expect(normalizeField(returnval(fast, element), op.returns)).toEqual(
      normalizeField(returnval(await oracle(xml), element), op.returns),
    )
  })

  it('takes an element named like an inherited property as a field, and leaves __proto__ to node-soap', () => {
    const answer = (inner: string) =>
      parseAnswer(
        envelope(
          `<CurrentTimeResponse xmlns="urn:vim25"><returnval>${inner}</returnval></CurrentTimeResponse>`,
        ),
      )
    const returned = (env: Record<string, unknown> | undefined) =>
      returnval(env, 'CurrentTimeResponse') as Record<string, unknown>
    expect(returned(answer('<constructor>a</constructor><toString>b</toString>'))).toEqual({
      constructor: 'a',
      toString: 'b',
    })
    expect(returned(answer('<constructor>a</constructor><constructor>b</constructor>'))).toEqual({
      constructor: ['a', 'b'],
    })
    expect(answer('<__proto__>x</__proto__>')).toBeUndefined()
  })

  it('leaves faults, CDATA, DTDs, references, unknown entities and malformed answers to node-soap', () => {
    const fault = envelope(
      '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>no</faultstring></soapenv:Fault>',
    )
    for (const xml of [
      fault,
      envelope(
        '<CurrentTimeResponse xmlns="urn:vim25"><returnval><![CDATA[x]]></returnval></CurrentTimeResponse>',
      ),
      `<!DOCTYPE x>${envelope('<CurrentTimeResponse xmlns="urn:vim25"/>')}`,
      envelope('<CurrentTimeResponse xmlns="urn:vim25"><returnval href="#1"/></CurrentTimeResponse>'),
      envelope('<CurrentTimeResponse xmlns="urn:vim25"><returnval>&nbsp;</returnval></CurrentTimeResponse>'),
      envelope('<CurrentTimeResponse xmlns="urn:vim25"><returnval>&#xZZ;</returnval></CurrentTimeResponse>'),
      envelope('<CurrentTimeResponse xmlns="urn:vim25"><returnval>a & b</returnval></CurrentTimeResponse>'),
      envelope('<CurrentTimeResponse xmlns="urn:vim25"><returnval>x</wrong></CurrentTimeResponse>'),
      '<Envelope><Body/></Envelope>',
      'not xml',
      '',
    ]) {
      expect(parseAnswer(xml)).toBeUndefined()
    }
  })
})
