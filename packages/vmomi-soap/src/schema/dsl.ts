/**
 * A compact notation for the vim25 table: a type lists its fields in vim25 order as
 * `name:type` words. A `?` suffix marks an optional field, `[]` a repeatable one (always optional).
 * `MOR` stands for `ManagedObjectReference`; `anyType` is a value whose type travels in `xsi:type`.
 */

export const PRIMITIVES = new Set([
  'string',
  'boolean',
  'int',
  'long',
  'short',
  'byte',
  'float',
  'double',
  'dateTime',
  'base64Binary',
  'anyType',
])

export const MOR = 'ManagedObjectReference'

export interface FieldDef {
  readonly name: string
  readonly type: string
  readonly array: boolean
  readonly optional: boolean
}

/** A data or fault type as written in the table. */
export interface TypeSpec {
  readonly base?: string
  readonly fields: string
}

const FIELD = /^([A-Za-z_][A-Za-z0-9_]*):([A-Za-z][A-Za-z0-9_]*)(\[\]|\?)?$/

export function parseField(word: string): FieldDef {
  const match = FIELD.exec(word)
  if (!match) throw new Error(`vim25 table: bad field "${word}"`)
  const [, name, rawType, suffix] = match as unknown as [string, string, string, string | undefined]
  return {
    name,
    type: rawType === 'MOR' ? MOR : rawType,
    array: suffix === '[]',
    optional: suffix !== undefined,
  }
}

export function parseFields(spec: string): FieldDef[] {
  return spec
    .split(/\s+/)
    .filter((word) => word !== '')
    .map(parseField)
}
