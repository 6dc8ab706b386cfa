import { packageBuild } from '../../tsup.shared.js'

// build.ts finds tools/vcsim from import.meta.url, which the CJS build gets from this shim.
export default packageBuild({ shims: true })
