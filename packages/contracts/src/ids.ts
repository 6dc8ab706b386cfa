/**
 * A container or process identifier: an RFC 9562 UUID string in lower-case canonical form.
 * Kept as a plain string so IDs travel through JSON, extraConfig and logs unchanged.
 */
export type ID = string

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** True when `value` is a canonical lower-case RFC 9562 UUID string (versions 1–8). */
export function isId(value: unknown): value is ID {
  return typeof value === 'string' && value.length === 36 && UUID_PATTERN.test(value)
}
