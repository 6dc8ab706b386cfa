import type {
  GuestProcessInfo,
  HandleFactory,
  ID,
  MoRef,
  OptionValue,
  PropertyFilterSpec,
  TraversalSpec,
  VmomiGateway,
} from '@portlayer/contracts'
import {
  BACKEND,
  closed,
  faultOf,
  isCode,
  isOutcomeUnknown,
  notFound,
  notInitialised,
  wrap,
} from './errors.js'
import type { AnyExtension } from './extensions.js'
import type { ContainerRecord } from './extra-config.js'
import { deletedExecs, execKey } from './extra-config.js'
import { Guest } from './guest.js'
import type { Inventory } from './inventory.js'
import type { ResolvedSettings } from './settings.js'
import { vmNameFor } from './settings.js'
import { collect, retrieve, runTask } from './vim.js'
import { LIST_PROPERTIES, snapshotOf, VM_PROPERTIES, type VmSnapshot } from './vm.js'

/** What `init` connected. */
export interface Connection {
  readonly gateway: VmomiGateway
  readonly factory: HandleFactory
  readonly inventory: Inventory
  readonly guest: Guest
}

const VIEW_TRAVERSAL: TraversalSpec = {
  _type: 'TraversalSpec',
  name: 'containerView',
  type: 'ContainerView',
  path: 'view',
  skip: false,
}

/**
 * The version a handle carries: the last commit's token. Only commits move it (as on every
 * backend); facts the backend records (a process exec'd, an exit seen) move `config.changeVersion`
 * but not the version, so they never make a handle stale. Commits are still exclusive: each
 * reconfigures guarded by the `changeVersion` it read and, when only facts moved it, reads again.
 */
export function versionOf(snap: VmSnapshot): string {
  return snap.record?.rev ?? 'none'
}

/**
 * The shared state of one `PortLayerVsphere`: its connection, what it learnt about the inventory
 * (container ID → VM, process → container), the containers the exit poll watches, the registered
 * extensions, and the reads and small actions every operation builds on.
 */
export class Backend {
  connection: Connection | undefined
  isClosed = false
  /** Container ID → its VM, learnt from lookups and listings. */
  readonly refs = new Map<ID, MoRef>()
  /** Exec'd process ID → its container. */
  readonly processOwners = new Map<ID, ID>()
  readonly extensions = new Map<string, AnyExtension>()
  /** Containers seen running: the background exit poll looks at these. */
  readonly watched = new Set<ID>()
  /** Commits of create-handles under way in this process, by container ID (they run one at a time). */
  readonly creating = new Map<ID, Promise<ID>>()
  view: MoRef | undefined
  pollTimer: ReturnType<typeof setInterval> | undefined
  polling: Promise<void> | undefined

  constructor(readonly settings: ResolvedSettings) {}

  c(): Connection {
    if (this.isClosed) throw closed()
    if (!this.connection) throw notInitialised()
    return this.connection
  }

  forget(id: ID): void {
    this.refs.delete(id)
    this.watched.delete(id)
  }

  /** The VM of `id` by its name in the folder (`fresh` skips the cache). */
  async lookup(id: ID, fresh: boolean): Promise<MoRef | undefined> {
    const cached = fresh ? undefined : this.refs.get(id)
    if (cached) return cached
    const { gateway, inventory } = this.c()
    let ref: MoRef | undefined
    try {
      ref = await gateway.call('FindByInventoryPath', {
        _this: inventory.searchIndex,
        inventoryPath: `${this.settings.vmFolder}/${vmNameFor(this.settings, id)}`,
      })
    } catch (e) {
      throw wrap(e, `looking up container ${id}`, id)
    }
    if (ref?.type !== 'VirtualMachine') return undefined
    this.refs.set(id, ref)
    return ref
  }

