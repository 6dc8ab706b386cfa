import { adoptError } from '@portlayer/backend-kit'
import {
  DEFAULT_OUTPUT_LIMIT_BYTES,
  type ID,
  InvalidArgumentError,
  isLogger,
  type Logger,
  MAX_LIMITS,
  type ResourceLimits,
} from '@portlayer/contracts'

/** Credentials for guest operations (`NamePasswordAuthentication` inside the VM). */
export interface GuestCredentials {
  readonly username: string
  readonly password: string
}

/** How `PortLayerVsphere` places and runs containers. Inventory paths are as vSphere shows them. */
export interface VsphereSettings {
  /** Inventory path of the datacenter, e.g. `DC0` (or `Folder/DC0` when it sits in a folder). */
  readonly datacenter: string
  /** Inventory path of the VM folder that holds the containers, e.g. `DC0/vm/portlayer`. */
  readonly vmFolder: string
  /** Inventory path of the resource pool, e.g. `DC0/host/DC0_C0/Resources`. */
  readonly resourcePool: string
  /** Name of the datastore in the datacenter's datastore folder, e.g. `LocalDS_0`. */
  readonly datastore: string
  /** Inventory path of a VM or template to clone for each container; a blank VM is created without it. */
  readonly template?: string
  /** Guest credentials used for every guest operation. Never logged, never put in an error. */
  readonly guest: GuestCredentials
  /** Limits of a container that never had any set, and what `-1` resolves to. Default 512 MiB, 1000 MHz. */
  readonly defaultLimits?: ResourceLimits
  /** How long `Stopped` waits after SIGTERM before powering the VM off. Default 10000 ms. */
  readonly stopGracePeriodMs?: number
  /**
   * Interval of the background check for main processes that exited by themselves; 0 turns it
   * off (exits are then noticed only when that container is read). Default 2000 ms.
   */
  readonly exitPollIntervalMs?: number
  /**
   * The VM name of a container. Must be deterministic and different for every container ID: the
   * name is how a container is found again and how a retried create is recognised.
   * Default: `portlayer-<id>`.
   */
  readonly vmName?: (containerId: ID) => string
  /** How long to wait for guest tools after power-on. Default 120000 ms. */
  readonly guestToolsTimeoutMs?: number
  /** `guestId` of blank VMs (ignored with a template). Default `otherLinux64Guest`. */
  readonly guestId?: string
  /** `maxObjects` per page when listing. Default 5,000 (a folder of 5,000 containers in one page). */
  readonly listPageSize?: number
  /**
   * How many exited exec'd processes each container keeps recorded (in extraConfig, so in
   * `execdProcs` of config and state); when one more exits, or a process is exec'd, the records of
   * those that finished first are deleted in the same reconfiguration. Running ones are always
   * kept. A positive integer; default 64.
   */
  readonly maxExitedExecs?: number
  /**
   * Told about failures of background and best-effort work (exit poll, staged file clean-up,
   * release hooks). Without it they go to `logger.warn`.
   */
  readonly onBackgroundError?: (error: unknown) => void
  /**
   * Where background failures are reported when `onBackgroundError` is not given (`warn`), and
   * the connection's life (`debug`). The shape of `console` and pino; default `console`.
   */
  readonly logger?: Logger
  /**
   * Default deadline of one PortLayer call in milliseconds (a commit that starts a container
   * included); past it the call fails with `TIMEOUT`, following the outcome rule. 0 turns it off.
   * Default 600000 (10 minutes).
   */
  readonly callTimeoutMs?: number
  /**
   * How long the backend tries to find out what a change whose answer was lost (or that was
   * aborted in flight) did, and to undo half a commit, before it reports `outcome: 'unknown'`.
   * Default 30000.
   */
  readonly reconcileTimeoutMs?: number
  /**
   * How many bytes of each output stream `readOutput` returns per process: the last ones; older
   * bytes are reported as `dropped`. Default 1 MiB.
   */
  readonly outputLimitBytes?: number
}

