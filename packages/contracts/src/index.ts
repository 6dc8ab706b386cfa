/**
 * The portlayer contract: the `PortLayer` interface every backend implements, its model
 * (containers, processes, handles, events), `PortLayerError` and its codes, capability flags, the
 * program semantics shared by the simulator and the vcsim harness, argument validation, and the
 * `Logger` shape. Zero runtime dependencies. The vim25 wire types and the `VmomiGateway`
 * contract are in `@portlayer/contracts/vmomi`.
 * @module @portlayer/contracts
 */
export * from './call-options.js'
export * from './capabilities.js'
export * from './describe.js'
export * from './errors.js'
export * from './events.js'
export * from './extensions.js'
export * from './handle.js'
export * from './ids.js'
export * from './interaction.js'
export * from './logger.js'
export * from './model.js'
export * from './pending-files.js'
export * from './port-layer.js'
export * from './program-output.js'
export * from './programs.js'
export * from './states.js'
export * from './validate.js'
