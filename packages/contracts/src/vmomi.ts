/**
 * The `VmomiGateway` contract: the only way the vSphere backend reaches vSphere. A gateway makes
 * typed calls of vim25 methods, waits for tasks and moves files over HTTP. Implementations:
 * `@portlayer/vmomi-soap` (node-soap), recording/replay and fault-injecting wrappers.
 *
 * Values are normalised JavaScript: numbers, booleans and `Date`s (never strings), arrays for
 * every repeatable field (even with one element), and managed object references as
 * `{ type, value }`. A data object whose vim25 type is a subtype of the declared one names its
 * type in `_type` (e.g. `{ _type: 'TraversalSpec', … }`), in both directions.
 *
 * Failures are `PortLayerError`s: the vSphere fault name is in `detail.fault`
 * (`ManagedObjectNotFound` → NOT_FOUND, `ConcurrentAccess` → CONFLICT,
 * `InvalidPowerState`/`InvalidState` → INVALID_STATE, `InvalidArgument` → INVALID_ARGUMENT,
 * session or connection lost → UNAVAILABLE, deadline → TIMEOUT).
 *
 * The types below are the subset of vim25 data objects this project sends and reads, with vim25's
 * own names (see VMware's vSphere Web Services API reference for each).
 * @module @portlayer/contracts/vmomi
 */

/** A managed object reference. */
export interface MoRef {
  readonly type: string
  readonly value: string
}

/** Any data object whose type differs from the declared one carries its vim25 type name. */
export interface Typed {
  readonly _type?: string
}

/** vim25 `AboutInfo`: which product and API version answers (`ServiceContent.about`). */
export interface AboutInfo {
  name: string
  fullName: string
  version: string
  apiVersion: string
  apiType: string
  instanceUuid?: string
}

/** vim25 `ServiceContent`: the root objects of a vSphere endpoint, read once per connection. */
export interface ServiceContent {
  rootFolder: MoRef
  propertyCollector: MoRef
  viewManager?: MoRef
  about: AboutInfo
  sessionManager?: MoRef
  searchIndex: MoRef
  fileManager?: MoRef
  virtualDiskManager?: MoRef
  guestOperationsManager?: MoRef
  taskManager?: MoRef
}

/** vim25 `UserSession`: what `Login` returns. */
export interface UserSession {
  key: string
  userName: string
  fullName?: string
  loginTime: Date
  lastActiveTime?: Date
}

// Property collector

export interface SelectionSpec extends Typed {
  name?: string
}
export interface TraversalSpec extends SelectionSpec {
  _type: 'TraversalSpec'
  type: string
  path: string
  skip?: boolean
  selectSet?: (SelectionSpec | TraversalSpec)[]
}
/** vim25 `PropertySpec`: which properties of one object type a property read returns. */
export interface PropertySpec {
  type: string
  all?: boolean
  pathSet?: string[]
}
/** vim25 `ObjectSpec`: where a property read starts, and what it traverses from there. */
export interface ObjectSpec {
  obj: MoRef
  skip?: boolean
  selectSet?: (SelectionSpec | TraversalSpec)[]
}
/** vim25 `PropertyFilterSpec`: the objects and properties of one property read. */
export interface PropertyFilterSpec {
  propSet: PropertySpec[]
  objectSet: ObjectSpec[]
  reportMissingObjectsInResults?: boolean
}
/** vim25 `RetrieveOptions`: the page size of `RetrievePropertiesEx`. */
export interface RetrieveOptions {
  maxObjects?: number
}
/** vim25 `DynamicProperty`: one property path and its value. */
export interface DynamicProperty {
  name: string
  val: unknown
}
/** vim25 `MissingProperty`: a property that could not be read, with the fault that says why. */
export interface MissingProperty {
  path: string
  fault: LocalizedMethodFault
}
/** vim25 `ObjectContent`: one object of a property read, with its properties. */
export interface ObjectContent {
  obj: MoRef
  propSet: DynamicProperty[]
  missingSet?: MissingProperty[]
}
/** vim25 `RetrieveResult`: one page of a property read; `token` continues it. */
export interface RetrieveResult {
  token?: string
  objects: ObjectContent[]
}