  /** One read of a VM; `undefined` when it no longer exists. */
  async readRef(ref: MoRef): Promise<VmSnapshot | undefined> {
    const { gateway } = this.c()
    try {
      const [content] = await retrieve(gateway, 'VirtualMachine', [ref], VM_PROPERTIES)
      return content ? snapshotOf(content) : undefined
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
    const cached = this.refs.get(id)
    if (cached) {
      const snap = await this.readOf(cached, id)
      if (snap?.record?.id === id) return snap
      this.refs.delete(id)
    }
    const ref = await this.lookup(id, true)
    if (ref && ref.value !== cached?.value) {
      const snap = await this.readOf(ref, id)
      if (snap?.record?.id === id) return snap
    }
    this.forget(id)
    throw notFound(id)
  }

  async readOf(ref: MoRef, id: ID): Promise<VmSnapshot | undefined> {
    try {
      return await this.readRef(ref)
    } catch (e) {
      throw wrap(e, `reading container ${id}`, id)
    }
  }

  /** Every portlayer container in the folder: one container view, paged property reads. */
  async listSnapshots(): Promise<VmSnapshot[]> {
    const { gateway } = this.c()
    for (let attempt = 0; ; attempt++) {
      const view = await this.containerView()
      const spec: PropertyFilterSpec = {
        propSet: [{ type: 'VirtualMachine', pathSet: [...LIST_PROPERTIES] }],
        objectSet: [
          {
            obj: view,
            skip: true,
            selectSet: [VIEW_TRAVERSAL],
          },
        ],
      }
      try {
        const snaps: VmSnapshot[] = []
        for (const content of await collect(gateway, spec, this.settings.listPageSize)) {
          const snap = snapshotOf(content)
          if (!snap.record) continue
          this.refs.set(snap.record.id, snap.ref)
          snaps.push(snap)
        }
        return snaps
      } catch (e) {
        // Views belong to a session: after a re-login the old one is gone.
        if (attempt === 0 && isCode(e, 'NOT_FOUND')) {
          this.view = undefined
          continue
        }
        throw wrap(e, 'listing containers', undefined)
      }
    }
  }

  async containerView(): Promise<MoRef> {
    if (this.view) return this.view
    const { gateway, inventory } = this.c()
    try {
      this.view = await gateway.call('CreateContainerView', {
        _this: inventory.viewManager,
        container: inventory.folder,
        type: ['VirtualMachine'],
        recursive: false,
      })
    } catch (e) {
      throw wrap(e, 'creating the container view', undefined)
    }
    return this.view
  }

  /** The container that holds process `processId`, or `undefined`. */
  async ownerOf(processId: ID): Promise<ID | undefined> {
    const known = this.processOwners.get(processId)
    if (known) return known
    for (const snap of await this.listSnapshots()) {
      const record = snap.record as ContainerRecord
      if (record.main?.processId === processId || snap.entries.has(execKey(processId))) {
        this.processOwners.set(processId, record.id)
        return record.id
      }
    }
    return undefined
  }

  async powerOff(id: ID, ref: MoRef): Promise<void> {
    const { gateway } = this.c()
    try {
      await runTask(gateway, 'PowerOffVM_Task', { _this: ref })
    } catch (e) {
      if (faultOf(e) === 'InvalidPowerState') return
      throw wrap(e, `powering off the VM of container ${id}`, id)
    }
  }

  /** Records facts (process starts and ends) that do not depend on the version; retried once when the answer is lost. */
  async record(ref: MoRef, options: OptionValue[]): Promise<void> {
    const { gateway } = this.c()
    const spec = { extraConfig: options }
    try {
      await runTask(gateway, 'ReconfigVM_Task', { _this: ref, spec })
    } catch (e) {
      if (!isOutcomeUnknown(e)) throw e
      await runTask(gateway, 'ReconfigVM_Task', { _this: ref, spec })
    }
    this.forgetDeleted(options)
  }

  /** Forgets the owners of exec'd processes whose records `options` (now applied) deleted. */
  forgetDeleted(options: readonly OptionValue[]): void {
    for (const processId of deletedExecs(options)) this.processOwners.delete(processId)
  }

  /** The guest's processes, or `undefined` when the guest cannot answer now. */
  async listQuietly(ref: MoRef, id: ID): Promise<readonly GuestProcessInfo[] | undefined> {
    try {
      return await this.c().guest.listProcesses(ref)
    } catch (e) {
      if (Guest.notReady(e)) return undefined
      throw wrap(e, `listing the processes of container ${id}`, id)
    }
  }

  async releaseExtensions(id: ID, record: ContainerRecord): Promise<void> {
    for (const [namespace, applied] of record.extensions) {
      const extension = this.extensions.get(namespace)
      if (!extension?.release || applied === undefined) continue
      try {
        await extension.release({ containerId: id, backend: BACKEND, applied })
      } catch (e) {
        this.settings.onBackgroundError(e)
      }
    }
  }
}
