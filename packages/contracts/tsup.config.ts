import { packageBuild } from '../../tsup.shared.js'

// Two entries: the port-layer contract (`.`), and the vim25 wire types with the VmomiGateway
// contract (`./vmomi`), which only vSphere backends and gateways need.
export default packageBuild({ entry: { index: 'src/index.ts', vmomi: 'src/vmomi.ts' } })