/**
 * Guest credentials once resolved: only the user name is a property. The password is held where
 * no inspection reaches it (not `util.inspect`, JSON or `structuredClone`), so logging resolved
 * settings cannot leak it.
 */
export interface ResolvedGuestCredentials {
  /** The guest user name, as given in {@link VsphereSettings.guest}. */
  readonly username: string
}

/**
 * Settings with every default filled in and every value checked, as {@link resolveSettings}
 * returns them (frozen). Each member means what the same member of {@link VsphereSettings} means.
 */
export interface ResolvedSettings {
  readonly datacenter: string
  readonly vmFolder: string
  readonly resourcePool: string
  readonly datastore: string
  readonly template: string | undefined
  readonly guest: ResolvedGuestCredentials
  readonly defaultLimits: ResourceLimits
  readonly stopGracePeriodMs: number
  readonly exitPollIntervalMs: number
  /**
   * The VM name of a container: the given `vmName`, else {@link defaultVmName}. Its result is
   * checked where it is used, not here: a name that is not 1–{@link MAX_VM_NAME_LENGTH}
   * characters or holds `/`, `\`, `%` or a control character fails `createContainer` with
   * `INVALID_ARGUMENT`.
   */
  readonly vmName: (containerId: ID) => string
  readonly guestToolsTimeoutMs: number
  readonly guestId: string
  readonly listPageSize: number
  readonly maxExitedExecs: number
  /**
   * Where failures of background and best-effort work go: the given `onBackgroundError`, else
   * one line (code and message, never a secret) to `logger.warn`. A logger that throws is ignored.
   */
  readonly onBackgroundError: (error: unknown) => void
  readonly logger: Logger
  readonly callTimeoutMs: number
  readonly reconcileTimeoutMs: number
  readonly outputLimitBytes: number
}

/** Default `callTimeoutMs`: 600000 ms (10 minutes) for one PortLayer call. */
export const DEFAULT_CALL_TIMEOUT_MS = 600_000
/** Default `reconcileTimeoutMs`: 30000 ms to find out what a change with a lost answer did. */
export const DEFAULT_RECONCILE_TIMEOUT_MS = 30_000
/**
 * Default `defaultLimits`: 512 MiB of memory and 1000 MHz of CPU, for a container that never had
 * limits set and for `-1`. Frozen.
 */
export const DEFAULT_LIMITS: ResourceLimits = Object.freeze({ memoryMb: 512, cpuMhz: 1000 })
/** Default `stopGracePeriodMs`: 10000 ms between SIGTERM and powering the VM off. */
export const DEFAULT_STOP_GRACE_PERIOD_MS = 10_000
/**
 * Default `exitPollIntervalMs`: every 2000 ms the backend checks in the background for main
 * processes that exited by themselves. A round asks each running guest for its processes, so
 * raise it for large fleets.
 */
export const DEFAULT_EXIT_POLL_INTERVAL_MS = 2_000
/** Default `guestToolsTimeoutMs`: 120000 ms (2 minutes) to wait for guest tools after power-on. */
export const DEFAULT_GUEST_TOOLS_TIMEOUT_MS = 120_000
/** Default `guestId` of a blank VM (one made without a template): a 64-bit Linux guest. */
export const DEFAULT_GUEST_ID = 'otherLinux64Guest'
/** Default `listPageSize`: 5000 objects per property-collector page when listing containers. */
export const DEFAULT_LIST_PAGE_SIZE = 5_000
/** Default `maxExitedExecs`: each container keeps the records of its last 64 exited exec'd processes. */
export const DEFAULT_MAX_EXITED_EXECS = 64
/** vSphere refuses VM names longer than this. */
export const MAX_VM_NAME_LENGTH = 80

const HOUR_MS = 3_600_000

