import { describeValue, InvalidArgumentError } from '@portlayer/contracts'

/** A value that survives `JSON.stringify` → `JSON.parse` unchanged. */
export type PlainJson =
  | null
  | boolean
  | number
  | string
  | readonly PlainJson[]
  | { readonly [key: string]: PlainJson }

// A hostile or accidental value (a deep chain, a huge graph, a cycle) must not hang a commit.
const MAX_DEPTH = 64
const MAX_NODES = 100_000

/**
 * A deep-frozen copy of `value` if it is plain JSON data that round-trips exactly; otherwise
 * `INVALID_ARGUMENT` on `backend`, naming `what`. Refused: `undefined` anywhere (also inside
 * arrays and objects), functions, symbols, bigints, non-finite numbers, `Date`, `Map` and other
 * class instances, sparse arrays, symbol keys, cycles (found as nesting deeper than 64 levels), and objects whose getters or proxy traps
 * throw. Each property is read once, so a getter cannot answer the check and the copy differently.
 * Backends store the copy, never the extension's object, which it may change later.
 */
export function toPlainJson(value: unknown, what: string, backend: string, target?: string): PlainJson {
  // A getter may throw anything, an InvalidArgumentError or a proxy whose traps throw included, so
  // the refusals of this check are told apart by identity.
  let own: unknown
  const fail = (message: string, cause?: unknown): never => {
    own = new InvalidArgumentError(message, { backend, target, cause })
    throw own
  }
  let nodes = 0
  const copy = (v: unknown, path: string, depth: number): PlainJson => {
    if (++nodes > MAX_NODES) fail(`${what} is too large (more than ${MAX_NODES} JSON values)`)
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v
      case 'number':
        if (!Number.isFinite(v)) fail(`${path} holds ${v}, which JSON cannot represent`)
        return v === 0 ? 0 : v
      case 'object':
        break
      default:
        return fail(`${path} holds ${describeValue(v)}, which is not JSON data`)
    }
    if (v === null) return null
    const o = v as object
    // A cycle shows as endless depth; counting depth costs nothing on the common, shallow value.
    if (depth >= MAX_DEPTH) fail(`${path} is nested deeper than ${MAX_DEPTH} levels (or is cyclic)`)
    let out: PlainJson
    if (Array.isArray(o)) {
      const list: PlainJson[] = new Array(o.length)
      for (let i = 0; i < o.length; i++) {
        if (!(i in o)) fail(`${path}[${i}] is a hole in a sparse array`)
        list[i] = copy(o[i], `${path}[${i}]`, depth + 1)
      }
      out = Object.freeze(list)
    } else {
      const proto: unknown = Object.getPrototypeOf(o)
      if (proto !== Object.prototype && proto !== null)
        fail(`${path} holds ${describeValue(o)}, not a plain object`)
      if (Object.getOwnPropertySymbols(o).length > 0) fail(`${path} has symbol keys, which JSON drops`)
      const record: Record<string, PlainJson> = {}
      for (const key of Object.keys(o)) {
        const at = key.length <= 40 ? `${path}.${key}` : `${path}[${describeValue(key)}]`
        const item = copy((o as Record<string, unknown>)[key], at, depth + 1)
        // An own "__proto__" key (as JSON.parse makes) stays data, never becomes the prototype.
        if (key === '__proto__') Object.defineProperty(record, key, { value: item, enumerable: true })
        else record[key] = item
      }
      out = Object.freeze(record)
    }
    return out
  }
  try {
    return copy(value, what, 0)
  } catch (e) {
    if (e === own) throw e
    return fail(`${what} could not be read (a getter or proxy trap threw)`, e)
  }
}
