import {
  InvalidArgumentError,
  MAX_MESSAGE_LENGTH,
  NotFoundError,
  PortLayerError,
  UnavailableError,
  validateId,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { adoptError, checkArgument, exitedToDrop, messageOf, toPlainJson } from '../src/index.js'

describe('adoptError', () => {
  it('keeps a PortLayerError code, outcome and target, adding the backend and what was done', () => {
    const original = new UnavailableError('lost', {
      outcome: 'unknown',
      target: 'p1',
      detail: { fault: 'X' },
    })
    const e = adoptError(original, { backend: 'kit', target: 'c1', doing: 'reading c1' })
    expect(e).toMatchObject({ code: 'UNAVAILABLE', outcome: 'unknown', target: 'p1', backend: 'kit' })
    expect(e.detail).toEqual({ fault: 'X' })
    expect(e.message).toBe('kit: reading c1: lost')
    expect(e.cause).toBe(original)
    const own = new NotFoundError('gone', { backend: 'kit' })
    expect(adoptError(own, { backend: 'kit' })).toBe(own)
  })

  it('turns any other value into the given code (default INVALID_ARGUMENT), never echoing objects', () => {
    const secret = { password: 'hunter2', toString: () => 'password=hunter2' }
    const values: unknown[] = [
      secret,
      'x'.repeat(5000),
      null,
      undefined,
      Symbol('s'),
      new Error('y'.repeat(5000)),
      new Proxy(
        {},
        {
          getPrototypeOf: () => {
            throw new Error('trap')
          },
        },
      ),
      Object.create(Error.prototype, {
        message: {
          get: () => {
            throw new Error('getter')
          },
        },
      }),
    ]
    for (const value of values) {
      const e = adoptError(value, { backend: 'kit', target: 'c1', doing: 'doing it' })
      expect(PortLayerError.isInstance(e, 'INVALID_ARGUMENT')).toBe(true)
      expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH)
      expect(e.message).not.toContain('hunter2')
      expect(e.message.startsWith('kit: doing it: ')).toBe(true)
      expect(JSON.stringify(e.toJSON())).not.toContain('hunter2')
    }
    expect(adoptError(new Error('down'), { backend: 'kit', code: 'UNAVAILABLE' }).code).toBe('UNAVAILABLE')
    expect(messageOf(new Error('plain'))).toBe('plain')
    expect(messageOf(7)).toBe('7')
  })

  it('can force the outcome of an adopted error', () => {
    const e = adoptError(new UnavailableError('x', { outcome: 'unknown', backend: 'kit' }), {
      backend: 'kit',
      outcome: 'not-applied',
    })
    expect(e.outcome).toBe('not-applied')
  })
})

describe('checkArgument', () => {
  it('returns the value, names the backend, and makes anything thrown INVALID_ARGUMENT', () => {
    expect(checkArgument('kit', () => 5)).toBe(5)
    const fromValidator = (() => {
      try {
        return checkArgument('kit', () => validateId(42, 'id'))
      } catch (e) {
        return e
      }
    })()
    expect(fromValidator).toBeInstanceOf(InvalidArgumentError)
    expect((fromValidator as PortLayerError).backend).toBe('kit')
    expect(() =>
      checkArgument('kit', () => {
        throw new TypeError('Cannot perform %TypedArray%.prototype.slice on a detached ArrayBuffer')
      }),
    ).toThrow(InvalidArgumentError)
    const kept = new NotFoundError('no', { backend: 'other' })
    expect(() =>
      checkArgument('kit', () => {
        throw kept
      }),
    ).toThrow(kept)
  })
})

describe('exitedToDrop', () => {
  it('keeps at most max exited records, dropping the first-finished; running ones stay', () => {
    const r = (id: string, exited: boolean, startedAt: number, finishedAt: number | null) => ({
      id,
      exited,
      startedAt,
      finishedAt,
    })
    const records = [
      r('a', true, 1, 10),
      r('run', false, 2, null),
      r('b', true, 3, 5),
      r('c', true, 4, 20),
      r('d', true, 6, 10),
    ]
    expect(exitedToDrop(records, 4)).toEqual([])
    expect(exitedToDrop(records, 2).map((x) => x.id)).toEqual(['b', 'a'])
    expect(exitedToDrop(records, 0).map((x) => x.id)).toEqual(['b', 'a', 'd', 'c'])
  })

  it('ties go by start, then by position; an accessor and ISO strings work', () => {
    const t = '2026-01-01T00:00:00.000Z'
    const recs = [
      { p: 'x', end: t, start: '2025-01-01T00:00:00.000Z' },
      { p: 'y', end: t, start: '2024-01-01T00:00:00.000Z' },
      { p: 'z', end: t, start: '2024-01-01T00:00:00.000Z' },
      { p: 'open', end: null, start: '2020-01-01T00:00:00.000Z' },
    ]
    const dropped = exitedToDrop(recs, 1, (x) => ({ exited: true, finishedAt: x.end, startedAt: x.start }))
    expect(dropped.map((x) => x.p)).toEqual(['open', 'y', 'z'])
  })
})

describe('toPlainJson', () => {
  it('copies plain data and refuses the rest with INVALID_ARGUMENT on the backend', () => {
    expect(toPlainJson({ a: [1, 'b', null, false, { c: -0 }] }, 'v', 'kit')).toEqual({
      a: [1, 'b', null, false, { c: 0 }],
    })
    const withProto = JSON.parse('{"__proto__": {"x": 1}}')
    const copy = toPlainJson(withProto, 'v', 'kit') as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toEqual(['__proto__'])
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = [deep]
    for (const bad of [deep, new Uint8Array(1), { [Symbol('k')]: 1 }, Object.create({ inherited: 1 })]) {
      expect(() => toPlainJson(bad, 'v', 'kit')).toThrow(InvalidArgumentError)
    }
  })
})