/** The default VM name of a container. */
export function defaultVmName(containerId: ID): string {
  return `portlayer-${containerId}`
}

function fail(message: string): never {
  throw new InvalidArgumentError(`vsphere settings: ${message}`, { backend: 'vsphere' })
}

function inventoryPath(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} must be an inventory path string, got ${typeof value}`)
  const trimmed = value.trim()
  if (trimmed.length === 0) fail(`${what} must not be empty`)
  if (trimmed.startsWith('/') || trimmed.endsWith('/'))
    fail(`${what} must not start or end with '/', got ${JSON.stringify(value)}`)
  if (trimmed.split('/').some((s) => s.length === 0))
    fail(`${what} has an empty segment: ${JSON.stringify(value)}`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) fail(`${what} must not contain control characters`)
  return trimmed
}

function integer(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${what} must be an integer from ${min} to ${max}`)
  }
  return value
}

/**
 * Checks `settings` and fills in defaults.
 * @throws InvalidArgumentError naming the offending setting (never echoing the guest password).
 */
export function resolveSettings(settings: VsphereSettings): ResolvedSettings {
  if (typeof settings !== 'object' || settings === null) fail('settings must be an object')
  const datacenter = inventoryPath(settings.datacenter, 'datacenter')
  const vmFolder = inventoryPath(settings.vmFolder, 'vmFolder')
  const resourcePool = inventoryPath(settings.resourcePool, 'resourcePool')
  const datastore = inventoryPath(settings.datastore, 'datastore')
  if (datastore.includes('/'))
    fail(`datastore must be a datastore name, not a path: ${JSON.stringify(datastore)}`)
  for (const [what, path] of [
    ['vmFolder', vmFolder],
    ['resourcePool', resourcePool],
  ] as const) {
    if (!path.startsWith(`${datacenter}/`))
      fail(`${what} must be inside datacenter ${datacenter}, got ${path}`)
  }
  const template = settings.template === undefined ? undefined : inventoryPath(settings.template, 'template')

  const guest = settings.guest as unknown
  if (typeof guest !== 'object' || guest === null) fail('guest must be { username, password }')
  const { username, password } = guest as Record<string, unknown>
  if (typeof username !== 'string' || username.length === 0) fail('guest.username must be a non-empty string')
  if (typeof password !== 'string') fail('guest.password must be a string')

  let defaultLimits = DEFAULT_LIMITS
  if (settings.defaultLimits !== undefined) {
    const l = settings.defaultLimits as unknown
    if (typeof l !== 'object' || l === null) fail('defaultLimits must be { memoryMb, cpuMhz }')
    const { memoryMb, cpuMhz } = l as Record<string, unknown>
    defaultLimits = Object.freeze({
      memoryMb: integer(memoryMb, 'defaultLimits.memoryMb', 1, MAX_LIMITS.memoryMb, Number.NaN),
      cpuMhz: integer(cpuMhz, 'defaultLimits.cpuMhz', 1, MAX_LIMITS.cpuMhz, Number.NaN),
    })
    if (Number.isNaN(defaultLimits.memoryMb) || Number.isNaN(defaultLimits.cpuMhz))
      fail('defaultLimits needs both memoryMb and cpuMhz')
  }

  if (settings.vmName !== undefined && typeof settings.vmName !== 'function')
    fail('vmName must be a function of the container ID')
  if (settings.onBackgroundError !== undefined && typeof settings.onBackgroundError !== 'function')
    fail('onBackgroundError must be a function')
  if (settings.logger !== undefined && !isLogger(settings.logger))
    fail('logger must have debug, info, warn and error methods')
  const logger = settings.logger ?? console
  const guestId = settings.guestId ?? DEFAULT_GUEST_ID
  if (typeof guestId !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(guestId))
    fail('guestId must be a vSphere guest identifier')

  return Object.freeze({
    datacenter,
    vmFolder,
    resourcePool,
    datastore,
    template,
    guest: credentials(username, password),
    defaultLimits,
    stopGracePeriodMs: integer(
      settings.stopGracePeriodMs,
      'stopGracePeriodMs',
      0,
      HOUR_MS,
      DEFAULT_STOP_GRACE_PERIOD_MS,
    ),
    exitPollIntervalMs: integer(
      settings.exitPollIntervalMs,
      'exitPollIntervalMs',
      0,
      HOUR_MS,
      DEFAULT_EXIT_POLL_INTERVAL_MS,
    ),
    vmName: settings.vmName ?? defaultVmName,
    guestToolsTimeoutMs: integer(
      settings.guestToolsTimeoutMs,
      'guestToolsTimeoutMs',
      1,
      HOUR_MS,
      DEFAULT_GUEST_TOOLS_TIMEOUT_MS,
    ),
    guestId,
    listPageSize: integer(settings.listPageSize, 'listPageSize', 1, 100_000, DEFAULT_LIST_PAGE_SIZE),
    maxExitedExecs: integer(
      settings.maxExitedExecs,
      'maxExitedExecs',
      1,
      Number.MAX_SAFE_INTEGER,
      DEFAULT_MAX_EXITED_EXECS,
    ),
    onBackgroundError: settings.onBackgroundError ?? warnTo(logger),
    logger,
    callTimeoutMs: integer(settings.callTimeoutMs, 'callTimeoutMs', 0, 24 * HOUR_MS, DEFAULT_CALL_TIMEOUT_MS),
    reconcileTimeoutMs: integer(
      settings.reconcileTimeoutMs,
      'reconcileTimeoutMs',
      1,
      HOUR_MS,
      DEFAULT_RECONCILE_TIMEOUT_MS,
    ),
    outputLimitBytes: integer(
      settings.outputLimitBytes,
      'outputLimitBytes',
      1,
      1024 * 1024 * 1024,
      DEFAULT_OUTPUT_LIMIT_BYTES,
    ),
  })
}

