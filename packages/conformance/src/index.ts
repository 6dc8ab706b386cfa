/**
 * `describeConformance()`: the behavioural suite every portlayer backend must pass, as vitest
 * tests, and the helpers it is built from (`eventually`, `expectPortLayerError`,
 * `snapshotContainer`, outcome checks). ESM-only. The reliability tools are in
 * `@portlayer/conformance/reliability`.
 * @module @portlayer/conformance
 */
export type { ConformanceBackend, ConformanceOptions } from './backend.js'
export { describeConformance } from './describe-conformance.js'
export { type EventuallyOptions, eventually, type Held } from './eventually.js'
export {
  describeOutcome,
  expectCancelled,
  expectNotApplied,
  expectPortLayerError,
  type Outcome,
  outcomeOf,
} from './outcome.js'
export { type ContainerSnapshot, snapshotContainer } from './snapshot.js'
