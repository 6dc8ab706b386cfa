/**
 * The optional last argument of every `PortLayer` method.
 *
 * An aborted call rejects with `CANCELLED` (`CancelledError`, `cause` = the signal's reason). Like
 * any failure it follows the outcome rule: `outcome: 'not-applied'` when nothing changed (always so
 * for reads and setters), `'unknown'` only when the backend had sent a change it could not confirm
 * or undo before giving up. Backends also apply a default per-call deadline from their settings
 * (`TIMEOUT` past it).
 */
export interface CallOptions {
  /** Aborts the call. */
  readonly signal?: AbortSignal
}
