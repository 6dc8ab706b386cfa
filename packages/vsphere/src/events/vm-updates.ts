import type { ContainerEvent } from '@portlayer/contracts'
import type { ObjectUpdate, PropertyChange, UpdateSet } from '@portlayer/contracts/vmomi'
import { portlayerEntries } from '../extra-config.js'
import {
  applyChanges,
  type ContainerView,
  eventsBetween,
  NO_PROPERTIES,
  type VmProperties,
  viewOf,
} from './update-diff.js'

interface Seen {
  readonly props: VmProperties
  readonly view: ContainerView | undefined
}

/** What the property collector told about the folder's VMs so far, and the events it implies. */
export class VmUpdates {
  readonly #vms = new Map<string, Seen>()

  /** The number of VMs known. */
  get size(): number {
    return this.#vms.size
  }

  /**
   * Applies an update set and returns the events its changes imply, in order per container.
   * Updates of one set are applied one object update at a time, so that a set covering several
   * changes of a VM reports each of them.
   */
  apply(set: UpdateSet, at: Date): ContainerEvent[] {
    const updates = ordered(set)
    const events: ContainerEvent[] = []
    for (const update of updates) {
      const key = update.obj.value
      const seen = this.#vms.get(key)
      if (update.kind === 'leave') {
        this.#vms.delete(key)
        if (seen) events.push(...eventsBetween(seen.view, undefined, at))
        continue
      }
      const props = applyChanges(
        update.kind === 'enter' ? NO_PROPERTIES : (seen?.props ?? NO_PROPERTIES),
        update.changeSet,
      )
      const view = viewOf(props)
      this.#vms.set(key, { props, view })
      events.push(...eventsBetween(seen?.view, view, at))
    }
    return events
  }

  /**
   * Takes the VMs of `fresh` (just collected after a lost wait) as the new state and returns the
   * events that lead from what was known to them: what changed while the stream was not watching.
   */
  replaceWith(fresh: VmUpdates, at: Date): ContainerEvent[] {
    const events: ContainerEvent[] = []
    for (const [key, seen] of this.#vms) {
      if (!fresh.#vms.has(key)) events.push(...eventsBetween(seen.view, undefined, at))
    }
    for (const [key, now] of fresh.#vms) {
      events.push(...eventsBetween(this.#vms.get(key)?.view, now.view, at))
    }
    this.#vms.clear()
    for (const [key, now] of fresh.#vms) this.#vms.set(key, now)
    return events
  }

  /** The portlayer extraConfig entries of VM `vm` (its reference's value) as last seen. */
  entriesOf(vm: string): ReadonlyMap<string, string> | undefined {
    const seen = this.#vms.get(vm)
    return seen ? portlayerEntries(seen.props.extraConfig) : undefined
  }

  /** The watched properties of VM `vm` as last seen. */
  propsOf(vm: string): VmProperties | undefined {
    return this.#vms.get(vm)?.props
  }

  clear(): void {
    this.#vms.clear()
  }
}

/**
 * The object updates of a set, in order. vcsim (0.24) answers a VM that entered with its
 * properties as they are when it answers, followed by the changes made since it entered, each
 * with the value it had then. Taken in order, the entry would show the newest state and the
 * changes would go back in time; so an entry takes, for each property changed later in the same
 * set, the first such change's value. vCenter sends one update per object and set, which this
 * leaves alone.
 */
export function ordered(set: UpdateSet): ObjectUpdate[] {
  const updates: ObjectUpdate[] = []
  for (const filterUpdate of set.filterSet ?? []) updates.push(...(filterUpdate.objectSet ?? []))
  const positions = new Map<string, number[]>()
  updates.forEach((update, i) => {
    const list = positions.get(update.obj.value)
    if (list) list.push(i)
    else positions.set(update.obj.value, [i])
  })
  return updates.map((update, i) => {
    const mine = positions.get(update.obj.value) as number[]
    if (update.kind !== 'enter' || mine.length === 1) return update
    const first = new Map<string, PropertyChange>()
    for (const j of mine) {
      if (j <= i) continue
      const later = updates[j] as ObjectUpdate
      if (later.kind !== 'modify') break
      for (const change of later.changeSet ?? []) if (!first.has(change.name)) first.set(change.name, change)
    }
    if (first.size === 0) return update
    return { ...update, changeSet: (update.changeSet ?? []).map((c) => first.get(c.name) ?? c) }
  })
}
