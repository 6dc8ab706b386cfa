export { assertHandle } from './assert.js'
export { BasicHandleFactory } from './factory.js'
export { isJsonValue, type JsonValue, toFrozenJson } from './json-value.js'
export { deserializeHandle, serializeHandle } from './serialize.js'
