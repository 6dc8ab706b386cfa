/**
 * What a backend can do. The conformance suite skips (and reports) the tests of a capability a
 * backend declares missing; a backend must declare a capability missing only when its platform
 * cannot provide it.
 */
export interface Capabilities {
  /** `execProcess` runs processes beside the main one. */
  readonly exec: boolean
  /** `signal` delivers signals to processes. */
  readonly signal: boolean
  /** `copyTo` and `copyFrom` move files. */
  readonly files: boolean
  /** Commit extensions (`registerExtension`). */
  readonly extensions: boolean
}

/** Every capability present: what a complete backend declares. */
export const ALL_CAPABILITIES: Capabilities = Object.freeze({
  exec: true,
  signal: true,
  files: true,
  extensions: true,
})
