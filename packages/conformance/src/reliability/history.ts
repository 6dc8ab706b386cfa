import { type ErrorCode, type ID, type Outcome, PortLayerError, type RunState } from '@portlayer/contracts'

/** What one recorded call asked for. Setters are local and not recorded; commits are. */
export type OpInput =
  /** A commit of a create-handle (the same handle may be committed by several clients). */
  | {
      readonly kind: 'create'
      readonly id: ID
      readonly limits: readonly [number, number]
      readonly run: boolean
    }
  | { readonly kind: 'getHandle'; readonly id: ID }
  | { readonly kind: 'config'; readonly id: ID }
  | { readonly kind: 'state'; readonly id: ID }
  | {
      readonly kind: 'commit'
      readonly id: ID
      /** The handle's base version. */
      readonly base: string
      readonly limits?: readonly [number, number]
      readonly runState?: Exclude<RunState, 'created'>
    }
  | { readonly kind: 'destroy'; readonly id: ID }
  /** `listContainers()`, as seen for the containers of the history. */
  | { readonly kind: 'list'; readonly ids: readonly ID[] }

/** How a recorded call ended. */
export type OpResult =
  | { readonly ok: true; readonly value?: unknown }
  | {
      readonly ok: false
      /** `'NOT_A_PORTLAYER_ERROR'` when the call failed with something else (always a bug). */
      readonly code: ErrorCode | 'NOT_A_PORTLAYER_ERROR'
      readonly outcome: Outcome
      readonly message: string
    }

/** One recorded call: who, what, when (logical time: one counter for every event), how it ended. */
export interface HistoryEvent {
  readonly client: number
  readonly instance: number
  readonly input: OpInput
  readonly invoke: number
  readonly response: number
  readonly result: OpResult
}

/** Turns a rejection into a recorded result. */
export function resultOfError(e: unknown): OpResult {
  if (PortLayerError.isInstance(e)) return { ok: false, code: e.code, outcome: e.outcome, message: e.message }
  return {
    ok: false,
    code: 'NOT_A_PORTLAYER_ERROR',
    outcome: 'unknown',
    message: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
  }
}

/** Records calls with a logical clock, so invoke/response order is exact within one process. */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = []
  private clock = 0

  /**
   * Runs `call`, records it with `input` and the value `pick` takes from its result, and returns
   * the call's own outcome (the recorded value, or the error).
   */
  async record<T>(
    client: number,
    instance: number,
    input: OpInput,
    call: () => Promise<T>,
    pick: (value: T) => unknown = () => undefined,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    const invoke = ++this.clock
    let outcome: { ok: true; value: T } | { ok: false; error: unknown }
    try {
      outcome = { ok: true, value: await call() }
    } catch (error) {
      outcome = { ok: false, error }
    }
    const response = ++this.clock
    const result: OpResult = outcome.ok
      ? { ok: true, value: pick(outcome.value) }
      : resultOfError(outcome.error)
    this.events.push({ client, instance, input, invoke, response, result })
    return outcome
  }
}

/**
 * Writes a history as JSON lines into the system's temporary directory and returns the path, so
 * a failed check can be studied (and replayed through `checkHistory`) after the run.
 */
export async function saveHistory(name: string, events: readonly HistoryEvent[]): Promise<string> {
  const { mkdtemp, writeFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = await mkdtemp(join(tmpdir(), 'portlayer-history-'))
  const path = join(dir, `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.jsonl`)
  const line = (e: HistoryEvent) =>
    JSON.stringify(e, (_k, v: unknown) => (v === Number.POSITIVE_INFINITY ? 'Infinity' : v))
  await writeFile(path, `${events.map(line).join('\n')}\n`)
  return path
}
