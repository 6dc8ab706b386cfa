import { describe, expect, it } from 'vitest'
import { CallScope } from '../src/scope.js'

// A request sent by the gateway listens to its operation through onStop rather than an
// AbortSignal; both must see every way an operation stops.

describe('how a call scope tells that it stopped', () => {
  it('calls onStop listeners on the deadline, the caller’s abort and the gateway closing, once each', async () => {
    const deadline = new CallScope('a', 20, undefined, undefined)
    const seen: string[] = []
    deadline.onStop(() => seen.push('deadline'))
    await new Promise((r) => setTimeout(r, 60))
    expect(seen).toEqual(['deadline'])
    expect(deadline.stopped).toBe('timeout')

    const caller = new AbortController()
    const aborted = new CallScope('b', 60_000, caller.signal, undefined)
    aborted.onStop(() => seen.push('aborted'))
    caller.abort()
    caller.abort()
    expect(aborted.stopped).toBe('aborted')

    const closing = new AbortController()
    const closed = new CallScope('c', 60_000, undefined, closing.signal)
    closed.onStop(() => seen.push('closed'))
    closing.abort()
    expect(seen).toEqual(['deadline', 'aborted', 'closed'])
    expect(closed.error()).toMatchObject({ code: 'UNAVAILABLE', detail: { closed: true } })
    for (const s of [deadline, aborted, closed]) s.dispose()
  })

  it('calls a listener at once when already stopped, not after it unsubscribed, and aborts a signal made late', () => {
    const caller = new AbortController()
    const scope = new CallScope('d', 60_000, caller.signal, undefined)
    const calls: string[] = []
    const off = scope.onStop(() => calls.push('removed'))
    off()
    caller.abort()
    expect(calls).toEqual([])
    scope.onStop(() => calls.push('late'))
    expect(calls).toEqual(['late'])
    // The signal made after the stop is aborted already.
    expect(scope.signal.aborted).toBe(true)
    scope.dispose()
  })

  it('aborts its signal made before the stop too', () => {
    const caller = new AbortController()
    const scope = new CallScope('e', 60_000, caller.signal, undefined)
    const signal = scope.signal
    expect(signal.aborted).toBe(false)
    caller.abort()
    expect(signal.aborted).toBe(true)
    scope.dispose()
  })
})
