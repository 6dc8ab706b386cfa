import { describeValue, InvalidArgumentError, PortLayerError } from '@portlayer/contracts'

/** A value that survives `JSON.stringify` → `JSON.parse` unchanged. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue }

// Bounds keep a hostile or accidental value (a huge DAG, a cycle) from hanging the caller.
const MAX_DEPTH = 64
const MAX_NODES = 100_000

interface Budget {
  nodes: number
}

/**
 * Checks that `value` is JSON data that round-trips exactly (no `undefined`, functions, symbols,
 * bigints, non-finite numbers, class instances, Dates, sparse arrays or cycles) and returns a
 * deep-frozen copy of it, so a handle that holds it can never change underneath its owner.
 * @param what names the value in the error message, e.g. `extension slot 'net'`.
 * @throws InvalidArgumentError when it is not.
 */
export function toFrozenJson(value: unknown, what: string, backend?: string): JsonValue {
  try {
    return copy(value, what, 0, { nodes: 0 }, backend)
  } catch (e) {
    // A getter or proxy trap of the caller's value threw: that is a bad value too.
    if (PortLayerError.isInstance(e)) throw e
    throw new InvalidArgumentError(`${what} could not be read (a getter or proxy trap threw)`, {
      backend,
      cause: e,
    })
  }
}

/**
 * True when `value` is JSON data that round-trips exactly (see {@link toFrozenJson}).
 */
export function isJsonValue(value: unknown): boolean {
  try {
    copy(value, '', 0, { nodes: 0 }, undefined)
    return true
  } catch {
    return false
  }
}

function copy(value: unknown, path: string, depth: number, budget: Budget, backend?: string): JsonValue {
  if (++budget.nodes > MAX_NODES)
    throw new InvalidArgumentError(`${path} is too large (more than ${MAX_NODES} JSON values)`, { backend })
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value))
        throw new InvalidArgumentError(`${path} holds ${value}, which JSON cannot represent`, { backend })
      return value === 0 ? 0 : value
    case 'object':
      break
    default:
      throw new InvalidArgumentError(`${path} holds ${describeValue(value)}, which is not JSON data`, {
        backend,
      })
  }
  if (value === null) return null
  if (depth >= MAX_DEPTH)
    throw new InvalidArgumentError(`${path} is nested deeper than ${MAX_DEPTH} levels (or cyclic)`, {
      backend,
    })
  if (Array.isArray(value)) {
    const out: JsonValue[] = new Array(value.length)
    for (let i = 0; i < value.length; i++) {
      if (!(i in value))
        throw new InvalidArgumentError(`${path}[${i}] is a hole in a sparse array`, { backend })
      out[i] = copy(value[i], `${path}[${i}]`, depth + 1, budget, backend)
    }
    return Object.freeze(out)
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    throw new InvalidArgumentError(`${path} holds ${describeValue(value)}, not a plain object`, { backend })
  }
  if (Object.getOwnPropertySymbols(value).length > 0)
    throw new InvalidArgumentError(`${path} has symbol keys, which JSON drops`, { backend })
  const out: Record<string, JsonValue> = {}
  for (const key of Object.keys(value)) {
    // A long key is shown abbreviated: the path only names where a problem is.
    const at = key.length <= 40 ? `${path}.${key}` : `${path}[${describeValue(key)}]`
    const v = copy((value as Record<string, unknown>)[key], at, depth + 1, budget, backend)
    // An own "__proto__" key (as JSON.parse makes) must stay data, not become the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true })
    else out[key] = v
  }
  return Object.freeze(out)
}
