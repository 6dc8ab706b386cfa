/**
 * A linearizability checker for recorded histories: Wing & Gong's search with Lowe's memoisation
 * (a set of visited "linearized operations + model state" pairs), in the style of Porcupine.
 * Operations whose outcome is unknown have no response: they may take effect at any point after
 * their invocation, or never (the model offers both).
 */

/** A sequential specification: which states may follow a state when an operation takes effect. */
export interface SequentialModel<S, O> {
  /** The state before any operation. */
  init(): S
  /**
   * The states that may follow `state` when `op` (with its recorded result) takes effect; empty
   * when that result is impossible in `state`. More than one for a nondeterministic step, e.g. an
   * operation whose outcome is unknown (applied or not).
   */
  step(state: S, op: O): readonly S[]
  /** Equal keys for states that behave the same from now on. */
  key(state: S): string
  /**
   * Tokens (e.g. version strings) an operation mentions. Once no unchecked operation mentions a
   * token, `prune` may drop it from the state, so states that differ only in forgotten tokens
   * share a memo entry.
   */
  tokens?(op: O): readonly string[]
  /** `state` without the tokens `live` says no unchecked operation mentions any more. */
  prune?(state: S, live: (token: string) => boolean): S
  /** `op` in a failure message. */
  describe?(op: O): string
  /** `state` in a failure message. */
  describeState?(state: S): string
}

/** One operation of a history: invoked at `invoke`, answered at `response` (`Infinity`: never). */
export interface TimedOperation<O> {
  readonly op: O
  readonly invoke: number
  readonly response: number
}

/**
 * What {@link checkLinearizable} found: an order of the operations that the model explains, none
 * (with why), or `'unknown'` when the search gave up (too many states).
 */
export type LinearizabilityResult =
  | { readonly ok: true; readonly explored: number }
  | {
      readonly ok: false
      readonly explored: number
      /** Why: the longest order found that explains a prefix, and the operations that could not follow it. */
      readonly explanation: string
    }
  | { readonly ok: 'unknown'; readonly explored: number; readonly explanation: string }

interface Entry {
  readonly id: number
  readonly call: boolean
  match: Entry | null
  prev: Entry | null
  next: Entry | null
}

interface Frame<S> {
  readonly entry: Entry
  readonly before: S
  readonly alternatives: readonly S[]
  readonly index: number
}

/**
 * Decides whether `history` is linearizable with respect to `model`.
 * @param maxSteps search budget; past it the answer is `'unknown'` (never a false verdict)
 */
