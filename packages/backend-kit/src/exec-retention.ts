/**
 * What the retention rule reads of one exec'd process. `finishedAt` and `startedAt` must be of
 * one kind for all records of a call: numbers (milliseconds) or ISO-8601 strings of one format,
 * which order as text.
 */
export interface RetentionFacts {
  /** The process is over (exited, or belonged to an earlier run of the container). */
  readonly exited: boolean
  /** When it ended; `null` (or absent) counts as its start. */
  readonly finishedAt?: number | string | null
  readonly startedAt: number | string
}

/**
 * The exec'd processes to forget so that at most `max` of those that are over remain: the ones
 * that finished first go; of ends at the same moment the earliest started, then the earliest in
 * `records` (so the process exec'd last is never the one dropped). Running processes always
 * stay. Returned in the order they should go; empty when nothing is over the bound.
 *
 * Both backends keep a list per container that every listing reads, so without a bound a
 * container exec'd into forever (a health check) would grow without limit.
 *
 * @param facts reads a record's {@link RetentionFacts}; omit it when the records are such facts.
 */
export function exitedToDrop<T>(
  records: readonly T[],
  max: number,
  facts: (record: T) => RetentionFacts = (r) => r as unknown as RetentionFacts,
): T[] {
  const over: Array<{ record: T; end: number | string; start: number | string; at: number }> = []
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as T
    const f = facts(record)
    if (f.exited) over.push({ record, end: f.finishedAt ?? f.startedAt, start: f.startedAt, at: i })
  }
  if (over.length <= max) return []
  over.sort((a, b) => {
    if (a.end !== b.end) return a.end < b.end ? -1 : 1
    if (a.start !== b.start) return a.start < b.start ? -1 : 1
    return a.at - b.at
  })
  return over.slice(0, over.length - Math.max(0, max)).map((o) => o.record)
}
