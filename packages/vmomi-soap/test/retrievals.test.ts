import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Retrieval, Retrievals } from '../src/retrievals.js'

const retrieval = (n: number): Retrieval => ({
  collector: { type: 'PropertyCollector', value: 'pc' },
  request: { n },
  delivered: new Set(),
  serverToken: `s${n}`,
  generation: 0,
  touched: 0,
})

describe('open retrievals', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('hands out a token per page; a token is good once', () => {
    const open = new Retrievals()
    const r = retrieval(1)
    const token = open.open(r)
    expect(Retrievals.isOurs(token)).toBe(true)
    expect(Retrievals.isOurs('1')).toBe(false)
    expect(open.take(token)).toBe(r)
    expect(open.take(token)).toBeUndefined()
    expect(open.open(r)).not.toBe(token)
  })

  it('keeps at most 256, forgetting the one idle longest', () => {
    const open = new Retrievals()
    const tokens = Array.from({ length: 300 }, (_, i) => open.open(retrieval(i)))
    expect(open.size).toBe(256)
    expect(open.take(tokens[0])).toBeUndefined()
    expect(open.take(tokens[43])).toBeUndefined()
    expect(open.take(tokens[44])?.request).toEqual({ n: 44 })
    expect(open.take(tokens[299])?.request).toEqual({ n: 299 })
  })

  it('forgets retrievals idle for more than 30 minutes', () => {
    vi.useFakeTimers()
    const open = new Retrievals()
    const old = open.open(retrieval(1))
    vi.advanceTimersByTime(31 * 60_000)
    const fresh = open.open(retrieval(2))
    expect(open.take(old)).toBeUndefined()
    expect(open.take(fresh)?.request).toEqual({ n: 2 })
  })

  it('refuses anything but a string token of its own', () => {
    const open = new Retrievals()
    for (const token of [undefined, null, 3, Symbol('t'), {}, 'portlayer-retrieval-9'])
      expect(open.take(token)).toBeUndefined()
  })
})
