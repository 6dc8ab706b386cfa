import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { VimMethodName } from '@portlayer/contracts/vmomi'
import { createClientAsync } from 'soap'
import { describe, expect, it } from 'vitest'
import { OPS, TYPES } from '../src/schema/registry.js'
import { vim25Wsdl } from '../src/wsdl.js'

const METHODS: VimMethodName[] = [
  'RetrieveServiceContent',
  'Login',
  'Logout',
  'CurrentTime',
  'SessionIsActive',
  'FindByInventoryPath',
  'RetrievePropertiesEx',
  'ContinueRetrievePropertiesEx',
  'CancelRetrievePropertiesEx',
  'CreatePropertyCollector',
  'DestroyPropertyCollector',
  'CreateFilter',
  'DestroyPropertyFilter',
  'WaitForUpdatesEx',
  'CancelWaitForUpdates',
  'CreateContainerView',
  'DestroyView',
  'CreateVM_Task',
  'CloneVM_Task',
  'ReconfigVM_Task',
  'PowerOnVM_Task',
  'PowerOffVM_Task',
  'Destroy_Task',
  'CancelTask',
  'StartProgramInGuest',
  'ListProcessesInGuest',
  'TerminateProcessInGuest',
  'MakeDirectoryInGuest',
  'InitiateFileTransferToGuest',
  'InitiateFileTransferFromGuest',
]

describe('generated vim25 WSDL', () => {
  it('declares a request and a response element for every contract method', () => {
    const wsdl = vim25Wsdl()
    expect(wsdl.startsWith('<?xml')).toBe(true)
    expect(wsdl).toContain('targetNamespace="urn:vim25"')
    expect(wsdl).toContain('elementFormDefault="qualified"')
    for (const method of METHODS) {
      expect(OPS.has(method)).toBe(true)
      expect(wsdl).toContain(`<element name="${method}" type="vim25:${method}RequestType"/>`)
      expect(wsdl).toContain(`<element name="${method}Response">`)
      expect(wsdl).toContain(`<operation name="${method}"><soap:operation soapAction="urn:vim25/6.5"`)
    }
  })

  it('is accepted by node-soap as a document/literal VimService with every operation', async () => {
    const client = await createClientAsync(vim25Wsdl(), { endpoint: 'http://127.0.0.1:9/sdk' })
    const ports = client.describe() as Record<string, Record<string, Record<string, unknown>>>
    const operations = ports.VimService?.VimPort ?? {}
    for (const method of METHODS) expect(operations[method], method).toBeDefined()
  })

  it('keeps derived types after their base in vim25 field order', () => {
    expect(TYPES.get('TraversalSpec')?.fields.map((f) => f.name)).toEqual([
      'name',
      'type',
      'path',
      'skip',
      'selectSet',
    ])
    expect(TYPES.get('NamePasswordAuthentication')?.fields.map((f) => f.name)).toEqual([
      'interactiveSession',
      'username',
      'password',
    ])
    const config = TYPES.get('VirtualMachineConfigSpec')?.fields.map((f) => f.name) ?? []
    for (const [before, after] of [
      ['changeVersion', 'name'],
      ['name', 'memoryMB'],
      ['numCPUs', 'memoryMB'],
      ['memoryMB', 'deviceChange'],
      ['deviceChange', 'cpuAllocation'],
      ['cpuAllocation', 'memoryAllocation'],
      ['memoryAllocation', 'extraConfig'],
    ] as const) {
      expect(config.indexOf(before), `${before} before ${after}`).toBeLessThan(config.indexOf(after))
    }
  })

  it('declares ArrayOf wrappers for property values', () => {
    const wsdl = vim25Wsdl()
    expect(wsdl).toContain('<complexType name="ArrayOfOptionValue">')
    expect(wsdl).toContain('<complexType name="ArrayOfManagedObjectReference">')
    expect(wsdl).toContain('<complexType name="ArrayOfString"><sequence><element name="string"')
  })
})

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')

describe.runIf(existsSync(join(packageDir, 'dist/index.cjs')))('built package', () => {
  // The WSDL is code, not a file next to the sources, so both builds carry it.
  it.each([
    ['CommonJS', `const m = require('./dist/index.cjs');`],
    ['ESM', `const m = await import('./dist/index.js');`],
  ])('serves the same WSDL from the %s build', (_name, load) => {
    const script = `(async () => { ${load}
      const soap = require('soap');
      const client = await soap.createClientAsync(m.vim25Wsdl(), { endpoint: 'http://127.0.0.1:9/sdk' });
      process.stdout.write(JSON.stringify({ length: m.vim25Wsdl().length, ops: Object.keys(client.describe().VimService.VimPort).length,
        exports: ['createSoapGateway', 'createRecordingGateway', 'createReplayGateway', 'loadFixture'].every((k) => typeof m[k] === 'function') }));
    })().catch((e) => { console.error(e); process.exit(1) })`
    const out = JSON.parse(
      execFileSync(process.execPath, ['-e', script], { cwd: packageDir, encoding: 'utf8' }),
    )
    expect(out).toEqual({ length: vim25Wsdl().length, ops: METHODS.length, exports: true })
  })
})
