/**
 * What every portlayer backend shares and a third-party backend reuses: the commit-extension
 * registry and runner, error adoption, retention of exited exec'd processes, argument checks.
 * @module @portlayer/backend-kit
 */
export * from './adopt-error.js'
export * from './argument-check.js'
export * from './exec-retention.js'
export * from './extension-registry.js'
export * from './plain-json.js'
