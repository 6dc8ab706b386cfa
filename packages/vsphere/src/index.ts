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
  type ResolvedSettings,
  resolveSettings,
  type VsphereSettings,
} from './settings.js'
