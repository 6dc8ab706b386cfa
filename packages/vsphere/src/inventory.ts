import { NotFoundError, UnsupportedError } from '@portlayer/contracts'
import type { MoRef, VmomiGateway } from '@portlayer/contracts/vmomi'
import { BACKEND, wrap } from './errors.js'
import type { ResolvedSettings } from './settings.js'
import { retrieve } from './vim-calls.js'

/** The managed objects the settings name, resolved once by `init`. */
export interface Inventory {
  readonly datacenter: MoRef
  readonly folder: MoRef
  readonly pool: MoRef
  readonly datastore: MoRef
  readonly template: MoRef | undefined
  readonly searchIndex: MoRef
  readonly viewManager: MoRef
  readonly processManager: MoRef
  readonly fileManager: MoRef
}

async function find(
  gateway: VmomiGateway,
  path: string,
  setting: string,
  types: readonly string[],
): Promise<MoRef> {
  let ref: MoRef | undefined
  try {
    ref = await gateway.call('FindByInventoryPath', {
      _this: gateway.serviceContent.searchIndex,
      inventoryPath: path,
    })
  } catch (e) {
    throw wrap(e, `looking up ${setting} '${path}'`, undefined)
  }
  if (!ref) {
    throw new NotFoundError(`vsphere settings: ${setting} '${path}' is not in the vSphere inventory`, {
      backend: BACKEND,
      detail: { setting, inventoryPath: path },
    })
  }
  if (!types.includes(ref.type)) {
    throw new NotFoundError(
      `vsphere settings: ${setting} '${path}' is a ${ref.type}, expected ${types.join(' or ')}`,
      { backend: BACKEND, detail: { setting, inventoryPath: path, type: ref.type } },
    )
  }
  return ref
}

/**
 * Resolves every inventory path of `settings` (in parallel) and the guest operation managers.
 * @throws NotFoundError naming the setting whose path does not exist or has the wrong type;
 * UnsupportedError when the server offers no guest operations or container views.
 */
export async function resolveInventory(
  gateway: VmomiGateway,
  settings: ResolvedSettings,
): Promise<Inventory> {
  const sc = gateway.serviceContent
  if (!sc.guestOperationsManager || !sc.viewManager) {
    throw new UnsupportedError('this vSphere endpoint offers no guest operations or container views', {
      backend: BACKEND,
    })
  }
  const guestOps = sc.guestOperationsManager
  const [datacenter, folder, pool, datastore, template, managers] = await Promise.all([
    find(gateway, settings.datacenter, 'datacenter', ['Datacenter']),
    find(gateway, settings.vmFolder, 'vmFolder', ['Folder']),
    find(gateway, settings.resourcePool, 'resourcePool', ['ResourcePool', 'VirtualApp']),
    find(gateway, `${settings.datacenter}/datastore/${settings.datastore}`, 'datastore', ['Datastore']),
    settings.template === undefined
      ? Promise.resolve(undefined)
      : find(gateway, settings.template, 'template', ['VirtualMachine']),
    retrieve(gateway, 'GuestOperationsManager', [guestOps], ['processManager', 'fileManager']).catch((e) => {
      throw wrap(e, 'reading the guest operations manager', undefined)
    }),
  ])
  const props = new Map((managers[0]?.propSet ?? []).map((p) => [p.name, p.val as MoRef | undefined]))
  const processManager = props.get('processManager')
  const fileManager = props.get('fileManager')
  if (!processManager || !fileManager) {
    throw new UnsupportedError('this vSphere endpoint has no guest process or file manager', {
      backend: BACKEND,
    })
  }
  return {
    datacenter,
    folder,
    pool,
    datastore,
    template,
    searchIndex: sc.searchIndex,
    viewManager: sc.viewManager,
    processManager,
    fileManager,
  }
}
