import type { Vcsim } from '@portlayer/vcsim'
import type { VsphereSettings } from '../../src/index.js'

// Apart from vcsim.ts (which sets up vitest hooks) so that the benches can use it too.

/** The default vcsim inventory, and the harness's guest credentials. */
export function vcsimSettings(vc: Vcsim, overrides: Partial<VsphereSettings> = {}): VsphereSettings {
  return {
    datacenter: 'DC0',
    vmFolder: 'DC0/vm',
    resourcePool: 'DC0/host/DC0_C0/Resources',
    datastore: 'LocalDS_0',
    guest: vc.guest,
    ...overrides,
  }
}
