import { type ErrorCode, PortLayerError } from '@portlayer/contracts'

// `Outcome` here is how a call ended (resolved, rejected, threw); what a PortLayerError says about
// its change is contracts' `error.outcome` ('not-applied' | 'unknown'), checked by the helpers below.

/** How a call ended: resolved, rejected, or threw before returning a promise. */
export type Outcome =
  | { readonly kind: 'resolved'; readonly value: unknown }
  | { readonly kind: 'rejected'; readonly error: unknown }
  | { readonly kind: 'threw'; readonly error: unknown }

/** Runs `action` and records how it ended, never throwing. */
export async function outcomeOf(action: PromiseLike<unknown> | (() => unknown)): Promise<Outcome> {
  let pending: unknown
  if (typeof action === 'function') {
    try {
      pending = action()
    } catch (error) {
      return { kind: 'threw', error }
    }
  } else {
    pending = action
  }
  try {
    return { kind: 'resolved', value: await pending }
  } catch (error) {
    return { kind: 'rejected', error }
  }
}

/** A short human description of an outcome, for failure messages. */
export function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === 'resolved') return `resolved with ${describeValue(outcome.value)}`
  const how = outcome.kind === 'threw' ? 'threw synchronously' : 'rejected'
  const e = outcome.error
  if (PortLayerError.isInstance(e)) return `${how} with ${e.code}: ${e.message}`
  if (e instanceof Error) return `${how} with a non-portlayer ${e.name}: ${e.message}`
  return `${how} with a non-error ${describeValue(e)}`
}

/** A short description of any value (long strings and buffers abbreviated). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `'${value.slice(0, 12)}…' (${value.length} chars)` : JSON.stringify(value)
  }
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (typeof value === 'function') return 'a function'
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} bytes)`
  if (value instanceof ArrayBuffer) return `ArrayBuffer(${value.byteLength})`
  try {
    const json = JSON.stringify(value, (_k, v: unknown) =>
      ArrayBuffer.isView(v) ? `<${v.byteLength} bytes>` : typeof v === 'bigint' ? `${v}n` : v,
    )
    return json.length > 80 ? `${json.slice(0, 80)}…` : json
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/**
 * Expects `action` (a promise, or a function returning one) to fail with a `PortLayerError` of
 * `code` that says what became of its change (`outcome` is `'not-applied'` or `'unknown'`), and
 * returns that error for further checks. A function that throws synchronously counts as failing.
 * Fails with a message saying what happened instead.
 *
 * ```ts
 * const e = await expectPortLayerError(pl.getContainerState(id), 'NOT_FOUND')
 * expect(e.message).toContain(id)
 * ```
 */
export async function expectPortLayerError(
  action: PromiseLike<unknown> | (() => unknown),
  code: ErrorCode,
  what?: string,
): Promise<PortLayerError> {
  const outcome = await outcomeOf(action)
  const label = what === undefined ? '' : `${what}: `
  if (outcome.kind !== 'resolved' && PortLayerError.isInstance(outcome.error, code)) {
    const said = outcome.error.outcome
    if (said === 'not-applied' || said === 'unknown') return outcome.error
    throw new Error(
      `${label}the ${code} error says no outcome ('not-applied' or 'unknown'), got ${String(said)}`,
      {
        cause: outcome.error,
      },
    )
  }
  throw new Error(`${label}expected a PortLayerError ${code}, but it ${describeOutcome(outcome)}`, {
    cause: outcome.kind === 'resolved' ? undefined : outcome.error,
  })
}

/**
 * Expects `error` to say that nothing of its call was applied: `outcome: 'not-applied'`, also in
 * `toJSON()` and in the JSON text a logger would write.
 */
export function expectNotApplied(error: PortLayerError, what?: string): void {
  const label = what === undefined ? '' : `${what}: `
  const json = error.toJSON()
  const text = JSON.parse(JSON.stringify(error)) as Record<string, unknown>
  if (error.outcome !== 'not-applied' || json.outcome !== 'not-applied' || text.outcome !== 'not-applied') {
    throw new Error(
      `${label}expected outcome 'not-applied' on the ${error.code} error, got ${String(error.outcome)} (toJSON: ${String(json.outcome)}, JSON: ${String(text.outcome)})`,
      { cause: error },
    )
  }
}

/**
 * Expects `action` to fail with `CANCELLED` as an aborted call must: a `PortLayerError` (also by
 * `PortLayerError.isInstance(e, 'CANCELLED')`) whose `cause` is the signal's `reason` and whose
 * outcome is `'not-applied'` — on a reachable backend an aborted call either applies nothing or
 * completes. Returns the error.
 */
export async function expectCancelled(
  action: PromiseLike<unknown> | (() => unknown),
  reason: unknown,
  what?: string,
): Promise<PortLayerError> {
  const e = await expectPortLayerError(action, 'CANCELLED', what)
  const label = what === undefined ? '' : `${what}: `
  if (!PortLayerError.isInstance(e, 'CANCELLED') || e.code !== 'CANCELLED') {
    throw new Error(`${label}PortLayerError.isInstance(e, 'CANCELLED') is false for a ${e.code} error`)
  }
  if (e.cause !== reason) {
    throw new Error(
      `${label}the CANCELLED error's cause is not the signal's reason: got ${describeValue(e.cause)}`,
      {
        cause: e,
      },
    )
  }
  if (e.toJSON().code !== 'CANCELLED')
    throw new Error(`${label}toJSON() of the CANCELLED error has another code`)
  expectNotApplied(e, what)
  return e
}
