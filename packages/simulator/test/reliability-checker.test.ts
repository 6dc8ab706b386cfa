import {
  checkHistory,
  checkLinearizable,
  type HistoryEvent,
  type OpInput,
  type OpResult,
  type SequentialModel,
  seededRandom,
  type TimedOperation,
} from '@portlayer/conformance/reliability'
import { describe, expect, it } from 'vitest'

// The checker is itself tested with hand-made histories, linearizable and not: a checker that
// accepts everything would make every linearizability run pass.

const ID = '0c6a8f4e-4a52-4c47-9e0b-5c1f3b6f7a10'
const OTHER = '7d2f1c9a-2b4e-4f61-8a3c-9e8d7c6b5a41'

type Ev = [invoke: number, response: number, input: OpInput, result: OpResult]
const ok = (value?: unknown): OpResult => ({ ok: true, value })
const err = (code: string, outcome: 'not-applied' | 'unknown' = 'not-applied'): OpResult =>
  ({ ok: false, code, outcome, message: code }) as OpResult
const history = (evs: Ev[]): HistoryEvent[] =>
  evs.map(([invoke, response, input, result], client) => ({
    client,
    instance: 0,
    input,
    invoke,
    response,
    result,
  }))

const create = (limits: [number, number] = [256, 1000], id = ID): OpInput => ({
  kind: 'create',
  id,
  limits,
  run: false,
})
const getHandle = (id = ID): OpInput => ({ kind: 'getHandle', id })
const config = (id = ID): OpInput => ({ kind: 'config', id })
const state = (id = ID): OpInput => ({ kind: 'state', id })
const destroy = (id = ID): OpInput => ({ kind: 'destroy', id })
const setMem = (base: string, memoryMb: number, id = ID): OpInput => ({
  kind: 'commit',
  id,
  base,
  limits: [memoryMb, 1000],
})
const run = (base: string, runState: 'running' | 'stopped', id = ID): OpInput => ({
  kind: 'commit',
  id,
  base,
  runState,
})
const mem = (memoryMb: number) => ok({ memoryMb, cpuMhz: 1000 })

const verdict = (evs: Ev[]) => checkHistory(history(evs))

describe('the linearizability checker accepts linearizable histories', () => {
  it('a sequential read-modify-commit', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, config(), mem(256)],
      [7, 8, setMem('v1', 257), ok()],
      [9, 10, getHandle(), ok('v2')],
      [11, 12, config(), mem(257)],
    ])
    expect(r.failures).toEqual([])
    expect(r.ok).toBe(true)
  })

  it('two overlapping commits on one version: one lands, the other is CONFLICT, in either order of answers', () => {
    for (const [a, b] of [
      [ok(), err('CONFLICT')],
      [err('CONFLICT'), ok()],
    ] as const) {
      const r = verdict([
        [1, 2, create(), ok()],
        [3, 4, getHandle(), ok('v1')],
        [5, 9, setMem('v1', 257), a],
        [6, 8, setMem('v1', 300), b],
        [10, 11, config(), a.ok ? mem(257) : mem(300)],
      ])
      expect(r.ok, r.failures.join('\n')).toBe(true)
    }
  })

  it('a read overlapping a commit may see before or after', () => {
    for (const seen of [256, 257]) {
      const r = verdict([
        [1, 2, create(), ok()],
        [3, 4, getHandle(), ok('v1')],
        [5, 8, setMem('v1', 257), ok()],
        [6, 7, config(), mem(seen)],
      ])
      expect(r.ok).toBe(true)
    }
  })

  it('a commit whose outcome is unknown may have landed, or not, and even later', () => {
    for (const seen of [256, 257]) {
      const r = verdict([
        [1, 2, create(), ok()],
        [3, 4, getHandle(), ok('v1')],
        [5, 6, setMem('v1', 257), err('UNAVAILABLE', 'unknown')],
        [7, 8, config(), mem(256)],
        [9, 10, config(), mem(seen)],
      ])
      expect(r.ok).toBe(true)
    }
  })

  it('of concurrent commits of one create-handle exactly one lands; destroy refuses a running container', () => {
    const r = verdict([
      [1, 6, create(), err('CONFLICT')],
      [2, 5, create(), ok()],
      [3, 4, create(), err('CONFLICT')],
      [7, 8, getHandle(), ok('v1')],
      [9, 10, run('v1', 'running'), ok()],
      [11, 12, destroy(), err('INVALID_STATE')],
      [13, 14, getHandle(), ok('v2')],
      [15, 16, run('v2', 'stopped'), ok()],
      [17, 18, destroy(), ok()],
      [19, 20, state(), err('NOT_FOUND')],
      [21, 22, { kind: 'list', ids: [ID] }, ok([])],
    ])
    expect(r.ok, r.failures.join('\n')).toBe(true)
  })

  it('containers are checked apart, and a list is split per container', () => {
    const r = verdict([
      [1, 2, create([256, 1000], ID), ok()],
      [3, 4, create([128, 1000], OTHER), ok()],
      [5, 6, { kind: 'list', ids: [ID, OTHER] }, ok([OTHER, ID])],
      [7, 8, config(OTHER), ok({ memoryMb: 128, cpuMhz: 1000 })],
    ])
    expect(r).toMatchObject({ ok: true, containers: 2 })
  })

  it('a random linearizable history of 12 clients (made by a sequential run with widened intervals) passes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = verdict(randomHistory(seed, false))
      expect(r.ok, `seed ${seed}: ${r.failures.join('\n')}`).toBe(true)
    }
  })
})

