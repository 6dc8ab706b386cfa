import type { MoRef } from '@portlayer/contracts/vmomi'

/** The root object of every vSphere endpoint. */
export const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' }

/** True for an object holding fields: not null, not an array, not a `Date`. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

/** The message of a thrown value, or nothing: for log lines. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : ''
}
