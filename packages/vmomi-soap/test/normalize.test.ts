import { describe, expect, it } from 'vitest'
import { generic, normalizeField, normalizeValue, xsiTypeOf } from '../src/normalize.js'
import { envelope, offlineClient } from './support/soap-capture.js'

const PC = { type: 'PropertyCollector', value: 'propertyCollector' }
const SPEC = {
  _this: PC,
  specSet: [
    {
      propSet: [{ type: 'VirtualMachine', all: true }],
      objectSet: [{ obj: { type: 'VirtualMachine', value: 'vm-1' } }],
    },
  ],
  options: {},
}
// As govmomi writes it: the schema-instance namespace under its own long prefix.
const XI = 'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type'

async function retrieve(objects: string, token = ''): Promise<unknown> {
  const body = envelope(
    `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>${token}${objects}</returnval></RetrievePropertiesExResponse>`,
  )
  const client = await offlineClient(() => ({ status: 200, body }))
  return client.receive('RetrievePropertiesEx', SPEC)
}

describe('normalisation of parsed responses', () => {
  it('turns property values into numbers, booleans, dates, arrays and references by their xsi:type', async () => {
    const result = (await retrieve(`<objects><obj type="VirtualMachine">vm-1</obj>
      <propSet><name>config.hardware.memoryMB</name><val ${XI}="xsd:int">512</val></propSet>
      <propSet><name>config.template</name><val ${XI}="xsd:boolean">false</val></propSet>
      <propSet><name>runtime.bootTime</name><val ${XI}="xsd:dateTime">2024-05-01T10:00:00.5Z</val></propSet>
      <propSet><name>runtime.powerState</name><val ${XI}="VirtualMachinePowerState">poweredOn</val></propSet>
      <propSet><name>runtime.host</name><val type="HostSystem" ${XI}="ManagedObjectReference">host-9</val></propSet>
      <propSet><name>config.extraConfig</name><val ${XI}="ArrayOfOptionValue"><OptionValue ${XI}="OptionValue"><key>guestinfo.a</key><value ${XI}="xsd:string">1</value></OptionValue></val></propSet>
      <propSet><name>datastore</name><val ${XI}="ArrayOfManagedObjectReference"><ManagedObjectReference type="Datastore">ds-1</ManagedObjectReference></val></propSet>
      <propSet><name>empty</name><val ${XI}="ArrayOfOptionValue"></val></propSet>
      <propSet><name>config.name</name><val ${XI}="xsd:string"></val></propSet>
    </objects>`)) as {
      objects: { obj: unknown; propSet: { name: string; val: unknown }[]; missingSet: unknown[] }[]
    }

    expect(result.objects).toHaveLength(1)
    const [object] = result.objects
    expect(object?.obj).toEqual({ type: 'VirtualMachine', value: 'vm-1' })
    expect(object?.missingSet).toEqual([])
    const props = Object.fromEntries(object?.propSet.map((p) => [p.name, p.val]) ?? [])
    expect(props['config.hardware.memoryMB']).toBe(512)
    expect(props['config.template']).toBe(false)
    expect(props['runtime.bootTime']).toEqual(new Date('2024-05-01T10:00:00.5Z'))
    expect(props['runtime.powerState']).toBe('poweredOn')
    expect(props['runtime.host']).toEqual({ type: 'HostSystem', value: 'host-9' })
    // One item, still an array; the wrapper type is gone.
    expect(props['config.extraConfig']).toEqual([{ key: 'guestinfo.a', value: '1' }])
    expect(props.datastore).toEqual([{ type: 'Datastore', value: 'ds-1' }])
    expect(props.empty).toEqual([])
    expect(props['config.name']).toBe('')
  })

  it('unwraps ArrayOf values of types outside the table: one item, none, nested in ArrayOfAnyType', async () => {
    const result = (await retrieve(`<objects><obj type="VirtualMachine">vm-1</obj>
      <propSet><name>config.hardware.device</name><val ${XI}="ArrayOfVirtualDevice"><VirtualDevice ${XI}="VirtualDisk"><key>2000</key></VirtualDevice></val></propSet>
      <propSet><name>guest.net</name><val ${XI}="ArrayOfGuestNicInfo"><GuestNicInfo><network>VM Network</network></GuestNicInfo></val></propSet>
      <propSet><name>none</name><val ${XI}="ArrayOfGuestNicInfo"></val></propSet>
      <propSet><name>nested</name><val ${XI}="ArrayOfAnyType"><anyType ${XI}="ArrayOfString"><string>a</string></anyType><anyType ${XI}="xsd:int">3</anyType></val></propSet>
    </objects>`)) as { objects: { propSet: { name: string; val: unknown }[] }[] }
    const props = Object.fromEntries(result.objects[0]?.propSet.map((p) => [p.name, p.val]) ?? [])
    expect(props['config.hardware.device']).toEqual([{ _type: 'VirtualDisk', key: '2000' }])
    expect(props['guest.net']).toEqual([{ network: 'VM Network' }])
    expect(props.none).toEqual([])
    expect(props.nested).toEqual([['a'], 3])
  })

  it('names subtypes in _type under any xsi prefix and normalises their fields from the table', async () => {
    const result = (await retrieve(`<objects><obj type="Task">task-1</obj>
      <propSet><name>info</name><val xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="TaskInfo">
        <key>task-1</key><task type="Task">task-1</task><descriptionId>VirtualMachine.destroy</descriptionId>
        <entity type="VirtualMachine">vm-1</entity><state>error</state><cancelled>false</cancelled><cancelable>true</cancelable>
        <error><fault x:type="InvalidPowerState"><requestedState>poweredOff</requestedState><existingState>poweredOn</existingState></fault>
        <localizedMessage>The attempted operation cannot be performed in the current state (Powered on).</localizedMessage></error>
        <reason x:type="TaskReasonUser"><userName>root</userName></reason>
        <queueTime>2024-05-01T10:00:00Z</queueTime><eventChainId>12</eventChainId>
      </val></propSet></objects>`)) as { objects: { propSet: { val: Record<string, unknown> }[] }[] }
    const info = result.objects[0]?.propSet[0]?.val as Record<string, unknown>
    expect(info._type).toBe('TaskInfo')
    expect(info.state).toBe('error')
    expect(info.cancelled).toBe(false)
    expect(info.cancelable).toBe(true)
    expect(info.eventChainId).toBe(12)
    expect(info.queueTime).toEqual(new Date('2024-05-01T10:00:00Z'))
    expect(info.locked).toEqual([])
    expect(info.entity).toEqual({ type: 'VirtualMachine', value: 'vm-1' })
    expect(info.error).toEqual({
      fault: {
        _type: 'InvalidPowerState',
        faultMessage: [],
        requestedState: 'poweredOff',
        existingState: 'poweredOn',
      },
      localizedMessage: 'The attempted operation cannot be performed in the current state (Powered on).',
    })
    expect(info.reason).toEqual({ _type: 'TaskReasonUser', userName: 'root' })
  })

  it('keeps repeatable fields arrays with one item and passes unknown nested types through', async () => {
    const result = (await retrieve(
      `<objects><obj type="VirtualMachine">vm-1</obj>
      <propSet><name>config.hardware</name><val ${XI}="VirtualHardware"><numCPU>2</numCPU><memoryMB>64</memoryMB>
        <device ${XI}="VirtualDisk"><key>2000</key><deviceInfo ${XI}="Description"><label>disk</label></deviceInfo><capacityInKB>1024</capacityInKB></device>
      </val></propSet></objects>`,
      '<token>t1</token>',
    )) as {
      token: string
      objects: { propSet: { val: Record<string, unknown> }[] }[]
    }
    expect(result.token).toBe('t1')
    const hardware = result.objects[0]?.propSet[0]?.val as Record<string, unknown>
    expect(hardware).toMatchObject({ _type: 'VirtualHardware', numCPU: 2, memoryMB: 64 })
    // Outside the table a value keeps its _type; its fields stay text (their types are unknown).
    expect(hardware.device).toEqual([
      {
        _type: 'VirtualDisk',
        key: '2000',
        deviceInfo: { _type: 'Description', label: 'disk' },
        capacityInKB: '1024',
      },
    ])
  })

  it('normalises operation results: single returnval lists, dates, numbers', async () => {
    const list =
      envelope(`<ListProcessesInGuestResponse xmlns="urn:vim25"><returnval><name>sleep</name><pid>42</pid>
      <owner>root</owner><cmdLine>/bin/sleep 5</cmdLine><startTime>2024-05-01T10:00:00Z</startTime><exitCode>0</exitCode></returnval>
      </ListProcessesInGuestResponse>`)
    const client = await offlineClient(() => ({ status: 200, body: list }))
    const procs = await client.receive('ListProcessesInGuest', {
      _this: { type: 'GuestProcessManager', value: 'pm' },
      vm: { type: 'VirtualMachine', value: 'vm-1' },
      auth: { _type: 'NamePasswordAuthentication', interactiveSession: false, username: 'u', password: 'p' },
    })
    expect(procs).toEqual([
      {
        name: 'sleep',
        pid: 42,
        owner: 'root',
        cmdLine: '/bin/sleep 5',
        startTime: new Date('2024-05-01T10:00:00Z'),
        exitCode: 0,
      },
    ])

    const info = envelope(`<InitiateFileTransferFromGuestResponse xmlns="urn:vim25"><returnval>
      <attributes xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="GuestPosixFileAttributes"><permissions>493</permissions><ownerId>0</ownerId></attributes>
      <size>11</size><url>https://*:443/guestFile?id=1&amp;token=abc</url></returnval></InitiateFileTransferFromGuestResponse>`)
    const client2 = await offlineClient(() => ({ status: 200, body: info }))
    const transfer = await client2.receive('InitiateFileTransferFromGuest', {
      _this: { type: 'GuestFileManager', value: 'fm' },
      vm: { type: 'VirtualMachine', value: 'vm-1' },
      auth: { _type: 'NamePasswordAuthentication', interactiveSession: false, username: 'u', password: 'p' },
      guestFilePath: '/etc/hosts',
    })
    expect(transfer).toEqual({
      attributes: { _type: 'GuestPosixFileAttributes', ownerId: 0, permissions: 493 },
      size: 11,
      url: 'https://*:443/guestFile?id=1&token=abc',
    })
  })
})