export function checkLinearizable<S, O>(
  model: SequentialModel<S, O>,
  history: readonly TimedOperation<O>[],
  { maxSteps = 2_000_000 }: { maxSteps?: number } = {},
): LinearizabilityResult {
  const n = history.length
  if (n === 0) return { ok: true, explored: 0 }
  // Events in time order; a call sorts before a return at the same instant (overlap is the
  // weaker, safe assumption).
  const events: Array<{ t: number; call: boolean; id: number }> = []
  history.forEach((h, id) => {
    events.push({ t: h.invoke, call: true, id })
    if (Number.isFinite(h.response)) events.push({ t: h.response, call: false, id })
  })
  events.sort((a, b) => a.t - b.t || (a.call === b.call ? a.id - b.id : a.call ? -1 : 1))
  const head: Entry = { id: -1, call: false, match: null, prev: null, next: null }
  const calls = new Array<Entry>(n)
  let last = head
  for (const e of events) {
    const entry: Entry = { id: e.id, call: e.call, match: null, prev: last, next: null }
    last.next = entry
    last = entry
    if (e.call) calls[e.id] = entry
    else {
      const call = calls[e.id] as Entry
      call.match = entry
      entry.match = call
    }
  }

  const lift = (e: Entry): void => {
    ;(e.prev as Entry).next = e.next
    if (e.next) e.next.prev = e.prev
    const m = e.match
    if (m) {
      ;(m.prev as Entry).next = m.next
      if (m.next) m.next.prev = m.prev
    }
  }
  const unlift = (e: Entry): void => {
    const m = e.match
    if (m) {
      ;(m.prev as Entry).next = m
      if (m.next) m.next.prev = m
    }
    ;(e.prev as Entry).next = e
    if (e.next) e.next.prev = e
  }

  const refs = new Map<string, number>()
  const tokensOf = history.map((h) => model.tokens?.(h.op) ?? [])
  for (const ts of tokensOf) for (const t of ts) refs.set(t, (refs.get(t) ?? 0) + 1)
  const live = (t: string): boolean => (refs.get(t) ?? 0) > 0
  const release = (id: number, by: number): void => {
    for (const t of tokensOf[id] as readonly string[]) refs.set(t, (refs.get(t) ?? 0) + by)
  }

  const bits = new Uint16Array(Math.ceil(n / 16))
  const flip = (id: number): void => {
    bits[id >> 4] = (bits[id >> 4] as number) ^ (1 << (id & 15))
  }
  const bitsKey = (): string => {
    let s = ''
    for (let i = 0; i < bits.length; i += 4096)
      s += String.fromCharCode(...bits.subarray(i, Math.min(bits.length, i + 4096)))
    return s
  }

  const cache = new Set<string>()
  const stack: Frame<S>[] = []
  let state = model.init()
  let steps = 0
  let best: { order: number[]; state: S } = { order: [], state }

  const tryFrom = (entry: Entry, alternatives: readonly S[], from: number): boolean => {
    flip(entry.id)
    release(entry.id, -1)
    for (let i = from; i < alternatives.length; i++) {
      const next = model.prune ? model.prune(alternatives[i] as S, live) : (alternatives[i] as S)
      const key = `${bitsKey()}|${model.key(next)}`
      if (cache.has(key)) continue
      cache.add(key)
      stack.push({ entry, before: state, alternatives, index: i })
      state = next
      lift(entry)
      if (stack.length > best.order.length) best = { order: stack.map((f) => f.entry.id), state }
      return true
    }
    flip(entry.id)
    release(entry.id, 1)
    return false
  }

  let entry: Entry | null = head.next
  while (head.next !== null) {
    if (++steps > maxSteps) {
      return { ok: 'unknown', explored: steps, explanation: `search budget of ${maxSteps} steps spent` }
    }
    if (entry?.call) {
      const alternatives = model.step(state, history[entry.id]?.op as O)
      if (tryFrom(entry, alternatives, 0)) entry = head.next
      else entry = entry.next
      continue
    }
    // A response (or the end) reached: the operations before it must all be placed; undo the
    // last choice and try the next.
    const frame = stack.pop()
    if (frame === undefined) {
      return { ok: false, explored: steps, explanation: explain(model, history, best, head) }
    }
    state = frame.before
    flip(frame.entry.id)
    release(frame.entry.id, 1)
    unlift(frame.entry)
    if (tryFrom(frame.entry, frame.alternatives, frame.index + 1)) entry = head.next
    else entry = frame.entry.next
  }
  return { ok: true, explored: steps }
}

function explain<S, O>(
  model: SequentialModel<S, O>,
  history: readonly TimedOperation<O>[],
  best: { order: number[]; state: S },
  _head: Entry,
): string {
  const describe = (id: number): string => {
    const h = history[id] as TimedOperation<O>
    const what = model.describe ? model.describe(h.op) : JSON.stringify(h.op)
    const until = Number.isFinite(h.response) ? String(h.response) : '∞'
    return `#${id} [${h.invoke}..${until}] ${what}`
  }
  const placed = new Set(best.order)
  // The first operations by invocation that the longest order could not place next: one of them
  // (or an earlier choice) is where the history departs from the model.
  const minResponse = Math.min(
    ...history.map((h, id) => (placed.has(id) ? Number.POSITIVE_INFINITY : h.response)),
  )
  const stuck = history
    .map((h, id) => ({ h, id }))
    .filter(({ h, id }) => !placed.has(id) && h.invoke <= minResponse)
    .slice(0, 12)
    .map(({ id }) => `  ${describe(id)}`)
  const tail = best.order.slice(-12).map((id) => `  ${describe(id)}`)
  const state = model.describeState ? model.describeState(best.state) : JSON.stringify(best.state)
  return [
    `not linearizable: at most ${best.order.length} of ${history.length} operations can be ordered.`,
    `last of the longest order found:`,
    ...tail,
    `model state after it: ${state}`,
    `none of these can come next:`,
    ...stuck,
  ].join('\n')
}
