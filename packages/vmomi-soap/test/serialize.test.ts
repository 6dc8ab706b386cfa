import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { OPS } from '../src/schema/registry.js'
import { toSoapArgs } from '../src/serialize.js'
import { envelope, offlineClient } from './support/soap-capture.js'

const PC = { type: 'PropertyCollector', value: 'propertyCollector' }
const VM = { type: 'VirtualMachine', value: 'vm-42' }

function ok(method: string): string {
  return envelope(`<${method}Response xmlns="urn:vim25"></${method}Response>`)
}

async function request(method: string, args: unknown): Promise<string> {
  const client = await offlineClient(() => ({ status: 200, body: ok(method) }))
  return client.send(method, args)
}

function serializeError(method: string, args: unknown): PortLayerError {
  const op = OPS.get(method)
  if (!op) throw new Error(method)
  try {
    toSoapArgs(op, args)
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e
    throw e
  }
  throw new Error('no error')
}

describe('request serialisation', () => {
  it('writes references with their type attribute and qualified vim25 elements', async () => {
    const xml = await request('Destroy_Task', { _this: VM })
    expect(xml).toMatch(/<vim25:Destroy_Task[^>]*xmlns="urn:vim25"/)
    expect(xml).toContain('<vim25:_this type="VirtualMachine">vm-42</vim25:_this>')
  })

  it('writes fields of a derived type in vim25 order whatever order the caller used', async () => {
    const xml = await request('RetrievePropertiesEx', {
      _this: PC,
      specSet: [
        {
          objectSet: [
            {
              selectSet: [
                {
                  selectSet: [{ name: 'toVm' }],
                  skip: false,
                  path: 'view',
                  type: 'ContainerView',
                  _type: 'TraversalSpec',
                  name: 'tv',
                },
              ],
              skip: true,
              obj: { type: 'ContainerView', value: 'session[1]2' },
            },
          ],
          propSet: [{ pathSet: ['name', 'config.extraConfig'], type: 'VirtualMachine' }],
        },
      ],
      options: { maxObjects: 100 },
    })
    const order = (names: string[]) => names.map((n) => xml.indexOf(`<vim25:${n}>`))
    const spec = xml.slice(xml.indexOf('xsi:type="'))
    expect(spec).toMatch(/^xsi:type="\w+:TraversalSpec"/)
    const traversal = xml.slice(xml.indexOf('TraversalSpec'))
    const positions = ['name', 'type', 'path', 'skip', 'selectSet'].map((n) =>
      traversal.indexOf(`<vim25:${n}`),
    )
    expect(positions).toEqual([...positions].sort((a, b) => a - b))
    expect(positions.every((p) => p >= 0)).toBe(true)
    // propSet precedes objectSet in PropertyFilterSpec; obj, skip, selectSet in ObjectSpec.
    const [propSet, objectSet] = order(['propSet', 'objectSet'])
    expect(propSet).toBeLessThan(objectSet as number)
    expect(xml.indexOf('<vim25:obj ')).toBeLessThan(xml.indexOf('<vim25:skip>true'))
    expect(xml).toContain(
      '<vim25:pathSet>name</vim25:pathSet><vim25:pathSet>config.extraConfig</vim25:pathSet>',
    )
    expect(xml).toContain('<vim25:maxObjects>100</vim25:maxObjects>')
  })

  it('types OptionValue strings as xsd:string with a declared prefix', async () => {
    const xml = await request('ReconfigVM_Task', {
      _this: VM,
      spec: {
        extraConfig: [{ key: 'guestinfo.portlayer.id', value: 'abc' }],
        changeVersion: '7',
        memoryMB: 512,
      },
    })
    expect(xml).toMatch(
      /<vim25:value xsi:type="xsd:string" xmlns:xsd="http:\/\/www.w3.org\/2001\/XMLSchema">abc</,
    )
    expect(xml.indexOf('changeVersion')).toBeLessThan(xml.indexOf('memoryMB'))
    expect(xml.indexOf('memoryMB')).toBeLessThan(xml.indexOf('extraConfig'))
  })

  it('writes guest authentication as NamePasswordAuthentication', async () => {
    const xml = await request('StartProgramInGuest', {
      _this: { type: 'GuestProcessManager', value: 'ProcessManager' },
      vm: VM,
      auth: {
        _type: 'NamePasswordAuthentication',
        password: 'pw',
        username: 'root',
        interactiveSession: false,
      },
      spec: { programPath: '/bin/true', arguments: '' },
    })
    expect(xml).toMatch(/<vim25:auth xsi:type="\w+:NamePasswordAuthentication"/)
    expect(xml.indexOf('interactiveSession')).toBeLessThan(xml.indexOf('username'))
    expect(xml.indexOf('username')).toBeLessThan(xml.indexOf('password'))
  })

  it('writes values of types outside the table in the caller order with their _type', async () => {
    const xml = await request('ReconfigVM_Task', {
      _this: VM,
      spec: {
        deviceChange: [
          {
            operation: 'add',
            device: {
              _type: 'VirtualE1000',
              key: -1,
              deviceInfo: { label: 'nic', summary: 'x' },
              connectable: { connected: true },
            },
          },
        ],
      },
    })
    expect(xml).toMatch(/<vim25:device xsi:type="\w+:VirtualE1000"/)
    expect(xml).toMatch(/<key>-1<\/key>|<vim25:key>-1<\/vim25:key>/)
    expect(xml).toMatch(/connected>true</)
  })

  it('escapes markup, including strings shaped like CDATA sections', async () => {
    const xml = await request('FindByInventoryPath', {
      _this: { type: 'SearchIndex', value: 'SearchIndex' },
      inventoryPath: 'a<b>&"c',
    })
    expect(xml).toContain('a&lt;b&gt;&amp;&quot;c')
    const sneaky = '<![CDATA[x]]></vim25:inventoryPath><vim25:evil/><![CDATA[y]]>'
    const xml2 = await request('FindByInventoryPath', {
      _this: { type: 'SearchIndex', value: 'SearchIndex' },
      inventoryPath: sneaky,
    })
    // The markup travels as character data: the element holds CDATA sections only, which decode
    // back to the string exactly.
    const body = xml2.slice(
      xml2.indexOf('<vim25:inventoryPath>') + 21,
      xml2.lastIndexOf('</vim25:inventoryPath>'),
    )
    expect(body.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '')).toBe('')
    const decoded = [...body.matchAll(/<!\[CDATA\[([\s\S]*?)\]\]>/g)].map((m) => m[1]).join('')
    expect(decoded).toBe(sneaky)
  })

  it('refuses what XML cannot carry and what the table does not know, naming the path only', () => {
    const secret = 'hunter2\u0000'
    const e1 = serializeError('Login', {
      _this: { type: 'SessionManager', value: 'SessionManager' },
      userName: 'u',
      password: secret,
    })
    expect(e1.code).toBe('INVALID_ARGUMENT')
    expect(e1.message).toContain('Login.password')
    expect(JSON.stringify(e1)).not.toContain('hunter2')

    expect(serializeError('Destroy_Task', { _this: VM, extra: 1 }).message).toContain(
      'unknown argument extra',
    )
    expect(serializeError('Destroy_Task', {}).message).toContain('_this is required')
    expect(serializeError('Destroy_Task', { _this: { type: 'Virtual Machine', value: 'x' } }).code).toBe(
      'INVALID_ARGUMENT',
    )
    expect(serializeError('ReconfigVM_Task', { _this: VM, spec: { memoryMb: 5 } }).message).toContain(
      'memoryMb is not a field of VirtualMachineConfigSpec',
    )
    expect(serializeError('ReconfigVM_Task', { _this: VM, spec: { memoryMB: 1.5 } }).message).toContain(
      'must be an integer',
    )
    expect(
      serializeError('ReconfigVM_Task', { _this: VM, spec: { extraConfig: { key: 'a', value: 'b' } } })
        .message,
    ).toContain('must be an array')
    expect(
      serializeError('ReconfigVM_Task', { _this: VM, spec: { extraConfig: [{ key: 'a' }] } }).message,
    ).toContain('value is required')
    expect(
      serializeError('StartProgramInGuest', {
        _this: VM,
        vm: VM,
        auth: { _type: 'TraversalSpec', interactiveSession: false },
        spec: { programPath: '/bin/true', arguments: '' },
      }).message,
    ).toContain('is not a kind of GuestAuthentication')
    expect(serializeError('CurrentTime', 'nope').code).toBe('INVALID_ARGUMENT')
  })
})