describe('the linearizability checker finds violations', () => {
  it('two commits on one version that both land (a lost update)', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 9, setMem('v1', 257), ok()],
      [6, 8, setMem('v1', 257), ok()],
    ])
    expect(r.ok).toBe(false)
    expect(r.failures[0]).toContain('not linearizable')
    expect(r.failures[0]).toContain('commit')
  })

  it('a stale read after a commit returned', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, setMem('v1', 257), ok()],
      [7, 8, config(), mem(256)],
    ])
    expect(r.ok).toBe(false)
  })

  it('a commit that failed as not-applied but landed', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, setMem('v1', 257), err('UNAVAILABLE')],
      [7, 8, config(), mem(257)],
    ])
    expect(r.ok).toBe(false)
  })

  it('a failed commit that moved the version (a later commit on the old version is refused)', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, setMem('v1', 257), err('INVALID_ARGUMENT')],
      [7, 8, setMem('v1', 258), err('CONFLICT')],
    ])
    expect(r.ok).toBe(false)
  })

  it('a CONFLICT on the current version', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, setMem('v1', 257), err('CONFLICT')],
    ])
    expect(r.ok).toBe(false)
  })

  it('a version that comes back after a change (ABA)', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, setMem('v1', 257), ok()],
      [7, 8, getHandle(), ok('v1')],
    ])
    expect(r.ok).toBe(false)
  })

  it('two commits of one create-handle that both land', () => {
    const r = verdict([
      [1, 4, create(), ok()],
      [2, 3, create(), ok()],
    ])
    expect(r.ok).toBe(false)
  })

  it('a start that failed as not-applied while the container reads running afterwards', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, getHandle(), ok('v1')],
      [5, 6, run('v1', 'running'), err('TIMEOUT')],
      [7, 8, state(), ok('running')],
    ])
    expect(r.ok).toBe(false)
  })

  it('destroy of a running container that succeeds, and a failure that is not a PortLayerError', () => {
    expect(
      verdict([
        [1, 2, create(), ok()],
        [3, 4, getHandle(), ok('v1')],
        [5, 6, run('v1', 'running'), ok()],
        [7, 8, destroy(), ok()],
      ]).ok,
    ).toBe(false)
    expect(
      verdict([
        [1, 2, create(), ok()],
        [
          3,
          4,
          state(),
          { ok: false, code: 'NOT_A_PORTLAYER_ERROR', outcome: 'unknown', message: 'TypeError' },
        ],
      ]).ok,
    ).toBe(false)
  })

  it('a container listed after its destroy returned', () => {
    const r = verdict([
      [1, 2, create(), ok()],
      [3, 4, destroy(), ok()],
      [5, 6, { kind: 'list', ids: [ID] }, ok([ID])],
    ])
    expect(r.ok).toBe(false)
  })

  it('one corrupted read in a random history of 12 clients', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = verdict(randomHistory(seed, true))
      expect(r.ok, `seed ${seed}`).toBe(false)
    }
  })
})