/** vim25 `WaitOptions`: how long one `WaitForUpdatesEx` may wait, and how much it may answer. */
export interface WaitOptions {
  /** Seconds to wait for a change before answering with none; `0` answers at once. */
  maxWaitSeconds?: number
  /** Object updates per answer; past it the answer is `truncated`. */
  maxObjectUpdates?: number
}
/** How a {@link PropertyChange} changes its property. */
export type PropertyChangeOp = 'add' | 'remove' | 'assign' | 'indirectRemove'
/** vim25 `PropertyChange`: one property of an object, as it is now (`val` absent when removed). */
export interface PropertyChange {
  name: string
  op: PropertyChangeOp
  val?: unknown
}
/** How an object's place in a filter changed: it came into it, changed, or left it. */
export type ObjectUpdateKind = 'enter' | 'modify' | 'leave'
/** vim25 `ObjectUpdate`: the changes of one object a property filter watches. */
export interface ObjectUpdate {
  kind: ObjectUpdateKind
  obj: MoRef
  changeSet: PropertyChange[]
  missingSet: MissingProperty[]
}
/** vim25 `MissingObject`: an object a filter names that could not be read, with the fault that says why. */
export interface MissingObject {
  obj: MoRef
  fault: LocalizedMethodFault
}
/** vim25 `PropertyFilterUpdate`: the updates of one property filter. */
export interface PropertyFilterUpdate {
  filter: MoRef
  objectSet: ObjectUpdate[]
  missingSet: MissingObject[]
}
/**
 * vim25 `UpdateSet`: what one `WaitForUpdatesEx` answers. Pass `version` to the next wait;
 * `truncated` means more is waiting (wait again at once).
 */
export interface UpdateSet {
  version: string
  filterSet: PropertyFilterUpdate[]
  truncated?: boolean
}

// Faults and tasks

export interface MethodFault extends Typed {
  faultMessage?: { key: string; message?: string }[]
  [field: string]: unknown
}
/** vim25 `LocalizedMethodFault`: a fault with its message, as tasks and `missingSet` carry it. */
export interface LocalizedMethodFault {
  fault: MethodFault
  localizedMessage?: string
}

/** The states of a vim25 task (`TaskInfo.state`). */
export const TaskInfoState = {
  Queued: 'queued',
  Running: 'running',
  Success: 'success',
  Error: 'error',
} as const
/** One of {@link TaskInfoState}'s values. */
export type TaskInfoState = (typeof TaskInfoState)[keyof typeof TaskInfoState]

/** vim25 `TaskInfo`: a task's state, and its result or fault once it has finished. */
export interface TaskInfo {
  key: string
  task: MoRef
  name?: string
  descriptionId?: string
  entity?: MoRef
  entityName?: string
  state: TaskInfoState
  cancelled?: boolean
  cancelable?: boolean
  error?: LocalizedMethodFault
  result?: unknown
  progress?: number
  queueTime?: Date
  startTime?: Date
  completeTime?: Date
}

// Virtual machine configuration

export interface OptionValue extends Typed {
  key: string
  /** Strings only in this project (sent as `xsd:string`). */
  value: string
}
/** vim25 `ResourceAllocationInfo`: a VM's CPU or memory reservation and limit. */
export interface ResourceAllocationInfo {
  reservation?: number
  expandableReservation?: boolean
  /** MHz for CPU, MB for memory; -1 is unlimited. */
  limit?: number
}
/** vim25 `VirtualMachineFileInfo`: where a VM's files live (`[datastore] folder`). */
export interface VirtualMachineFileInfo {
  vmPathName?: string
}
/** vim25 `VirtualMachineConfigSpec`: a VM's configuration to create, or the changes of a reconfigure. */
export interface VirtualMachineConfigSpec {
  changeVersion?: string
  name?: string
  version?: string
  uuid?: string
  guestId?: string
  annotation?: string
  files?: VirtualMachineFileInfo
  numCPUs?: number
  memoryMB?: number
  cpuAllocation?: ResourceAllocationInfo
  memoryAllocation?: ResourceAllocationInfo
  /** `VirtualDeviceConfigSpec` objects, passed through unchanged. */
  deviceChange?: unknown[]
  extraConfig?: OptionValue[]
}
/** vim25 `VirtualMachineRelocateSpec`: where a clone is placed. */
export interface VirtualMachineRelocateSpec {
  folder?: MoRef
  datastore?: MoRef
  pool?: MoRef
  host?: MoRef
}
/** vim25 `VirtualMachineCloneSpec`: what `CloneVM_Task` makes of the template. */
export interface VirtualMachineCloneSpec {
  location: VirtualMachineRelocateSpec
  template: boolean
  config?: VirtualMachineConfigSpec
  powerOn: boolean
}

