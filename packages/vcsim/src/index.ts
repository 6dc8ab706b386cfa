/**
 * `startVcsim()`: the vcsim vSphere simulator with the project's harness around it, for tests —
 * built once per user from the Go sources the package ships, started on loopback, with fault
 * injection (`vc.admin`). `vcsimAvailable()` says beforehand whether it can run here.
 * @module @portlayer/vcsim
 */
export { createAdmin, type ExpiredReads, type ExpireSessionsOptions, type VcsimAdmin } from './admin.js'
export { type VcsimAvailability, type VcsimAvailableOptions, vcsimAvailable } from './available.js'
export { type BuildOptions, buildVcsim } from './build.js'
export { type GuestCredentials, type StartVcsimOptions, startVcsim, type Vcsim } from './harness.js'
export { defaultCacheDir, defaultSourceDir } from './paths.js'
export { DEBIAN_PACKAGES, DEFAULT_GOPATH } from './toolchain.js'