describe('the generic search', () => {
  // A register: write(v) / read → v.
  type Op = { w?: number; r?: number }
  const register: SequentialModel<number, Op> = {
    init: () => 0,
    step: (s, op) => (op.w !== undefined ? [op.w] : op.r === s ? [s] : []),
    key: (s) => String(s),
  }

  it('finds the one order that works among many overlapping writes', () => {
    const ops: TimedOperation<Op>[] = Array.from({ length: 10 }, (_, i) => ({
      op: { w: i + 1 },
      invoke: 0,
      response: 100,
    }))
    ops.push({ op: { r: 7 }, invoke: 101, response: 102 })
    expect(checkLinearizable(register, ops).ok).toBe(true)
    ops.push({ op: { r: 11 }, invoke: 103, response: 104 })
    const r = checkLinearizable(register, ops)
    expect(r.ok).toBe(false)
    if (r.ok === false) expect(r.explanation).toContain('none of these can come next')
  })

  it('says unknown, not a verdict, when the budget runs out', () => {
    const ops: TimedOperation<Op>[] = Array.from({ length: 14 }, (_, i) => ({
      op: { w: i + 1 },
      invoke: 0,
      response: 100,
    }))
    ops.push({ op: { r: 99 }, invoke: 101, response: 102 })
    expect(checkLinearizable(register, ops, { maxSteps: 50 }).ok).toBe('unknown')
  })
})

/**
 * A history made by running a sequential model of one container (12 clients, read-modify-commit,
 * start, stop), then widening every call's interval at random without crossing its linearization
 * point: linearizable by construction. With `corrupt`, one late config read reports a value the
 * container never had.
 */
function randomHistory(seed: number, corrupt: boolean): Ev[] {
  const random = seededRandom(seed)
  let version = 1
  let memoryMb = 256
  let status = 'created'
  const evs: Ev[] = []
  // Versions a getHandle has answered, with when: a commit's base is always one of those.
  const seen: Array<{ v: number; at: number }> = []
  const at = (t: number): [number, number] => [
    t * 10 - Math.floor(random() * 30),
    t * 10 + Math.floor(random() * 30),
  ]
  evs.push([0, 1, create(), ok()])
  for (let t = 1; t <= 60; t++) {
    const [invoke, response] = at(t)
    const kind = random()
    if (kind < 0.3) {
      evs.push([invoke, response, getHandle(), ok(`v${version}`)])
      seen.push({ v: version, at: response })
    } else if (kind < 0.5) evs.push([invoke, response, config(), mem(memoryMb)])
    else if (kind < 0.6) evs.push([invoke, response, state(), ok(status)])
    else {
      const known = seen.filter((x) => x.at < invoke)
      if (known.length === 0) continue
      const base = (known[Math.floor(random() * known.length)] as { v: number }).v
      const stale = base !== version
      const input =
        kind < 0.85 ? setMem(`v${base}`, memoryMb + 1) : run(`v${base}`, kind < 0.93 ? 'running' : 'stopped')
      if (stale) evs.push([invoke, response, input, err('CONFLICT')])
      else {
        evs.push([invoke, response, input, ok()])
        if (input.kind === 'commit' && input.limits && status !== 'running') memoryMb++
        if (input.kind === 'commit' && input.runState === 'running') status = 'running'
        if (input.kind === 'commit' && input.runState === 'stopped' && status === 'running')
          status = 'stopped'
        version++
      }
    }
  }
  if (corrupt) evs.push([700, 701, config(), mem(memoryMb + 5)])
  // Keep the intervals' starts ordered by client as the recorder would give them (distinct times).
  return evs.map(([i, r, input, result], n) => [i * 100 + n, r * 100 + n, input, result])
}
