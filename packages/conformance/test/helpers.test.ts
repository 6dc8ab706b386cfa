import { InvalidStateError, NotFoundError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/backend.js'
import { eventually } from '../src/eventually.js'
import { describeOutcome, describeValue, expectPortLayerError, outcomeOf } from '../src/outcome.js'

describe('eventually', () => {
  it('resolves with the first result that holds, letting time pass only between checks', async () => {
    const advanced: number[] = []
    let checks = 0
    const value = await eventually(() => (++checks === 3 ? { done: checks } : undefined), {
      advance: async (ms) => {
        advanced.push(ms)
      },
      pollMs: 25,
    })
    expect(value).toEqual({ done: 3 })
    expect(advanced).toEqual([25, 25])
  })

  it('treats a throwing check as not yet, and 0 as a result that holds', async () => {
    let checks = 0
    const value = await eventually(
      () => {
        if (++checks < 2) throw new Error('not yet')
        return 0
      },
      { advance: async () => {} },
    )
    expect(value).toBe(0)
  })

  it('gives up once the backend time it let pass reaches the deadline, naming what it awaited', async () => {
    let advanced = 0
    const failure = await outcomeOf(
      eventually(
        () => {
          throw new Error('still running')
        },
        {
          advance: async (ms) => {
            advanced += ms
          },
          pollMs: 100,
          timeoutMs: 1000,
          message: 'the process exited',
        },
      ),
    )
    expect(failure.kind).toBe('rejected')
    const e = (failure as { error: Error }).error
    expect(e.message).toContain('the process exited')
    expect(e.message).toContain('still running')
    expect(advanced).toBe(1000)
  })

  it('gives up on real time too, when the advance function lets none pass', async () => {
    const started = Date.now()
    await expect(
      eventually(() => false, {
        advance: () => new Promise((r) => setTimeout(r, 5)),
        timeoutMs: 60,
        pollMs: 0.001,
      }),
    ).rejects.toThrow(/did not hold/)
    expect(Date.now() - started).toBeLessThan(1000)
  })
})

describe('expectPortLayerError', () => {
  it('returns the error when the code matches', async () => {
    const e = await expectPortLayerError(
      Promise.reject(new NotFoundError('container x not found')),
      'NOT_FOUND',
    )
    expect(e.message).toBe('container x not found')
  })

  it('accepts a function that throws synchronously', async () => {
    await expectPortLayerError(() => {
      throw new InvalidStateError('running')
    }, 'INVALID_STATE')
  })

  it('fails on another code, on success and on foreign errors, saying what happened', async () => {
    await expect(expectPortLayerError(Promise.reject(new NotFoundError('gone')), 'CONFLICT')).rejects.toThrow(
      /expected a PortLayerError CONFLICT, but it rejected with NOT_FOUND: gone/,
    )
    await expect(expectPortLayerError(Promise.resolve('id'), 'CONFLICT', 'commit')).rejects.toThrow(
      /commit: expected a PortLayerError CONFLICT, but it resolved with "id"/,
    )
    await expect(expectPortLayerError(Promise.reject(new TypeError('boom')), 'NOT_FOUND')).rejects.toThrow(
      /non-portlayer TypeError: boom/,
    )
  })
})

describe('outcomes', () => {
  it('tells a synchronous throw from a rejection', async () => {
    const threw = await outcomeOf(() => {
      throw new NotFoundError('x')
    })
    expect(threw.kind).toBe('threw')
    expect(describeOutcome(threw)).toBe('threw synchronously with NOT_FOUND: x')
    expect((await outcomeOf(async () => 1)).kind).toBe('resolved')
  })

  it('abbreviates large values', () => {
    expect(describeValue('x'.repeat(5000))).toBe("'xxxxxxxxxxxx…' (5000 chars)")
    expect(describeValue(new Uint8Array(10))).toBe('Uint8Array(10 bytes)')
    expect(describeValue(Number.NaN)).toBe('NaN')
    expect(describeValue(1n)).toBe('1n')
    expect(describeValue({ data: new Uint8Array(3) })).toBe('{"data":"<3 bytes>"}')
  })
})

describe('options', () => {
  it('checks outputLimitBytes and maxExitedExecs, which the suite cannot find out itself', () => {
    expect(resolveOptions({ outputLimitBytes: 1024, maxExitedExecs: 4 })).toMatchObject({
      outputLimitBytes: 1024,
      maxExitedExecs: 4,
    })
    expect(resolveOptions({}).outputLimitBytes).toBeUndefined()
    for (const bad of [1023, 1.5, Number.NaN, -1])
      expect(() => resolveOptions({ outputLimitBytes: bad })).toThrow(/outputLimitBytes/)
    expect(() => resolveOptions({ maxExitedExecs: 0 })).toThrow(/maxExitedExecs/)
  })
})
