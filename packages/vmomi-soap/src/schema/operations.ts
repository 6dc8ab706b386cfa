import type { VimMethodName } from '@portlayer/contracts/vmomi'

/**
 * The vim25 operations the gateway speaks: parameters in vim25 order (same notation as the type
 * table), the result (`''` for none), whether a lost response may be retried and whether the call
 * changes nothing a caller could see in the inventory or a guest. Only reads are idempotent;
 * `ContinueRetrievePropertiesEx` is not, because it advances a server-side cursor, but like the
 * reads, session bookkeeping (views, paging cursors, login) is no change: a failure of such a call
 * never leaves a change whose outcome is unknown.
 */
export interface OperationSpec {
  readonly params: string
  readonly returns: string
  readonly idempotent?: true
  readonly changesNothing?: true
}

export const OPERATIONS = {
  RetrieveServiceContent: { params: '_this:MOR', returns: 'ServiceContent', idempotent: true },
  Login: {
    params: '_this:MOR userName:string password:string locale:string?',
    returns: 'UserSession',
    changesNothing: true,
  },
  Logout: { params: '_this:MOR', returns: '', changesNothing: true },
  CurrentTime: { params: '_this:MOR', returns: 'dateTime', idempotent: true },
  SessionIsActive: {
    params: '_this:MOR sessionID:string userName:string',
    returns: 'boolean',
    idempotent: true,
  },
  FindByInventoryPath: { params: '_this:MOR inventoryPath:string', returns: 'MOR?', idempotent: true },
  RetrievePropertiesEx: {
    params: '_this:MOR specSet:PropertyFilterSpec[] options:RetrieveOptions',
    returns: 'RetrieveResult?',
    idempotent: true,
  },
  ContinueRetrievePropertiesEx: {
    params: '_this:MOR token:string',
    returns: 'RetrieveResult',
    changesNothing: true,
  },
  CancelRetrievePropertiesEx: { params: '_this:MOR token:string', returns: '', changesNothing: true },
  CreatePropertyCollector: { params: '_this:MOR', returns: 'MOR', changesNothing: true },
  DestroyPropertyCollector: { params: '_this:MOR', returns: '', changesNothing: true },
  CreateFilter: {
    params: '_this:MOR spec:PropertyFilterSpec partialUpdates:boolean',
    returns: 'MOR',
    changesNothing: true,
  },
  DestroyPropertyFilter: { params: '_this:MOR', returns: '', changesNothing: true },
  WaitForUpdatesEx: {
    params: '_this:MOR version:string? options:WaitOptions?',
    returns: 'UpdateSet?',
    changesNothing: true,
  },
  CancelWaitForUpdates: { params: '_this:MOR', returns: '', changesNothing: true },
  CreateContainerView: {
    params: '_this:MOR container:MOR type:string[] recursive:boolean',
    returns: 'MOR',
    changesNothing: true,
  },
  DestroyView: { params: '_this:MOR', returns: '', changesNothing: true },
  CreateVM_Task: {
    params: '_this:MOR config:VirtualMachineConfigSpec pool:MOR host:MOR?',
    returns: 'MOR',
  },
  CloneVM_Task: {
    params: '_this:MOR folder:MOR name:string spec:VirtualMachineCloneSpec',
    returns: 'MOR',
  },
  ReconfigVM_Task: { params: '_this:MOR spec:VirtualMachineConfigSpec', returns: 'MOR' },
  PowerOnVM_Task: { params: '_this:MOR host:MOR?', returns: 'MOR' },
  PowerOffVM_Task: { params: '_this:MOR', returns: 'MOR' },
  Destroy_Task: { params: '_this:MOR', returns: 'MOR' },
  CancelTask: { params: '_this:MOR', returns: '' },
  StartProgramInGuest: {
    params: '_this:MOR vm:MOR auth:GuestAuthentication spec:GuestProgramSpec',
    returns: 'long',
  },
  ListProcessesInGuest: {
    params: '_this:MOR vm:MOR auth:GuestAuthentication pids:long[]',
    returns: 'GuestProcessInfo[]',
    idempotent: true,
  },
  TerminateProcessInGuest: {
    params: '_this:MOR vm:MOR auth:GuestAuthentication pid:long',
    returns: '',
  },
  MakeDirectoryInGuest: {
    params: '_this:MOR vm:MOR auth:GuestAuthentication directoryPath:string createParentDirectories:boolean',
    returns: '',
  },
  InitiateFileTransferToGuest: {
    params: `_this:MOR vm:MOR auth:GuestAuthentication guestFilePath:string
      fileAttributes:GuestFileAttributes fileSize:long overwrite:boolean`,
    returns: 'string',
  },
  InitiateFileTransferFromGuest: {
    params: '_this:MOR vm:MOR auth:GuestAuthentication guestFilePath:string',
    returns: 'FileTransferInformation',
    idempotent: true,
  },
} as const satisfies Record<VimMethodName, OperationSpec>
