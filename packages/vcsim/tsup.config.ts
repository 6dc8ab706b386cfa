import { packageBuild } from '../../tsup.shared.js'

// paths.ts finds the package root from import.meta.url, which the CJS build gets from this shim.
// cli is the `portlayer-vcsim` bin.
export default packageBuild({ entry: { index: 'src/index.ts', cli: 'src/cli.ts' }, shims: true })
