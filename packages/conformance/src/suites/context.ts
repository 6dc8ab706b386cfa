import type { Capabilities } from '@portlayer/contracts'
import type { ResolvedOptions } from '../backend.js'
import type { Harness } from '../harness.js'

/** What every group of tests is given when it declares its tests. */
export interface SuiteContext {
  readonly caps: Capabilities
  readonly options: ResolvedOptions
  /** The current test's harness (made in beforeEach). */
  t(): Harness
}
