import { DATA_TYPES } from './data-types.js'
import { type FieldDef, MOR, PRIMITIVES, parseField, parseFields, type TypeSpec } from './dsl.js'
import { FAULT_TYPES } from './fault-types.js'
import { OPERATIONS } from './operations.js'

/** A complex type with its fields resolved: `fields` holds the inherited ones first, in vim25 order. */
export interface ComplexType {
  readonly name: string
  readonly base: string | undefined
  readonly own: readonly FieldDef[]
  readonly fields: readonly FieldDef[]
  readonly byName: ReadonlyMap<string, FieldDef>
  readonly fault: boolean
}

export interface Operation {
  readonly name: string
  readonly params: readonly FieldDef[]
  readonly paramsByName: ReadonlyMap<string, FieldDef>
  /** Undefined for operations without a result. */
  readonly returns: FieldDef | undefined
  readonly idempotent: boolean
  /** False for a call that may change the inventory or a guest (its lost answer leaves the outcome unknown). */
  readonly changes: boolean
}

const ARRAY_OF = 'ArrayOf'

function build(): Map<string, ComplexType> {
  const specs = new Map<string, { spec: TypeSpec; fault: boolean }>()
  for (const [name, spec] of Object.entries(DATA_TYPES)) specs.set(name, { spec, fault: false })
  for (const [name, spec] of Object.entries(FAULT_TYPES)) {
    if (specs.has(name)) throw new Error(`vim25 table: ${name} declared twice`)
    specs.set(name, { spec, fault: true })
  }
  const types = new Map<string, ComplexType>()
  const resolve = (name: string, seen: string[]): ComplexType => {
    const done = types.get(name)
    if (done) return done
    const entry = specs.get(name)
    if (!entry) throw new Error(`vim25 table: unknown type ${name}`)
    if (seen.includes(name)) throw new Error(`vim25 table: ${name} inherits from itself`)
    const own = parseFields(entry.spec.fields)
    const inherited = entry.spec.base ? resolve(entry.spec.base, [...seen, name]).fields : []
    const fields = [...inherited, ...own]
    const type: ComplexType = {
      name,
      base: entry.spec.base,
      own,
      fields,
      byName: new Map(fields.map((f) => [f.name, f])),
      fault: entry.fault,
    }
    types.set(name, type)
    return type
  }
  for (const name of specs.keys()) resolve(name, [])
  for (const type of types.values()) {
    for (const field of type.own) checkTypeName(field.type, `${type.name}.${field.name}`, types)
  }
  return types
}

function checkTypeName(type: string, where: string, types: ReadonlyMap<string, ComplexType>): void {
  if (type !== MOR && !PRIMITIVES.has(type) && !types.has(type)) {
    throw new Error(`vim25 table: ${where} has unknown type ${type}`)
  }
}

/** Every complex type of the table, by name. */
export const TYPES: ReadonlyMap<string, ComplexType> = build()

function buildOperations(): Map<string, Operation> {
  const ops = new Map<string, Operation>()
  for (const [name, spec] of Object.entries(OPERATIONS)) {
    const params = parseFields(spec.params)
    for (const p of params) checkTypeName(p.type, `${name}(${p.name})`, TYPES)
    const returns = spec.returns === '' ? undefined : parseField(`returnval:${spec.returns}`)
    if (returns) checkTypeName(returns.type, `${name} result`, TYPES)
    ops.set(name, {
      name,
      params,
      paramsByName: new Map(params.map((p) => [p.name, p])),
      returns,
      idempotent: 'idempotent' in spec && spec.idempotent === true,
      changes: !('idempotent' in spec || 'changesNothing' in spec),
    })
  }
  return ops
}

/** Every operation of the table, by method name. */
export const OPS: ReadonlyMap<string, Operation> = buildOperations()

/** True when `type` is `ancestor` or inherits from it. */
export function isSubtypeOf(type: string, ancestor: string): boolean {
  for (let t: string | undefined = type; t !== undefined; t = TYPES.get(t)?.base) {
    if (t === ancestor) return true
  }
  return false
}

/** `type` and its ancestors, nearest first. */
export function ancestry(type: string): string[] {
  const chain: string[] = []
  for (let t: string | undefined = type; t !== undefined; t = TYPES.get(t)?.base) chain.push(t)
  return chain
}

/**
 * vim25 wraps arrays held in an `anyType` (a property value) in an `ArrayOfX` type whose items are
 * elements named `X` (`string`, `int`, … for XML Schema types). Returns that item name for such a
 * type, else undefined. X need not be in the table: `ArrayOfVirtualDevice` is still a list.
 */
export function arrayItemType(typeName: string): string | undefined {
  if (!typeName.startsWith(ARRAY_OF) || typeName.length === ARRAY_OF.length) return undefined
  const item = typeName.slice(ARRAY_OF.length)
  if (item === MOR || TYPES.has(item)) return item
  const primitive = item.charAt(0).toLowerCase() + item.slice(1)
  return PRIMITIVES.has(primitive) ? primitive : item
}

/** The `ArrayOfX` wrapper types declared in the WSDL, with their item element name and type. */
export function arrayTypes(): { name: string; item: string; itemType: string }[] {
  const out: { name: string; item: string; itemType: string }[] = []
  for (const p of PRIMITIVES) {
    const cap = p.charAt(0).toUpperCase() + p.slice(1)
    out.push({ name: `${ARRAY_OF}${cap}`, item: p, itemType: p })
  }
  out.push({ name: `${ARRAY_OF}${MOR}`, item: MOR, itemType: MOR })
  for (const t of TYPES.values()) {
    if (!t.fault) out.push({ name: `${ARRAY_OF}${t.name}`, item: t.name, itemType: t.name })
  }
  return out
}
