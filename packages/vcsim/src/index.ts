export { createAdmin, type ExpiredReads, type ExpireSessionsOptions, type VcsimAdmin } from './admin.js'
export { type BuildOptions, buildVcsim, defaultSourceDir } from './build.js'
export { type GuestCredentials, type StartVcsimOptions, startVcsim, type Vcsim } from './harness.js'
export { DEBIAN_PACKAGES, DEFAULT_GOPATH } from './toolchain.js'
