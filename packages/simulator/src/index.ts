/**
 * `createSimulator()`: the in-memory portlayer backend — the whole `PortLayer`, `Interaction` and
 * `ExtensibleBackend` contract with the design's program semantics, for tests and examples — plus
 * the controls a test needs: a virtual clock, the guest file system, registered programs, fault
 * injection, snapshots and event listeners.
 * @module @portlayer/simulator
 */
export type { SimClock } from './clock.js'
export { DEFAULT_EVENT_QUEUE_LIMIT, type SimEventListener } from './events.js'
export { type FaultTarget, SIM_OPERATIONS, type SimFaults, type SimOperation } from './faults.js'
export type { FileStat, SimFileSystem } from './fs.js'
export {
  DEFAULT_LIMITS,
  DEFAULT_MAX_EXITED_EXECS,
  DEFAULT_STOP_GRACE_PERIOD_MS,
  type SimulatorOptions,
} from './options.js'
export type { ProgramContext, ProgramDefinition, SimProgram } from './program-context.js'
export type { ProgramRegistry } from './programs.js'
export { createSimulator, type Simulator } from './simulator.js'
export type { SimulatorSnapshot } from './snapshot.js'