describe('normalizeValue on raw node-soap shapes', () => {
  it('converts strings node-soap left unconverted and tolerates already converted values', () => {
    expect(normalizeValue('12', 'long')).toBe(12)
    expect(normalizeValue(12, 'int')).toBe(12)
    expect(normalizeValue('true', 'boolean')).toBe(true)
    expect(normalizeValue('0', 'boolean')).toBe(false)
    expect(normalizeValue(new Date(5), 'dateTime')).toEqual(new Date(5))
    expect(normalizeValue('not a date', 'dateTime')).toBe('not a date')
    expect(normalizeValue(null, 'string')).toBe('')
    expect(
      normalizeValue({ attributes: { type: 'Folder' }, $value: 'group-d1' }, 'ManagedObjectReference'),
    ).toEqual({
      type: 'Folder',
      value: 'group-d1',
    })
    expect(normalizeValue('AAEC', 'base64Binary')).toEqual(new Uint8Array([0, 1, 2]))
  })

  it('reads xsi:type under any prefix but never a reference type attribute', () => {
    expect(xsiTypeOf({ attributes: { 'xsi:type': 'xsd:string' } })).toBe('string')
    expect(xsiTypeOf({ attributes: { 'XMLSchema-instance:type': 'TraversalSpec' } })).toBe('TraversalSpec')
    expect(xsiTypeOf({ attributes: { type: 'Folder' } })).toBeUndefined()
  })

  it('wraps a single item of a repeatable field and unwraps nothing else', () => {
    expect(
      normalizeField(
        { attributes: { type: 'Datastore' }, $value: 'ds-1' },
        { type: 'ManagedObjectReference', array: true },
      ),
    ).toEqual([{ type: 'Datastore', value: 'ds-1' }])
    expect(normalizeField(undefined, { type: 'string', array: true })).toEqual([])
    expect(normalizeValue({ pathSet: 'name', type: 'VirtualMachine' }, 'PropertySpec')).toEqual({
      type: 'VirtualMachine',
      pathSet: ['name'],
    })
  })

  it('keeps unknown values readable', () => {
    expect(generic({ attributes: { type: 'Folder' }, $value: 'f' })).toEqual({ type: 'Folder', value: 'f' })
    expect(generic({ a: 'x', b: ['1', '2'] })).toEqual({ a: 'x', b: ['1', '2'] })
    expect(generic({ attributes: { 'xsi:type': 'xsd:long' }, $value: '7' })).toBe(7)
  })
})
