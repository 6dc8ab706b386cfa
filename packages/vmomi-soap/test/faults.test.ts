import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type { TaskInfo } from '@portlayer/contracts/vmomi'
import { describe, expect, it } from 'vitest'
import { codeForFault, faultError, faultFromSoapError, faultFromTask } from '../src/faults.js'
import { Redactor } from '../src/redact.js'
import { fault, offlineClient } from './support/soap-capture.js'

describe('fault → error code', () => {
  it.each([
    ['ManagedObjectNotFound', ErrorCode.NotFound],
    ['FileNotFound', ErrorCode.NotFound],
    ['GuestProcessNotFound', ErrorCode.NotFound],
    ['ConcurrentAccess', ErrorCode.Conflict],
    ['DuplicateName', ErrorCode.Conflict],
    ['FileAlreadyExists', ErrorCode.Conflict],
    ['InvalidPowerState', ErrorCode.InvalidState],
    ['InvalidState', ErrorCode.InvalidState],
    ['InvalidVmState', ErrorCode.InvalidState],
    ['TaskInProgress', ErrorCode.InvalidState],
    ['GuestOperationsUnavailable', ErrorCode.InvalidState],
    ['InvalidArgument', ErrorCode.InvalidArgument],
    ['InvalidType', ErrorCode.InvalidArgument],
    ['InvalidLogin', ErrorCode.InvalidArgument],
    ['InvalidGuestLogin', ErrorCode.InvalidArgument],
    ['InvalidDeviceSpec', ErrorCode.InvalidArgument],
    ['MethodNotFound', ErrorCode.Unsupported],
    ['NotSupported', ErrorCode.Unsupported],
    ['NoPermission', ErrorCode.Unsupported],
    ['NotAuthenticated', ErrorCode.Unavailable],
    ['HostNotConnected', ErrorCode.Unavailable],
    ['SystemError', ErrorCode.Unavailable],
    ['RequestCanceled', ErrorCode.Unavailable],
    ['Timedout', ErrorCode.Timeout],
    ['CannotCreateFile', ErrorCode.InvalidState],
    ['SomeFaultFromTheFuture', ErrorCode.InvalidState],
  ])('%s → %s', (name, code) => {
    expect(codeForFault(name)).toBe(code)
  })
})

const VM = { type: 'VirtualMachine', value: 'vm-7' }

describe('reading faults', () => {
  it('takes the fault type from the detail xsi:type and keeps its fields', async () => {
    const body = fault(
      '<ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound"><obj type="VirtualMachine">vm-7</obj></ManagedObjectNotFoundFault>',
      'managed object not found: VirtualMachine:vm-7',
    )
    const client = await offlineClient(() => ({ status: 500, body }))
    const raw = await client.fail('Destroy_Task', { _this: VM })
    const read = faultFromSoapError(raw)
    expect(read).toEqual({
      name: 'ManagedObjectNotFound',
      message: 'managed object not found: VirtualMachine:vm-7',
      fault: { _type: 'ManagedObjectNotFound', faultMessage: [], obj: VM },
    })
    const error = faultError(
      read as NonNullable<typeof read>,
      { method: 'Destroy_Task', object: VM },
      new Redactor(),
    )
    expect(PortLayerError.isInstance(error, 'NOT_FOUND')).toBe(true)
    expect(error.backend).toBe('vsphere')
    expect(error.message).toBe(
      'vSphere Destroy_Task on VirtualMachine:vm-7 failed with ManagedObjectNotFound: managed object not found: VirtualMachine:vm-7',
    )
    expect(error.detail).toMatchObject({ fault: 'ManagedObjectNotFound', method: 'Destroy_Task', object: VM })
  })

  it('falls back to the detail element name without Fault when there is no xsi:type', async () => {
    const body = fault('<ConcurrentAccessFault xmlns="urn:vim25"></ConcurrentAccessFault>', 'changed')
    const client = await offlineClient(() => ({ status: 500, body }))
    const read = faultFromSoapError(await client.fail('Destroy_Task', { _this: VM }))
    expect(read?.name).toBe('ConcurrentAccess')
    expect(codeForFault(read?.name ?? '')).toBe('CONFLICT')
  })

  it('maps task errors and keeps the task and entity', () => {
    const info = {
      key: 'task-3',
      task: { type: 'Task', value: 'task-3' },
      state: 'error',
      entity: VM,
      error: {
        fault: { _type: 'ConcurrentAccess', faultMessage: [] },
        localizedMessage: 'Cannot complete operation due to concurrent modification by another operation.',
      },
    } satisfies TaskInfo
    const read = faultFromTask(info)
    const error = faultError(read, { method: 'ReconfigVM_Task', task: info.task, object: VM }, new Redactor())
    expect(error.code).toBe('CONFLICT')
    expect(error.message).toContain(
      'task ReconfigVM_Task (task-3) on VirtualMachine:vm-7 failed with ConcurrentAccess',
    )
    expect(error.detail).toMatchObject({ fault: 'ConcurrentAccess', task: info.task })
  })

  it('cuts known secrets out of fault messages and details', () => {
    const redactor = new Redactor()
    redactor.add('s3cret-pw')
    const error = faultError(
      {
        name: 'InvalidLogin',
        message: 'bad login with s3cret-pw',
        fault: { _type: 'InvalidLogin', note: 's3cret-pw' },
      },
      { method: 'Login' },
      redactor,
    )
    expect(JSON.stringify(error)).not.toContain('s3cret-pw')
    expect(String((error.cause as Error).message)).not.toContain('s3cret-pw')
    expect(error.message).toContain('<redacted>')
  })

  it('is not fooled by errors that carry no SOAP fault', () => {
    expect(faultFromSoapError(new Error('socket hang up'))).toBeUndefined()
    expect(faultFromSoapError({ root: { Envelope: { Body: {} } } })).toBeUndefined()
  })
})
