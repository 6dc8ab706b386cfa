import type { ExtensionRegistry } from '@portlayer/backend-kit'
import { type HandleFactory, InvalidArgumentError } from '@portlayer/contracts'
import type { VmomiGateway } from '@portlayer/contracts/vmomi'
import { AbandonedStarts } from './abandoned-starts.js'
import { scopedGateway, unscoped } from './call-scope.js'
import { ContainerDirectory } from './container-directory.js'
import type { VsphereContext } from './context.js'
import { CreateGuard } from './create-guard.js'
import { BACKEND } from './errors.js'
import { EventHub } from './events/index.js'
import { ExitWaits } from './exit-waits.js'
import { ExitWatcher } from './exit-watcher.js'
import { Guest } from './guest.js'
import { resolveInventory } from './inventory.js'
import { pollRound } from './observe-exits.js'
import type { ResolvedSettings } from './settings.js'

/**
 * How long a process waiter goes without looking when no event woke it: an exit shows in
 * vSphere's properties only once someone recorded it, so a waiter still asks the guest this often.
 */
const EXIT_WAIT_IDLE_LOOK_MS = 1_000

/**
 * Checks the gateway and factory, resolves the settings' inventory paths once and builds the
 * context every operation works with; starts the background exit poll when configured.
 * @throws InvalidArgumentError for something that is not a gateway or factory; NotFoundError
 * naming the setting whose inventory path does not resolve; errors of the gateway.
 */
export async function connect(
  settings: ResolvedSettings,
  extensions: ExtensionRegistry,
  gateway: VmomiGateway,
  factory: HandleFactory,
): Promise<VsphereContext> {
  if (
    typeof gateway?.call !== 'function' ||
    typeof gateway.waitForTask !== 'function' ||
    !gateway.serviceContent
  )
    throw new InvalidArgumentError('init needs a VmomiGateway', { backend: BACKEND })
  if (typeof factory?.create !== 'function' || typeof factory.assertHandle !== 'function')
    throw new InvalidArgumentError('init needs a HandleFactory', { backend: BACKEND })
  const inventory = await resolveInventory(gateway, settings)
  // Every call the backend makes carries the signal of the PortLayer call it serves.
  const scoped = scopedGateway(gateway)

  // The watcher's round needs the context it belongs to: it is read when a round runs, later.
  let ctx: VsphereContext | undefined
  const exits = new ExitWatcher(() => pollRound(ctx as VsphereContext), settings.onBackgroundError)
  const events = new EventHub({
    gateway: scoped,
    viewManager: inventory.viewManager,
    folder: inventory.folder,
    onBackgroundError: settings.onBackgroundError,
    // While someone listens, containers other clients start are watched for exits too, so their
    // ends are recorded (by the background poll, when it runs) and reported.
    observed: (seen) => {
      for (const e of seen) {
        if (e.type !== 'started' || !ctx) continue
        const { directory } = ctx
        const id = e.containerId
        if (directory.refOf(id)) exits.watch(id)
        else {
          void unscoped(() => directory.lookup(id, false)).then(
            (ref) => ref && exits.watch(id),
            (err) => settings.onBackgroundError(err),
          )
        }
      }
    },
  })
  ctx = Object.freeze({
    settings,
    gateway: scoped,
    factory,
    inventory,
    guest: new Guest(scoped, inventory, settings.guest),
    directory: new ContainerDirectory(scoped, inventory, settings, (id) => exits.unwatch(id)),
    exits,
    creates: new CreateGuard(),
    abandoned: new AbandonedStarts(),
    extensions,
    events,
    exitWaits: new ExitWaits(events, EXIT_WAIT_IDLE_LOOK_MS),
  })
  exits.start(settings.exitPollIntervalMs)
  return ctx
}

/** Stops the exit poll (waiting for a round under way) and destroys the container view. */
export async function disconnect(ctx: VsphereContext): Promise<void> {
  await ctx.events.close()
  await ctx.exits.stop()
  await ctx.directory.destroyView()
}
