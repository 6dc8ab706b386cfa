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
