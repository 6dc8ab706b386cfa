import type { MoRef, OptionValue, VmomiGateway } from '@portlayer/contracts/vmomi'

// Looks at vSphere directly (not through the backend), so tests can check what the backend left.

const DC0_VM_FOLDER = 'DC0/vm'

/** Names and power states of every VM in the vcsim folder `DC0/vm`. */
export async function vmsInFolder(
  gateway: VmomiGateway,
): Promise<Array<{ ref: MoRef; name: string; power: string }>> {
  const folder = await gateway.call('FindByInventoryPath', {
    _this: gateway.serviceContent.searchIndex,
    inventoryPath: DC0_VM_FOLDER,
  })
  if (!folder) throw new Error('no DC0/vm folder')
  const view = await gateway.call('CreateContainerView', {
    _this: gateway.serviceContent.viewManager as MoRef,
    container: folder,
    type: ['VirtualMachine'],
    recursive: false,
  })
  try {
    const result = await gateway.call('RetrievePropertiesEx', {
      _this: gateway.serviceContent.propertyCollector,
      specSet: [
        {
          propSet: [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState'] }],
          objectSet: [
            {
              obj: view,
              skip: true,
              selectSet: [
                { _type: 'TraversalSpec', name: 'v', type: 'ContainerView', path: 'view', skip: false },
              ],
            },
          ],
        },
      ],
      options: {},
    })
    return (result?.objects ?? []).map((o) => {
      const props = new Map(o.propSet.map((p) => [p.name, p.val]))
      return { ref: o.obj, name: String(props.get('name')), power: String(props.get('runtime.powerState')) }
    })
  } finally {
    await gateway.call('DestroyView', { _this: view })
  }
}

/** The VM of a container with the default naming rule. */
export async function vmOf(gateway: VmomiGateway, containerId: string): Promise<MoRef> {
  const ref = await gateway.call('FindByInventoryPath', {
    _this: gateway.serviceContent.searchIndex,
    inventoryPath: `${DC0_VM_FOLDER}/portlayer-${containerId}`,
  })
  if (!ref) throw new Error(`no VM for container ${containerId}`)
  return ref
}

/** Properties of one VM, by path. */
export async function vmProperties(
  gateway: VmomiGateway,
  vm: MoRef,
  paths: string[],
): Promise<Map<string, unknown>> {
  const result = await gateway.call('RetrievePropertiesEx', {
    _this: gateway.serviceContent.propertyCollector,
    specSet: [
      { propSet: [{ type: 'VirtualMachine', pathSet: paths }], objectSet: [{ obj: vm, skip: false }] },
    ],
    options: {},
  })
  return new Map((result?.objects[0]?.propSet ?? []).map((p) => [p.name, p.val]))
}

/** The VM's extraConfig as a map (last entry per key). */
export async function extraConfigOf(gateway: VmomiGateway, vm: MoRef): Promise<Map<string, string>> {
  const props = await vmProperties(gateway, vm, ['config.extraConfig'])
  const entries = new Map<string, string>()
  for (const o of (props.get('config.extraConfig') as OptionValue[] | undefined) ?? [])
    entries.set(o.key, o.value)
  return entries
}
