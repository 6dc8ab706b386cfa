import type { ID } from '@portlayer/contracts'
import type {
  MoRef,
  OptionValue,
  PropertyFilterSpec,
  TraversalSpec,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { isCode, notFound, wrap } from './errors.js'
import { type ContainerRecord, deletedExecs, execKey } from './extra-config.js'
import type { Inventory } from './inventory.js'
import { type ResolvedSettings, vmNameFor } from './settings.js'
import { collect, retrieve } from './vim-calls.js'
import { LIST_PROPERTIES, snapshotOf, VM_PROPERTIES, type VmSnapshot } from './vm-snapshot.js'

/** How long a read stays good as the base of a change guarded by its version (see `takeRecent`). */
const RECENT_MS = 2_000
/** Recent reads kept at most (the oldest go first). */
const RECENT_KEPT = 1_000

const VIEW_TRAVERSAL: TraversalSpec = {
  _type: 'TraversalSpec',
  name: 'containerView',
  type: 'ContainerView',
  path: 'view',
  skip: false,
}

/**
 * Where the containers are: what this process learnt about the inventory (container ID → VM,
 * exec'd process → container) and the container view listings go through. The maps are caches:
 * vSphere stays the truth, so every entry can be forgotten and found again by name.
 */
export class ContainerDirectory {
  readonly #refs = new Map<ID, MoRef>()
  readonly #owners = new Map<ID, ID>()
  /** The last read of each VM (by reference value) and when it was made. */
  readonly #recent = new Map<string, { readonly snap: VmSnapshot; readonly at: number }>()
  readonly #changes = new Map<string, number>()
  #view: MoRef | undefined

  /**
   * @param forgotten told when a container is forgotten (its VM gone), so that what else is kept
   *   about it (the exit watch) goes too
   */
  constructor(
    private readonly gateway: VmomiGateway,
    private readonly inventory: Inventory,
    private readonly settings: ResolvedSettings,
    private readonly forgotten: (id: ID) => void,
  ) {}

  /** The VM last seen for `id`, without asking vSphere. */
  refOf(id: ID): MoRef | undefined {
    return this.#refs.get(id)
  }

  remember(id: ID, ref: MoRef): void {
    this.#refs.set(id, ref)
  }

  forget(id: ID): void {
    const ref = this.#refs.get(id)
    if (ref) {
      this.#recent.delete(ref.value)
      this.#changes.delete(ref.value)
    }
    this.#refs.delete(id)
    this.forgotten(id)
  }

  /**
   * What this process read of container `id` a moment ago, provided nothing it did since changed
   * the VM; taken once, by a change guarded by the version it was read at. That guard is what
   * makes it safe: had anything changed the VM meanwhile, vSphere refuses the change and the caller
   * reads again. So a change made right after a read (a commit of a handle just got, a destroy
   * right after a stop) needs no read of its own. Never for answering a query.
   */
  takeRecent(id: ID): VmSnapshot | undefined {
    const ref = this.#refs.get(id)
    if (!ref) return undefined
    const recent = this.#recent.get(ref.value)
    this.#recent.delete(ref.value)
    if (!recent || Date.now() - recent.at > RECENT_MS || recent.snap.record?.id !== id) return undefined
    return recent.snap
  }

  /** How many changes this process began on VM `ref`: a read that saw one begin is not noted. */
  changesTo(ref: MoRef): number {
    return this.#changes.get(ref.value) ?? 0
  }

  /**
   * A snapshot just read (or read back with a change this process made), sent when
   * {@link changesTo} said `since`.
   */
  noteRead(snap: VmSnapshot, since: number): void {
    if (this.changesTo(snap.ref) !== since) return
    this.#recent.delete(snap.ref.value)
    this.#recent.set(snap.ref.value, { snap, at: Date.now() })
    if (this.#recent.size > RECENT_KEPT) {
      const oldest = this.#recent.keys().next().value
      if (oldest !== undefined) this.#recent.delete(oldest)
    }
  }

  /** This process is changing VM `ref` (its configuration or power): earlier reads are no base any more. */
  changing(ref: MoRef): void {
    this.#recent.delete(ref.value)
    this.#changes.set(ref.value, this.changesTo(ref) + 1)
  }

  /** The container of exec'd process `processId` when this process has seen it. */
  knownOwner(processId: ID): ID | undefined {
    return this.#owners.get(processId)
  }

  setOwner(processId: ID, containerId: ID): void {
    this.#owners.set(processId, containerId)
  }

  forgetProcess(processId: ID): void {
    this.#owners.delete(processId)
  }

  /** Forgets the owners of exec'd processes whose records `options` (now applied) deleted. */
  forgetDeleted(options: readonly OptionValue[]): void {
    for (const processId of deletedExecs(options)) this.#owners.delete(processId)
  }

  /** The VM of `id` by its name in the folder (`fresh` skips the cache). */
  async lookup(id: ID, fresh: boolean): Promise<MoRef | undefined> {
    const cached = fresh ? undefined : this.#refs.get(id)
    if (cached) return cached
    let ref: MoRef | undefined
    try {
      ref = await this.gateway.call('FindByInventoryPath', {
        _this: this.inventory.searchIndex,
        inventoryPath: `${this.settings.vmFolder}/${vmNameFor(this.settings, id)}`,
      })
    } catch (e) {
      throw wrap(e, `looking up container ${id}`, id)
    }
    if (ref?.type !== 'VirtualMachine') return undefined
    this.#refs.set(id, ref)
    return ref
  }

  /**
   * One read of a VM; `undefined` when it no longer exists. "Gone" decides outcomes (a destroy
   * whose answer was lost, a change that did not land), so an answer without the VM is confirmed
   * by a second read before it is believed.
   */
  async readRef(ref: MoRef): Promise<VmSnapshot | undefined> {
    const once = await this.#readOnce(ref)
    if (once !== undefined) return once
    return this.#readOnce(ref)
  }

  async #readOnce(ref: MoRef): Promise<VmSnapshot | undefined> {
    try {
      const since = this.changesTo(ref)
      const [content] = await retrieve(this.gateway, 'VirtualMachine', [ref], VM_PROPERTIES)
      if (!content) return undefined
      const snap = snapshotOf(content)
      this.noteRead(snap, since)
      return snap
    } catch (e) {
      if (isCode(e, 'NOT_FOUND')) return undefined
      throw e
    }
  }

  /**
   * The current snapshot of container `id`: one property read (plus a lookup by name when the
   * VM is not known yet or its cached reference went stale).
   * @throws NotFoundError when there is no such container.
   */
  async read(id: ID): Promise<VmSnapshot> {
    const cached = this.#refs.get(id)
    if (cached) {
      const snap = await this.#readOf(cached, id)
      if (snap?.record?.id === id) return snap
      this.#refs.delete(id)
    }
    const ref = await this.lookup(id, true)
    if (ref && ref.value !== cached?.value) {
      const snap = await this.#readOf(ref, id)
      if (snap?.record?.id === id) return snap
    }
    this.forget(id)
    throw notFound(id)
  }

  async #readOf(ref: MoRef, id: ID): Promise<VmSnapshot | undefined> {
    try {
      return await this.readRef(ref)
    } catch (e) {
      throw wrap(e, `reading container ${id}`, id)
    }
  }

  /** Every portlayer container in the folder: one container view, paged property reads. */
  async list(): Promise<VmSnapshot[]> {
    for (let attempt = 0; ; attempt++) {
      const view = await this.#containerView()
      const spec: PropertyFilterSpec = {
        propSet: [{ type: 'VirtualMachine', pathSet: [...LIST_PROPERTIES] }],
        objectSet: [{ obj: view, skip: true, selectSet: [VIEW_TRAVERSAL] }],
      }
      try {
        const snaps: VmSnapshot[] = []
        for (const content of await collect(this.gateway, spec, this.settings.listPageSize)) {
          const snap = snapshotOf(content)
          if (!snap.record) continue
          this.#refs.set(snap.record.id, snap.ref)
          snaps.push(snap)
        }
        return snaps
      } catch (e) {
        // Views belong to a session: after a re-login the old one is gone.
        if (attempt === 0 && isCode(e, 'NOT_FOUND')) {
          this.#view = undefined
          continue
        }
        throw wrap(e, 'listing containers', undefined)
      }
    }
  }

  /** The container that holds process `processId`, or `undefined`. */
  async ownerOf(processId: ID): Promise<ID | undefined> {
    const known = this.#owners.get(processId)
    if (known) return known
    for (const snap of await this.list()) {
      const record = snap.record as ContainerRecord
      if (record.main?.processId === processId || snap.entries.has(execKey(processId))) {
        this.#owners.set(processId, record.id)
        return record.id
      }
    }
    return undefined
  }

  /** Destroys the container view (on close); a failure only leaves it to the session's end. */
  async destroyView(): Promise<void> {
    const view = this.#view
    this.#view = undefined
    if (view) await this.gateway.call('DestroyView', { _this: view }).catch(() => {})
  }

  async #containerView(): Promise<MoRef> {
    if (this.#view) return this.#view
    try {
      this.#view = await this.gateway.call('CreateContainerView', {
        _this: this.inventory.viewManager,
        container: this.inventory.folder,
        type: ['VirtualMachine'],
        recursive: false,
      })
    } catch (e) {
      throw wrap(e, 'creating the container view', undefined)
    }
    return this.#view
  }
}
