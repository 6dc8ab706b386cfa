import type { TypeSpec } from './dsl.js'

/**
 * The vim25 data types the gateway knows, fields in vim25 order (the order they are sent in).
 * Fields typed `anyType` carry nested types this table does not describe: they are read and
 * written by their `xsi:type` (`_type` in JavaScript), their own fields in the order given.
 */
export const DATA_TYPES: Readonly<Record<string, TypeSpec>> = {
  ServiceContent: {
    fields: `rootFolder:MOR propertyCollector:MOR viewManager:MOR? about:AboutInfo setting:MOR?
      userDirectory:MOR? sessionManager:MOR? authorizationManager:MOR? serviceManager:MOR?
      perfManager:MOR? scheduledTaskManager:MOR? alarmManager:MOR? eventManager:MOR?
      taskManager:MOR? extensionManager:MOR? customizationSpecManager:MOR?
      guestCustomizationManager:MOR? customFieldsManager:MOR? accountManager:MOR?
      diagnosticManager:MOR? licenseManager:MOR? searchIndex:MOR? fileManager:MOR?
      datastoreNamespaceManager:MOR? virtualDiskManager:MOR? virtualizationManager:MOR?
      snmpSystem:MOR? vmProvisioningChecker:MOR? vmCompatibilityChecker:MOR? ovfManager:MOR?
      ipPoolManager:MOR? dvSwitchManager:MOR? hostProfileManager:MOR? clusterProfileManager:MOR?
      complianceManager:MOR? localizationManager:MOR? storageResourceManager:MOR?
      guestOperationsManager:MOR? overheadMemoryManager:MOR? certificateManager:MOR?
      ioFilterManager:MOR? vStorageObjectManager:MOR? hostSpecManager:MOR? cryptoManager:MOR?
      healthUpdateManager:MOR? failoverClusterConfigurator:MOR? failoverClusterManager:MOR?
      tenantManager:MOR? siteInfoManager:MOR? storageQueryManager:MOR?`,
  },
  AboutInfo: {
    fields: `name:string fullName:string vendor:string version:string build:string localeVersion:string?
      localeBuild:string? osType:string productLineId:string apiType:string apiVersion:string
      instanceUuid:string? licenseProductName:string? licenseProductVersion:string?`,
  },
  UserSession: {
    fields: `key:string userName:string fullName:string loginTime:dateTime lastActiveTime:dateTime
      locale:string messageLocale:string extensionSession:boolean? ipAddress:string?
      userAgent:string? callCount:long?`,
  },
  SelectionSpec: { fields: 'name:string?' },
  TraversalSpec: {
    base: 'SelectionSpec',
    fields: `type:string path:string skip:boolean? selectSet:SelectionSpec[]`,
  },
  PropertySpec: { fields: 'type:string all:boolean? pathSet:string[]' },
  ObjectSpec: { fields: 'obj:MOR skip:boolean? selectSet:SelectionSpec[]' },
  PropertyFilterSpec: {
    fields: `propSet:PropertySpec[] objectSet:ObjectSpec[] reportMissingObjectsInResults:boolean?`,
  },
  RetrieveOptions: { fields: 'maxObjects:int?' },
  RetrieveResult: { fields: 'token:string? objects:ObjectContent[]' },
  ObjectContent: { fields: 'obj:MOR propSet:DynamicProperty[] missingSet:MissingProperty[]' },
  DynamicProperty: { fields: 'name:string val:anyType' },
  MissingProperty: { fields: 'path:string fault:LocalizedMethodFault' },
  WaitOptions: { fields: 'maxWaitSeconds:int? maxObjectUpdates:int?' },
  UpdateSet: { fields: 'version:string filterSet:PropertyFilterUpdate[] truncated:boolean?' },
  PropertyFilterUpdate: { fields: 'filter:MOR objectSet:ObjectUpdate[] missingSet:MissingObject[]' },
  ObjectUpdate: { fields: 'kind:string obj:MOR changeSet:PropertyChange[] missingSet:MissingProperty[]' },
  PropertyChange: { fields: 'name:string op:string val:anyType?' },
  MissingObject: { fields: 'obj:MOR fault:LocalizedMethodFault' },
  LocalizedMethodFault: { fields: 'fault:MethodFault localizedMessage:string?' },
  LocalizableMessage: { fields: 'key:string arg:KeyAnyValue[] message:string?' },
  KeyAnyValue: { fields: 'key:string value:anyType' },
  TaskInfo: {
    fields: `key:string task:MOR description:LocalizableMessage? name:string? descriptionId:string
      entity:MOR? entityName:string? locked:MOR[] state:string cancelled:boolean
      cancelable:boolean error:LocalizedMethodFault? result:anyType? progress:int?
      reason:TaskReason queueTime:dateTime startTime:dateTime? completeTime:dateTime?
      eventChainId:int changeTag:string? parentTaskKey:string? rootTaskKey:string?
      activationId:string?`,
  },
  TaskReason: { fields: '' },
  OptionValue: { fields: 'key:string value:anyType' },
  ResourceAllocationInfo: {
    fields: `reservation:long? expandableReservation:boolean? limit:long? shares:SharesInfo?
      overheadLimit:long?`,
  },
  SharesInfo: { fields: 'shares:int level:string' },
  VirtualMachineFileInfo: {
    fields: `vmPathName:string? snapshotDirectory:string? suspendDirectory:string? logDirectory:string?
      ftMetadataDirectory:string?`,
  },
  VirtualMachineConfigSpec: {
    fields: `changeVersion:string? name:string? version:string? createDate:dateTime? uuid:string?
      instanceUuid:string? npivNodeWorldWideName:long[] npivPortWorldWideName:long[]
      npivWorldWideNameType:string? npivDesiredNodeWwns:short? npivDesiredPortWwns:short?
      npivTemporaryDisabled:boolean? npivOnNonRdmDisks:boolean? npivWorldWideNameOp:string?
      locationId:string? guestId:string? alternateGuestName:string? annotation:string?
      files:VirtualMachineFileInfo? tools:ToolsConfigInfo? flags:VirtualMachineFlagInfo?
      consolePreferences:anyType? powerOpInfo:VirtualMachineDefaultPowerOpInfo? numCPUs:int?
      vcpuConfig:anyType[] numCoresPerSocket:int? memoryMB:long? memoryHotAddEnabled:boolean?
      cpuHotAddEnabled:boolean? cpuHotRemoveEnabled:boolean? virtualICH7MPresent:boolean?
      virtualSMCPresent:boolean? deviceChange:VirtualDeviceConfigSpec[]
      cpuAllocation:ResourceAllocationInfo? memoryAllocation:ResourceAllocationInfo?
      latencySensitivity:anyType? cpuAffinity:anyType? memoryAffinity:anyType?
      networkShaper:anyType? cpuFeatureMask:anyType[] extraConfig:OptionValue[]
      swapPlacement:string? bootOptions:VirtualMachineBootOptions? vAppConfig:anyType?
      ftInfo:anyType? repConfig:anyType? vAppConfigRemoved:boolean? vAssertsEnabled:boolean?
      changeTrackingEnabled:boolean? firmware:string? maxMksConnections:int?
      guestAutoLockEnabled:boolean? managedBy:ManagedByInfo? memoryReservationLockedToMax:boolean?
      nestedHVEnabled:boolean? vPMCEnabled:boolean? scheduledHardwareUpgradeInfo:anyType?
      vmProfile:anyType[] messageBusTunnelEnabled:boolean? crypto:anyType?
      migrateEncryption:string? sgxInfo:anyType? guestMonitoringModeInfo:anyType?
      sevEnabled:boolean?`,
  },
  VirtualMachineRelocateSpec: {
    fields: `service:anyType? folder:MOR? datastore:MOR? diskMoveType:string? pool:MOR? host:MOR?
      disk:anyType[] transform:string? deviceChange:VirtualDeviceConfigSpec[] profile:anyType[]
      cryptoSpec:anyType?`,
  },
  VirtualMachineCloneSpec: {
    fields: `location:VirtualMachineRelocateSpec template:boolean config:VirtualMachineConfigSpec?
      customization:anyType? powerOn:boolean snapshot:MOR? memory:boolean?`,
  },
  VirtualDeviceConfigSpec: {
    fields: `operation:string? fileOperation:string? device:anyType profile:anyType[] backing:anyType?`,
  },
  GuestAuthentication: { fields: 'interactiveSession:boolean' },
  NamePasswordAuthentication: { base: 'GuestAuthentication', fields: 'username:string password:string' },
  GuestProgramSpec: {
    fields: `programPath:string arguments:string workingDirectory:string? envVariables:string[]`,
  },
  GuestProcessInfo: {
    fields: `name:string pid:long owner:string cmdLine:string startTime:dateTime endTime:dateTime?
      exitCode:int?`,
  },
  GuestFileAttributes: { fields: 'modificationTime:dateTime? accessTime:dateTime? symlinkTarget:string?' },
  GuestPosixFileAttributes: {
    base: 'GuestFileAttributes',
    fields: `ownerId:int? groupId:int? permissions:long?`,
  },
  FileTransferInformation: { fields: 'attributes:GuestFileAttributes size:long url:string' },
  VirtualMachineConfigInfo: {
    fields: `changeVersion:string modified:dateTime name:string guestFullName:string version:string
      uuid:string createDate:dateTime? instanceUuid:string? npivNodeWorldWideName:long[]
      npivPortWorldWideName:long[] npivWorldWideNameType:string? npivDesiredNodeWwns:short?
      npivDesiredPortWwns:short? npivTemporaryDisabled:boolean? npivOnNonRdmDisks:boolean?
      locationId:string? template:boolean guestId:string alternateGuestName:string
      annotation:string? files:VirtualMachineFileInfo tools:ToolsConfigInfo?
      flags:VirtualMachineFlagInfo consolePreferences:anyType?
      defaultPowerOps:VirtualMachineDefaultPowerOpInfo hardware:VirtualHardware
      vcpuConfig:anyType[] cpuAllocation:ResourceAllocationInfo?
      memoryAllocation:ResourceAllocationInfo? latencySensitivity:anyType?
      memoryHotAddEnabled:boolean? cpuHotAddEnabled:boolean? cpuHotRemoveEnabled:boolean?
      hotPlugMemoryLimit:long? hotPlugMemoryIncrementSize:long? cpuAffinity:anyType?
      memoryAffinity:anyType? networkShaper:anyType? extraConfig:OptionValue[]
      cpuFeatureMask:anyType[] datastoreUrl:anyType[] swapPlacement:string?
      bootOptions:VirtualMachineBootOptions? ftInfo:anyType? repConfig:anyType?
      vAppConfig:anyType? vAssertsEnabled:boolean? changeTrackingEnabled:boolean? firmware:string?
      maxMksConnections:int? guestAutoLockEnabled:boolean? managedBy:ManagedByInfo?
      memoryReservationLockedToMax:boolean? initialOverhead:anyType? nestedHVEnabled:boolean?
      vPMCEnabled:boolean? scheduledHardwareUpgradeInfo:anyType? forkConfigInfo:anyType?
      vFlashCacheReservation:long? vmxConfigChecksum:base64Binary?
      messageBusTunnelEnabled:boolean? vmStorageObjectId:string? swapStorageObjectId:string?
      keyId:anyType? guestIntegrityInfo:anyType? migrateEncryption:string? sgxInfo:anyType?
      contentLibItemInfo:anyType? guestMonitoringModeInfo:anyType? sevEnabled:boolean?`,
  },
  VirtualHardware: {
    fields: `numCPU:int numCoresPerSocket:int? memoryMB:int virtualICH7MPresent:boolean?
      virtualSMCPresent:boolean? device:anyType[]`,
  },
  VirtualMachineRuntimeInfo: {
    fields: `device:anyType[] host:MOR? connectionState:string powerState:string
      faultToleranceState:string? dasVmProtection:anyType? toolsInstallerMounted:boolean
      suspendTime:dateTime? bootTime:dateTime? suspendInterval:long? question:anyType?
      memoryOverhead:long? maxCpuUsage:int? maxMemoryUsage:int? numMksConnections:int
      recordReplayState:string? cleanPowerOff:boolean? needSecondaryReason:string?
      onlineStandby:boolean? minRequiredEVCModeKey:string? consolidationNeeded:boolean?
      offlineFeatureRequirement:anyType[] featureRequirement:anyType[] featureMask:anyType[]
      vFlashCacheAllocation:long? paused:boolean? snapshotInBackground:boolean?
      quiescedForkParent:boolean? instantCloneFrozen:boolean? cryptoState:string?`,
  },
  GuestInfo: {
    fields: `toolsStatus:string? toolsVersionStatus:string? toolsVersionStatus2:string?
      toolsRunningStatus:string? toolsVersion:string? toolsInstallType:string? guestId:string?
      guestFamily:string? guestFullName:string? hostName:string? ipAddress:string? net:anyType[]
      ipStack:anyType[] disk:anyType[] screen:anyType? guestState:string
      appHeartbeatStatus:string? guestKernelCrashed:boolean? appState:string?
      guestOperationsReady:boolean? interactiveGuestOperationsReady:boolean?
      guestStateChangeSupported:boolean? generationInfo:anyType[] hwVersion:string?`,
  },
  ToolsConfigInfo: {
    fields: `toolsVersion:int? toolsInstallType:string? afterPowerOn:boolean? afterResume:boolean?
      beforeGuestStandby:boolean? beforeGuestShutdown:boolean? beforeGuestReboot:boolean?
      toolsUpgradePolicy:string? pendingCustomization:string? customizationKeyId:anyType?
      syncTimeWithHostAllowed:boolean? syncTimeWithHost:boolean? lastInstallInfo:anyType?`,
  },
  VirtualMachineFlagInfo: {
    fields: `disableAcceleration:boolean? enableLogging:boolean? useToe:boolean?
      runWithDebugInfo:boolean? monitorType:string? htSharing:string? snapshotDisabled:boolean?
      snapshotLocked:boolean? diskUuidEnabled:boolean? virtualMmuUsage:string?
      virtualExecUsage:string? snapshotPowerOffBehavior:string? recordReplayEnabled:boolean?
      faultToleranceType:string? cbrcCacheEnabled:boolean? vvtdEnabled:boolean?
      vbsEnabled:boolean?`,
  },
  VirtualMachineDefaultPowerOpInfo: {
    fields: `powerOffType:string? suspendType:string? resetType:string? defaultPowerOffType:string?
      defaultSuspendType:string? defaultResetType:string? standbyAction:string?`,
  },
  ManagedByInfo: { fields: 'extensionKey:string type:string' },
  VirtualMachineBootOptions: {
    fields: `bootDelay:long? enterBIOSSetup:boolean? efiSecureBootEnabled:boolean?
      bootRetryEnabled:boolean? bootRetryDelay:long? bootOrder:anyType[]
      networkBootProtocol:string?`,
  },
  VirtualMachineSummary: {
    fields: `vm:MOR? runtime:VirtualMachineRuntimeInfo guest:VirtualMachineGuestSummary?
      config:VirtualMachineConfigSummary storage:VirtualMachineStorageSummary?
      quickStats:VirtualMachineQuickStats overallStatus:string customValue:anyType[]`,
  },
  VirtualMachineConfigSummary: {
    fields: `name:string template:boolean vmPathName:string memorySizeMB:int? cpuReservation:int?
      memoryReservation:int? numCpu:int? numEthernetCards:int? numVirtualDisks:int? uuid:string?
      instanceUuid:string? guestId:string? guestFullName:string? annotation:string?
      product:anyType? installBootRequired:boolean? ftInfo:anyType? managedBy:ManagedByInfo?
      tpmPresent:boolean? numVmiopBackings:int? hwVersion:string?`,
  },
  VirtualMachineGuestSummary: {
    fields: `guestId:string? guestFullName:string? toolsStatus:string? toolsVersionStatus:string?
      toolsVersionStatus2:string? toolsRunningStatus:string? hostName:string? ipAddress:string?
      hwVersion:string?`,
  },
  VirtualMachineQuickStats: {
    fields: `overallCpuUsage:int? overallCpuDemand:int? overallCpuReadiness:int? guestMemoryUsage:int?
      hostMemoryUsage:int? guestHeartbeatStatus:string distributedCpuEntitlement:int?
      distributedMemoryEntitlement:int? staticCpuEntitlement:int? staticMemoryEntitlement:int?
      grantedMemory:int? privateMemory:int? sharedMemory:int? swappedMemory:int?
      balloonedMemory:int? consumedOverheadMemory:int? ftLogBandwidth:int? ftSecondaryLatency:int?
      ftLatencyStatus:string? compressedMemory:long? uptimeSeconds:int? ssdSwappedMemory:long?`,
  },
  VirtualMachineStorageSummary: {
    fields: `committed:long uncommitted:long unshared:long timestamp:dateTime`,
  },
}