// Guest operations

export interface NamePasswordAuthentication extends Typed {
  _type: 'NamePasswordAuthentication'
  interactiveSession: boolean
  username: string
  password: string
}
/** vim25 `GuestAuthentication`: the guest credentials of guest operations (user name and password only). */
export type GuestAuthentication = NamePasswordAuthentication

export interface GuestProgramSpec extends Typed {
  programPath: string
  arguments: string
  workingDirectory?: string
  envVariables?: string[]
}
/** vim25 `GuestProcessInfo`: one process of `ListProcessesInGuest`; `endTime` and `exitCode` once it has exited. */
export interface GuestProcessInfo {
  name: string
  pid: number
  owner: string
  cmdLine: string
  startTime: Date
  endTime?: Date
  exitCode?: number
}
export interface GuestFileAttributes extends Typed {
  modificationTime?: Date
  accessTime?: Date
}
export interface GuestPosixFileAttributes extends GuestFileAttributes {
  _type: 'GuestPosixFileAttributes'
  ownerId?: number
  groupId?: number
  /** POSIX mode bits. */
  permissions?: number
}
/** vim25 `FileTransferInformation`: what `InitiateFileTransferFromGuest` returns: the file's size and attributes and a one-shot URL. */
export interface FileTransferInformation {
  attributes: GuestFileAttributes | GuestPosixFileAttributes
  size: number
  /** May have `*` as host; the gateway's `transfer` replaces it with the connection's host. */
  url: string
}

/**
 * The vim25 methods a gateway must support: for each, the arguments (with `_this`, the object the
 * method is called on) and the normalised result.
 */
