import type { ExtensionRegistry, PreparedCommit, PreparedPlan } from '@portlayer/backend-kit'
import { type Handle, InvalidArgumentError, type RunState } from '@portlayer/contracts'
import type { OptionValue } from '@portlayer/contracts/vmomi'
import { BACKEND } from './errors.js'
import { type ContainerRecord, extensionKey, KEY_PREFIX, option } from './extra-config.js'

/** One extension's part of a commit: what it folds into the VM reconfiguration. */
interface Part {
  readonly namespace: string
  /** Its applied value under `guestinfo.portlayer.ext.<namespace>`, then its own extraConfig keys. */
  readonly options: readonly OptionValue[]
  readonly deviceChange: readonly unknown[]
}

/**
 * The prepared extensions of one commit (the protocol is `@portlayer/backend-kit`'s) and what
 * they fold into the VM reconfiguration. Each is told the commit's outcome exactly once:
 * `commit` when its part landed, `rollback` when it did not (or was put back).
 */
export class PreparedExtensions {
  private constructor(
    private readonly prepared: PreparedCommit,
    private readonly parts: readonly Part[],
  ) {}

  /**
   * Prepares each extension the handle has a slot for, in registration order, and turns each plan
   * into extraConfig entries and device changes. A plan whose contribution vSphere cannot apply
   * (a key under portlayer's prefix, a value that is not a string, a deviceChange that is not a
   * list) refuses the commit like a failing `prepare`: `INVALID_ARGUMENT`, everything prepared
   * rolled back, nothing applied.
   */
  static async prepare(
    registry: ExtensionRegistry,
    handle: Handle,
    record: ContainerRecord | null,
    runState: RunState,
  ): Promise<PreparedExtensions> {
    const id = handle.containerId
    const parts = new Map<string, Part>()
    const prepared = await registry.prepare({
      containerId: id,
      slots: handle.pending.extensions,
      creating: record === null,
      runState,
      applied: (namespace) => record?.extensions.get(namespace),
      // Read once, here: the part is what the reconfiguration writes.
      inspect: (plan) => parts.set(plan.namespace, partOf(plan, id)),
    })
    return new PreparedExtensions(
      prepared,
      prepared.plans.map((p) => parts.get(p.namespace) as Part),
    )
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

  /** The commit landed (except the parts in `revoked`, which were put back). No-op once settled. */
  commit(revoked?: ReadonlySet<string>): void {
    this.prepared.commit(revoked)
  }

  /** The commit did not land. No-op once settled. */
  rollback(): void {
    this.prepared.rollback()
  }
}

/** Checks a plan's contribution and turns it, with its applied value, into extraConfig entries and device changes. */
function partOf(plan: PreparedPlan, id: string): Part {
  const { namespace, reconfigure } = plan
  // The applied value is plain JSON already (the kit checked and copied it); `undefined` clears it.
  const options = [
    option(extensionKey(namespace), plan.applied === undefined ? '' : JSON.stringify(plan.applied)),
  ]
  for (const [key, value] of Object.entries(reconfigure?.extraConfig ?? {})) {
    if (key.length === 0 || key.startsWith(KEY_PREFIX) || typeof value !== 'string') {
      throw new InvalidArgumentError(
        `extension '${namespace}' contributed extraConfig key '${key}' for container ${id}: keys under ${KEY_PREFIX} belong to portlayer and values must be strings`,
        { backend: BACKEND, target: id },
      )
    }
    options.push(option(key, value))
  }
  const devices = reconfigure?.deviceChange
  if (devices !== undefined && !Array.isArray(devices)) {
    throw new InvalidArgumentError(`extension '${namespace}' contributed a deviceChange that is not a list`, {
      backend: BACKEND,
      target: id,
    })
  }
  return { namespace, options, deviceChange: devices === undefined ? [] : [...devices] }
}
