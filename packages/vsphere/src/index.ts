/**
 * `createVsphere()` and `PortLayerVsphere`: the vSphere backend of portlayer. Each container is a
 * VM in a folder of vCenter or ESXi, its configuration kept in the VM's extraConfig, its processes
 * and files handled through guest operations; vSphere is reached only through a `VmomiGateway`
 * (`@portlayer/vmomi-soap` or your own). Also its settings, their defaults and limits.
 * @module @portlayer/vsphere
 */
export { type CreateVsphereOptions, createVsphere } from './create-vsphere.js'
export { KEY_PREFIX as EXTRA_CONFIG_PREFIX } from './extra-config.js'
export { INLINE_FILE_MAX_BYTES, INLINE_TOTAL_MAX_BYTES, STAGING_FOLDER } from './pending-file-rules.js'
export { PortLayerVsphere } from './port-layer-vsphere.js'
export {
  DEFAULT_EXIT_POLL_INTERVAL_MS,
  DEFAULT_GUEST_ID,
  DEFAULT_GUEST_TOOLS_TIMEOUT_MS,
  DEFAULT_LIMITS,
  DEFAULT_LIST_PAGE_SIZE,
  DEFAULT_MAX_EXITED_EXECS,
  DEFAULT_STOP_GRACE_PERIOD_MS,
  defaultVmName,
  type GuestCredentials,
  MAX_VM_NAME_LENGTH,
  type ResolvedGuestCredentials,
  type ResolvedSettings,
  resolveSettings,
  type VsphereSettings,
} from './settings.js'
