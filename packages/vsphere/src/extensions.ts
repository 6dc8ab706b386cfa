import {
  type CommitExtension,
  type ExtensionPlan,
  type Handle,
  type ID,
  InvalidArgumentError,
  type OptionValue,
  type RunState,
} from '@portlayer/contracts'
import { BACKEND } from './errors.js'
import { type ContainerRecord, extensionKey, KEY_PREFIX, option } from './extra-config.js'

// biome-ignore lint/suspicious/noExplicitAny: extensions of any slot types live in one registry
export type AnyExtension = CommitExtension<any, any>

/**
 * The plans of every extension a commit carries a slot for. Each is told the commit's outcome
 * exactly once: `commit` when the VM change landed, `rollback` otherwise.
 */
export class PreparedExtensions {
  private settled = false

  private constructor(
    private readonly id: ID,
    private readonly plans: ReadonlyArray<{
      readonly namespace: string
      readonly plan: ExtensionPlan<unknown>
    }>,
  ) {}

  /**
   * Calls `prepare` of each extension the handle has a slot for, in slot order. If one throws (or
   * contributes to portlayer's own keys), those already prepared are rolled back and the error
   * rejects the commit before anything was applied.
   */
  static async prepare(
    registry: ReadonlyMap<string, AnyExtension>,
    handle: Handle,
    record: ContainerRecord | null,
    runState: RunState,
  ): Promise<PreparedExtensions> {
    const id = handle.containerId
    const plans: Array<{ namespace: string; plan: ExtensionPlan<unknown> }> = []
    try {
      for (const [namespace, pending] of Object.entries(handle.pending.extensions)) {
        const extension = registry.get(namespace)
        if (!extension) throw unregistered(id, namespace)
        const plan = await extension.prepare({
          containerId: id,
          backend: BACKEND,
          creating: record === null,
          runState,
          pending,
          applied: record?.extensions.get(namespace),
        })
        plans.push({ namespace, plan })
        checkContribution(plan, namespace, id)
      }
    } catch (e) {
      new PreparedExtensions(id, plans).rollback()
      throw e
    }
    return new PreparedExtensions(id, plans)
  }

  /** The extraConfig entries (applied values and contributions) and device changes to fold into the commit. */
  contribution(): { options: OptionValue[]; deviceChange: unknown[] } {
    const options: OptionValue[] = []
    const deviceChange: unknown[] = []
    for (const { namespace, plan } of this.plans) {
      // `undefined` clears the applied value; anything else is kept as JSON.
      const applied = plan.applied === undefined ? '' : JSON.stringify(plan.applied)
      if (applied === undefined) {
        throw new InvalidArgumentError(`extension '${namespace}' applied a value that is not JSON data`, {
          backend: BACKEND,
          target: this.id,
        })
      }
      options.push(option(extensionKey(namespace), applied))
      for (const [key, value] of Object.entries(plan.reconfigure?.extraConfig ?? {}))
        options.push(option(key, value))
      deviceChange.push(...(plan.reconfigure?.deviceChange ?? []))
    }
    return { options, deviceChange }
  }

  /** The commit landed. */
  commit(): void {
    this.settle('commit')
  }

  /** The commit did not land (no-op once settled). */
  rollback(): void {
    this.settle('rollback')
  }

  private settle(outcome: 'commit' | 'rollback'): void {
    if (this.settled) return
    this.settled = true
    for (const { plan } of this.plans) {
      try {
        plan[outcome]?.()
      } catch {
        // An extension's own bookkeeping failure must not change the commit's outcome.
      }
    }
  }
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
