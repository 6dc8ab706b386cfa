/**
 * Reliability tools: a history recorder and linearizability checker with a container model,
 * concurrent workloads, and model-based fuzzing of a whole `PortLayer` (fast-check), with
 * hostile argument values.
 * @module @portlayer/conformance/reliability
 */
export {
  type ContainerModelState,
  type ContainerOp,
  checkHistory,
  containerModel,
  describeOp,
  type HistoryCheck,
} from './container-model.js'
export { type FuzzOptions, type FuzzReport, type FuzzTarget, fuzzCommands, fuzzPortLayer } from './fuzz.js'
export {
  type HistoryEvent,
  HistoryRecorder,
  type OpInput,
  type OpResult,
  resultOfError,
  saveHistory,
} from './history.js'
export { HOSTILE_VALUES, type Hostile, hostileValue } from './hostile.js'
export {
  checkLinearizable,
  type LinearizabilityResult,
  type SequentialModel,
  type TimedOperation,
} from './linearizability.js'
export { seededRandom, seedFromEnv } from './random.js'
export {
  DEFAULT_MIX,
  quietReads,
  runWorkload,
  type WorkloadMix,
  type WorkloadOptions,
  type WorkloadResult,
} from './workload.js'