// Passwords live in a module-private WeakMap keyed by the resolved credentials, so no property
// of any object — hidden, non-enumerable or symbol-keyed — holds them: util.inspect with
// showHidden, JSON, %o and structuredClone of settings or backend cannot reveal them.
const passwords = new WeakMap<ResolvedGuestCredentials, string>()

function credentials(username: string, password: string): ResolvedGuestCredentials {
  const guest: ResolvedGuestCredentials = Object.freeze({ username })
  passwords.set(guest, password)
  return guest
}

/** The password of resolved guest credentials (for building a guest authentication per call). */
export function guestPassword(guest: ResolvedGuestCredentials): string {
  return passwords.get(guest) ?? ''
}

/**
 * The VM name of `containerId`, checked: vSphere names are at most 80 characters, and names that
 * need escaping in inventory paths (`/`, `\`, `%`) could not be found again by path.
 */
export function vmNameFor(settings: ResolvedSettings, containerId: ID): string {
  const name = settings.vmName(containerId)
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_VM_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `vsphere settings: vmName(${containerId}) must return 1–${MAX_VM_NAME_LENGTH} characters, got ${JSON.stringify(name)}`,
      { backend: 'vsphere', target: containerId },
    )
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
  if (/[/\\%\u0000-\u001f\u007f]/.test(name)) {
    throw new InvalidArgumentError(
      `vsphere settings: vmName(${containerId}) must not contain '/', '\\', '%' or control characters`,
      { backend: 'vsphere', target: containerId },
    )
  }
  return name
}

/** Background failures to `logger.warn`: one line naming the code and the message (never secrets). */
function warnTo(logger: Logger): (error: unknown) => void {
  return (error) => {
    try {
      const e = adoptError(error, { backend: 'vsphere' })
      logger.warn(`portlayer vsphere: background work failed: ${e.code}: ${e.message}`, e)
    } catch {
      // A logger that throws must not break the work that reported.
    }
  }
}
