/**
 * `BasicHandleFactory`: the standard handles of portlayer — frozen objects of plain data with
 * pending changes and extension slots, serialisable to JSON and back.
 * @module @portlayer/handles
 */
export { assertHandle } from './assert.js'
export { BasicHandleFactory } from './factory.js'
export { isJsonValue, type JsonValue, toFrozenJson } from './json-value.js'
export { deserializeHandle, serializeHandle } from './serialize.js'