export interface VimMethods {
  RetrieveServiceContent: { args: { _this: MoRef }; result: ServiceContent }
  Login: { args: { _this: MoRef; userName: string; password: string; locale?: string }; result: UserSession }
  Logout: { args: { _this: MoRef }; result: undefined }
  CurrentTime: { args: { _this: MoRef }; result: Date }
  SessionIsActive: { args: { _this: MoRef; sessionID: string; userName: string }; result: boolean }
  FindByInventoryPath: { args: { _this: MoRef; inventoryPath: string }; result: MoRef | undefined }
  RetrievePropertiesEx: {
    args: { _this: MoRef; specSet: PropertyFilterSpec[]; options: RetrieveOptions }
    result: RetrieveResult | undefined
  }
  ContinueRetrievePropertiesEx: { args: { _this: MoRef; token: string }; result: RetrieveResult }
  CancelRetrievePropertiesEx: { args: { _this: MoRef; token: string }; result: undefined }
  CreatePropertyCollector: { args: { _this: MoRef }; result: MoRef }
  DestroyPropertyCollector: { args: { _this: MoRef }; result: undefined }
  CreateFilter: { args: { _this: MoRef; spec: PropertyFilterSpec; partialUpdates: boolean }; result: MoRef }
  DestroyPropertyFilter: { args: { _this: MoRef }; result: undefined }
  WaitForUpdatesEx: {
    args: { _this: MoRef; version?: string; options?: WaitOptions }
    result: UpdateSet | undefined
  }
  CancelWaitForUpdates: { args: { _this: MoRef }; result: undefined }
  CreateContainerView: {
    args: { _this: MoRef; container: MoRef; type: string[]; recursive: boolean }
    result: MoRef
  }
  DestroyView: { args: { _this: MoRef }; result: undefined }
  CreateVM_Task: {
    args: { _this: MoRef; config: VirtualMachineConfigSpec; pool: MoRef; host?: MoRef }
    result: MoRef
  }
  CloneVM_Task: {
    args: { _this: MoRef; folder: MoRef; name: string; spec: VirtualMachineCloneSpec }
    result: MoRef
  }
  ReconfigVM_Task: { args: { _this: MoRef; spec: VirtualMachineConfigSpec }; result: MoRef }
  PowerOnVM_Task: { args: { _this: MoRef; host?: MoRef }; result: MoRef }
  PowerOffVM_Task: { args: { _this: MoRef }; result: MoRef }
  Destroy_Task: { args: { _this: MoRef }; result: MoRef }
  CancelTask: { args: { _this: MoRef }; result: undefined }
  StartProgramInGuest: {
    args: { _this: MoRef; vm: MoRef; auth: GuestAuthentication; spec: GuestProgramSpec }
    result: number
  }
  ListProcessesInGuest: {
    args: { _this: MoRef; vm: MoRef; auth: GuestAuthentication; pids?: number[] }
    result: GuestProcessInfo[]
  }
  TerminateProcessInGuest: {
    args: { _this: MoRef; vm: MoRef; auth: GuestAuthentication; pid: number }
    result: undefined
  }
  MakeDirectoryInGuest: {
    args: {
      _this: MoRef
      vm: MoRef
      auth: GuestAuthentication
      directoryPath: string
      createParentDirectories: boolean
    }
    result: undefined
  }
  InitiateFileTransferToGuest: {
    args: {
      _this: MoRef
      vm: MoRef
      auth: GuestAuthentication
      guestFilePath: string
      fileAttributes: GuestFileAttributes | GuestPosixFileAttributes
      fileSize: number
      overwrite: boolean
    }
    result: string
  }
  InitiateFileTransferFromGuest: {
    args: { _this: MoRef; vm: MoRef; auth: GuestAuthentication; guestFilePath: string }
    result: FileTransferInformation
  }
}
/** The name of a vim25 method a gateway supports. */
export type VimMethodName = keyof VimMethods
/** The arguments of vim25 method `M` (with `_this`). */
export type VimArgs<M extends VimMethodName> = VimMethods[M]['args']
/** The normalised result of vim25 method `M`. */
export type VimResult<M extends VimMethodName> = VimMethods[M]['result']

/** Per-call options every gateway honours. */
export interface VmomiCallOptions {
  /** Aborts the call; for `waitForTask`, also cancels the task (`CancelTask`). */
  readonly signal?: AbortSignal
  /** Deadline for this call in milliseconds; past it the call fails with `TIMEOUT`. */
  readonly timeoutMs?: number
}

/** An HTTP transfer to a datastore (`/folder`) or guest file URL. */
export interface HttpTransferRequest {
  readonly method: 'GET' | 'PUT' | 'HEAD' | 'DELETE'
  /** Absolute URL, or a path (e.g. `/folder/x?dsName=…`) resolved against the gateway's endpoint. */
  readonly url: string
  readonly body?: Uint8Array
  readonly headers?: Readonly<Record<string, string>>
}
/** The answer to an {@link HttpTransferRequest}. */
export interface HttpTransferResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/** A connection to vSphere. */
export interface VmomiGateway {
  /** The service content read when the gateway connected. */
  readonly serviceContent: ServiceContent
  /** Calls vim25 method `method`. */
  call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>>
  /**
   * Waits for `task` to finish. Resolves with its `TaskInfo` on success; rejects with the task's
   * fault mapped to a `PortLayerError` on error. Aborting cancels the task.
   */
  waitForTask(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo>
  /** Moves bytes over HTTP with the session's credentials; fails on a non-2xx status. */
  transfer(request: HttpTransferRequest, options?: VmomiCallOptions): Promise<HttpTransferResponse>
  /** Logs out and releases sockets and timers. Later calls fail with `UNAVAILABLE`. */
  close(): Promise<void>
}
