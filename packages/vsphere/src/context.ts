import type { ExtensionRegistry } from '@portlayer/backend-kit'
import type { HandleFactory } from '@portlayer/contracts'
import type { VmomiGateway } from '@portlayer/contracts/vmomi'
import type { AbandonedStarts } from './abandoned-starts.js'
import type { ContainerDirectory } from './container-directory.js'
import type { CreateGuard } from './create-guard.js'
import type { EventHub } from './events/index.js'
import type { ExitWaits } from './exit-waits.js'
import type { ExitWatcher } from './exit-watcher.js'
import type { Guest } from './guest.js'
import type { Inventory } from './inventory.js'
import type { ResolvedSettings } from './settings.js'

/**
 * What every operation of one connected backend works with, made once by `connect` and never
 * changed. The state that does change is owned by the objects it holds, one each: where the
 * containers are (`directory`), which are watched for exits (`exits`), the creates under way
 * (`creates`), the starts given up on (`abandoned`), who is registered (`extensions`).
 */
export interface VsphereContext {
  readonly settings: ResolvedSettings
  /** Every call through it carries the signal of the PortLayer call it serves (call-scope.ts). */
  readonly gateway: VmomiGateway
  readonly factory: HandleFactory
  readonly inventory: Inventory
  readonly guest: Guest
  readonly directory: ContainerDirectory
  readonly exits: ExitWatcher
  readonly creates: CreateGuard
  /** Staged starts this process gave up on, taken back by its next commit without waiting. */
  readonly abandoned: AbandonedStarts
  readonly extensions: ExtensionRegistry
  /** The one property-collector wait every events() iterator of this backend reads. */
  readonly events: EventHub
  /** The processes being waited for: one shared loop of looks per container. */
  readonly exitWaits: ExitWaits
}
