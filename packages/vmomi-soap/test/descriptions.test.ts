import { createClientAsync } from 'soap'
import { describe, expect, it } from 'vitest'
import { keepDescriptions } from '../src/soap-client.js'
import { vim25Wsdl } from '../src/wsdl.js'
import { envelope } from './support/soap-capture.js'

// The gateway keeps node-soap's schema descriptions after their first use (they depend only on the
// parsed WSDL). node-soap left as it is is the oracle: the same answers must parse the same.

type Parser = { wsdl: { xmlToObject(xml: string): unknown; definitions: never } }

async function parser(): Promise<Parser> {
  return (await createClientAsync(vim25Wsdl(), {
    endpoint: 'http://127.0.0.1:9/sdk',
    returnFault: false,
    preserveWhitespace: true,
  } as never)) as unknown as Parser
}

const XI = 'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type'
const objects = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => `<objects><obj type="VirtualMachine">vm-${i}</obj>
      <propSet><name>config.changeVersion</name><val ${XI}="xsd:string">2024-05-01T10:00:0${i}Z</val></propSet>
      <propSet><name>config.hardware.memoryMB</name><val ${XI}="xsd:int">${256 + i}</val></propSet>
      <propSet><name>runtime.powerState</name><val ${XI}="VirtualMachinePowerState">poweredOn</val></propSet>
      <propSet><name>config.extraConfig</name><val ${XI}="ArrayOfOptionValue">${Array.from(
        { length: i + 1 },
        (_, k) =>
          `<OptionValue ${XI}="OptionValue"><key>guestinfo.portlayer.k${k}</key><value ${XI}="xsd:string"> v ${k} </value></OptionValue>`,
      ).join('')}</val></propSet>
      <propSet><name>runtime.host</name><val type="HostSystem" ${XI}="ManagedObjectReference">host-9</val></propSet>
    </objects>`,
  ).join('')

const ANSWERS = [
  envelope(
    `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>t-1</token>${objects(3)}</returnval></RetrievePropertiesExResponse>`,
  ),
  envelope(
    `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>${objects(1)}</returnval></RetrievePropertiesExResponse>`,
  ),
  envelope(
    `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="Task">task-1</obj><propSet><name>info</name><val ${XI}="TaskInfo"><key>task-1</key><task type="Task">task-1</task><name>ReconfigVM_Task</name><state>error</state><cancelled>false</cancelled><cancelable>false</cancelable><error><fault ${XI}="InvalidState"></fault><localizedMessage>bad</localizedMessage></error><result ${XI}="ManagedObjectReference" type="VirtualMachine">vm-1</result></val></propSet></objects></returnval></RetrievePropertiesExResponse>`,
  ),
  envelope(
    `<FindByInventoryPathResponse xmlns="urn:vim25"><returnval type="VirtualMachine">vm-7</returnval></FindByInventoryPathResponse>`,
  ),
  envelope(
    `<ReconfigVM_TaskResponse xmlns="urn:vim25"><returnval type="Task">task-2</returnval></ReconfigVM_TaskResponse>`,
  ),
]

describe('schema descriptions kept by the gateway', () => {
  it('parse answers exactly as node-soap does, the first time and every time after', async () => {
    const oracle = await parser()
    const kept = await parser()
    keepDescriptions(kept.wsdl.definitions)
    for (let round = 0; round < 3; round++) {
      for (const answer of ANSWERS) {
        expect(kept.wsdl.xmlToObject(answer)).toEqual(oracle.wsdl.xmlToObject(answer))
      }
    }
  })

  it('still fail on a SOAP fault the way node-soap does', async () => {
    const oracle = await parser()
    const kept = await parser()
    keepDescriptions(kept.wsdl.definitions)
    const fault = envelope(
      `<soapenv:Fault xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>ServerFaultCode</faultcode><faultstring>no</faultstring><detail><InvalidStateFault xmlns="urn:vim25" ${XI}="InvalidState"></InvalidStateFault></detail></soapenv:Fault>`,
    )
    const failure = (p: Parser) => {
      try {
        p.wsdl.xmlToObject(fault)
      } catch (e) {
        return e as { message: string; root: unknown }
      }
      throw new Error('no fault')
    }
    const a = failure(kept)
    const b = failure(oracle)
    expect(a.message).toBe(b.message)
    expect(a.root).toEqual(b.root)
  })
})
