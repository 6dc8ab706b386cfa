import {
  type CommitExtension,
  createError,
  type ExtensionPlan,
  type Handle,
  type ID,
  InvalidArgumentError,
  type OptionValue,
  PortLayerError,
  type RunState,
} from '@portlayer/contracts'
import { BACKEND } from './errors.js'
import { type ContainerRecord, extensionKey, KEY_PREFIX, option } from './extra-config.js'

// biome-ignore lint/suspicious/noExplicitAny: extensions of any slot types live in one registry
export type AnyExtension = CommitExtension<any, any>

/** One extension's part of a commit: its plan and what it folds into the VM reconfiguration. */
interface Part {
  readonly namespace: string
  readonly plan: ExtensionPlan<unknown>
  /** Its applied value under `guestinfo.portlayer.ext.<namespace>`, then its own extraConfig keys. */
  readonly options: readonly OptionValue[]
  readonly deviceChange: readonly unknown[]
}

/**
 * The plans of every extension a commit carries a slot for. Each is told the commit's outcome
 * exactly once: `commit` when its part landed, `rollback` when it did not (or was put back).
 */
export class PreparedExtensions {
  private settled = false

  private constructor(private readonly parts: readonly Part[]) {}

  /**
   * Calls `prepare` of each extension the handle has a slot for, in slot order, and checks each
   * plan. If one throws (or returns something unusable), those already prepared are rolled back
   * and the commit is refused before anything was applied, with an error on backend `vsphere`
   * naming the container (the extension's code kept; `INVALID_ARGUMENT` for a non-portlayer error).
   */
  static async prepare(
    registry: ReadonlyMap<string, AnyExtension>,
    handle: Handle,
    record: ContainerRecord | null,
    runState: RunState,
  ): Promise<PreparedExtensions> {
    const id = handle.containerId
    const parts: Part[] = []
    try {
      for (const [namespace, pending] of Object.entries(handle.pending.extensions)) {
        const extension = registry.get(namespace)
        if (!extension) throw unregistered(id, namespace)
        let plan: ExtensionPlan<unknown>
        try {
          plan = await extension.prepare({
            containerId: id,
            backend: BACKEND,
            creating: record === null,
            runState,
            pending,
            applied: record?.extensions.get(namespace),
          })
        } catch (e) {
          throw rejected(e, namespace, id)
        }
        if (typeof plan !== 'object' || plan === null || !('applied' in plan)) {
          throw new InvalidArgumentError(
            `extension '${namespace}' returned no plan with an 'applied' value for container ${id}`,
            { backend: BACKEND, target: id },
          )
        }
        try {
          parts.push(partOf(namespace, plan, id))
        } catch (e) {
          settle(plan, 'rollback')
          throw e
        }
      }
    } catch (e) {
      for (const part of parts) settle(part.plan, 'rollback')
      throw e
    }
    return new PreparedExtensions(parts)
  }

  /** The extraConfig entries (applied values and contributions) and device changes to fold into the commit. */
  contribution(): { options: OptionValue[]; deviceChange: unknown[] } {
    return {
      options: this.parts.flatMap((p) => p.options),
      deviceChange: this.parts.flatMap((p) => p.deviceChange),
    }
  }

  /**
   * The parts a later reconfigure can take back by writing the previous values of their keys:
   * those without device changes (a device added is not removed by replaying old values).
   */
  revocable(): { namespaces: ReadonlySet<string>; keys: string[] } {
    const parts = this.parts.filter((p) => p.deviceChange.length === 0)
    return {
      namespaces: new Set(parts.map((p) => p.namespace)),
      keys: parts.flatMap((p) => p.options.map((o) => o.key)),
    }
  }

  /** The commit landed (except the parts in `revoked`, which were put back). */
  commit(revoked: ReadonlySet<string> = new Set()): void {
    if (this.settled) return
    this.settled = true
    for (const { namespace, plan } of this.parts) settle(plan, revoked.has(namespace) ? 'rollback' : 'commit')
  }

  /** The commit did not land (no-op once settled). */
  rollback(): void {
    if (this.settled) return
    this.settled = true
    for (const { plan } of this.parts) settle(plan, 'rollback')
  }
}

function settle(plan: ExtensionPlan<unknown>, outcome: 'commit' | 'rollback'): void {
  try {
    plan[outcome]?.()
  } catch {
    // An extension's own bookkeeping failure must not change the commit's outcome.
  }
}

/** The error that refuses a commit because extension `namespace`'s prepare threw `error`. */
function rejected(error: unknown, namespace: string, id: ID): PortLayerError {
  if (PortLayerError.isInstance(error)) {
    if (error.backend === BACKEND && error.target !== undefined) return error
    return createError(error.code, `container ${id}: extension '${namespace}': ${error.message}`, {
      backend: BACKEND,
      target: error.target ?? id,
      detail: error.detail,
      cause: error,
    })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new InvalidArgumentError(
    `extension '${namespace}' rejected the commit of container ${id}: ${message}`,
    {
      backend: BACKEND,
      target: id,
      cause: error,
    },
  )
}

/** Checks a plan and turns it into extraConfig entries and device changes. */
function partOf(namespace: string, plan: ExtensionPlan<unknown>, id: ID): Part {
  checkContribution(plan, namespace, id)
  // `undefined` clears the applied value; anything else is kept as JSON.
  let applied: string | undefined
  try {
    applied = plan.applied === undefined ? '' : JSON.stringify(plan.applied)
  } catch {
    applied = undefined
  }
  if (applied === undefined) {
    throw new InvalidArgumentError(`extension '${namespace}' applied a value that is not JSON data`, {
      backend: BACKEND,
      target: id,
    })
  }
  const options = [option(extensionKey(namespace), applied)]
  for (const [key, value] of Object.entries(plan.reconfigure?.extraConfig ?? {}))
    options.push(option(key, value))
  return { namespace, plan, options, deviceChange: [...(plan.reconfigure?.deviceChange ?? [])] }
}

/** A handle slot no registered extension owns. */
export function unregistered(id: ID, namespace: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `container ${id}: the handle carries slot '${namespace}' but no extension with that namespace is registered`,
    { backend: BACKEND, target: id },
  )
}

/** Rejects contributions that would overwrite portlayer's own keys or are not vim25-shaped lists. */
function checkContribution(plan: ExtensionPlan<unknown>, namespace: string, id: ID): void {
  for (const [key, value] of Object.entries(plan.reconfigure?.extraConfig ?? {})) {
    if (key.length === 0 || key.startsWith(KEY_PREFIX) || typeof value !== 'string') {
      throw new InvalidArgumentError(
        `extension '${namespace}' contributed extraConfig key '${key}' for container ${id}: keys under ${KEY_PREFIX} belong to portlayer and values must be strings`,
        { backend: BACKEND, target: id },
      )
    }
  }
  const devices = plan.reconfigure?.deviceChange
  if (devices !== undefined && !Array.isArray(devices)) {
    throw new InvalidArgumentError(`extension '${namespace}' contributed a deviceChange that is not a list`, {
      backend: BACKEND,
      target: id,
    })
  }
}
