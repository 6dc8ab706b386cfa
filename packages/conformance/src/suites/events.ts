import {
  type EventFilter,
  type EventStream,
  type ID,
  PortLayerError,
  type PortLayerEvent,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { type Harness, LONG_RUNNER } from '../harness.js'
import type { SuiteContext } from './context.js'

// "Events (every backend)": events() reports the changes from now on, made by any client, in the
// order they happened per container; `ready` says when changes are watched; break, return(), the
// signal and the backend's close() end an iterator. Streams are read in the background and
// checked with `eventually`, so a backend whose events arrive later than its calls return (vSphere's
// property-collector wait) passes as well as one that reports at once.

/** A stream read in the background: what it yielded so far, and how it ended. */
export class Watched {
  readonly events: PortLayerEvent[] = []
  ended = false
  error: unknown = undefined
  private readonly reading: Promise<void>

  constructor(readonly stream: EventStream) {
    this.reading = (async () => {
      try {
        for await (const e of stream) this.events.push(e)
      } catch (e) {
        this.error = e
      } finally {
        this.ended = true
      }
    })()
  }

  /** The container events of `id` so far (`resync` carries no container). */
  of(id: ID): PortLayerEvent[] {
    return this.events.filter((e) => e.type !== 'resync' && e.containerId === id)
  }

  /** Ends the stream (as a reader leaving) and waits for the loop to finish. */
  async stop(): Promise<void> {
    await this.stream.return?.()
    await this.reading
  }
}

/** Opens a stream, waits until it watches, and reads it in the background. */
export async function watch(t: Harness, filter?: EventFilter): Promise<Watched> {
  const stream = t.interaction('events').events(filter)
  await t.eventually(() => settled(stream.ready), 'the event stream is ready')
  return new Watched(stream)
}

/** Resolves true once `p` has settled (it rethrows a rejection), without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  let failure: { error: unknown } | undefined
  p.then(
    () => {
      done = true
    },
    (error: unknown) => {
      failure = { error }
    },
  )
  await new Promise((resolve) => setImmediate(resolve))
  if (failure) throw failure.error
  return done
}

/** `type` plus, for `exited`, `:exitCode`. */
function brief(e: PortLayerEvent): string {
  return e.type === 'exited' ? `exited:${e.exitCode}` : e.type
}

const LIFECYCLE = ['created', 'started', 'exited:143', 'stopped', 'destroyed']

/** Waits until `w` has seen at least `n` events of container `id`; returns them. */
function eventsOf(t: Harness, w: Watched, id: ID, n: number, what: string): Promise<PortLayerEvent[]> {
  return t.eventually(() => {
    const got = w.of(id)
    return got.length >= n ? got : undefined
  }, `${what}: ${n} events of container ${id}`)
}

/** `next()` with a real-time bound, so a stream that never ends fails the test with a message. */
function nextWithin(stream: EventStream, ms: number): Promise<IteratorResult<PortLayerEvent> | 'timeout'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve('timeout'), ms)
    stream.next().then(
      (r) => {
        clearTimeout(timer)
        resolve(r)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

/** How an iterator ended by its signal may end: finished, or rejected with CANCELLED. */
async function endedBySignal(p: Promise<IteratorResult<PortLayerEvent> | 'timeout'>): Promise<string> {
  try {
    const r = await p
    return r === 'timeout' ? 'still open' : r.done ? 'done' : `yielded ${r.value.type}`
  } catch (e) {
    return PortLayerError.isInstance(e, 'CANCELLED') ? 'done' : `rejected with ${String(e)}`
  }
}

/** Tests of `events()`, and of `close()` and `Symbol.asyncDispose`. */
export function eventTests(s: SuiteContext): void {
  describe('events', () => {
    it('events: a lifecycle in order — created, started, exited (processId, exitCode), stopped, destroyed', async () => {
      const t = s.t()
      const w = await watch(t)
      try {
        const id = await t.container('ev-life', { entry: LONG_RUNNER })
        const mainId = (await t.config(id)).mainProcess?.processId
        await t.start(id)
        await t.stop(id)
        await t.pl.destroyContainer(id)
        const got = await eventsOf(t, w, id, LIFECYCLE.length, 'a whole lifecycle')
        expect(got.map(brief)).toEqual(LIFECYCLE)
        expect(got[2]).toMatchObject({ type: 'exited', containerId: id, processId: mainId, exitCode: 143 })
        for (const e of got) expect(e.at, `${e.type}.at`).toBeInstanceOf(Date)
      } finally {
        await w.stop()
      }
    })

    it.skipIf(!s.caps.exec)("events: an exec'd process's exit names the process and its code", async () => {
      const t = s.t()
      const id = await t.running('ev-exec')
      const w = await watch(t, { containerId: id })
      try {
        const p = await t.pl.execProcess(id, '/', '/bin/sh', '-c "exit 5"')
        const [e] = await eventsOf(t, w, id, 1, "the exec'd process's exit")
        expect(e).toMatchObject({ type: 'exited', containerId: id, processId: p, exitCode: 5 })
        expect((await t.state(id)).status, 'the container runs on').toBe('running')
      } finally {
        await w.stop()
      }
    })

    it('events: filtered by type, and by a container ID that does not exist yet', async () => {
      const t = s.t()
      const h = await t.createHandle('ev-later', { entry: LONG_RUNNER })
      const later = h.containerId
      const onlyLater = await watch(t, { containerId: later })
      const onlyCreated = await watch(t, { types: ['created'] })
      const stops = await watch(t, { types: ['started', 'stopped'], containerId: later })
      try {
        const other = await t.container('ev-other')
        await t.pl.commit(h)
        await t.start(later)
        await t.stop(later)
        const mine = await eventsOf(t, onlyLater, later, 4, 'the filtered container')
        expect(mine.map(brief)).toEqual(['created', 'started', 'exited:143', 'stopped'])
        expect(onlyLater.events.filter((e) => e.type !== 'resync' && e.containerId !== later)).toEqual([])
        await eventsOf(t, onlyCreated, later, 1, 'created, filtered by type')
        expect(onlyCreated.of(other).map(brief)).toEqual(['created'])
        expect(onlyCreated.events.filter((e) => e.type !== 'created' && e.type !== 'resync')).toEqual([])
        const both = await eventsOf(t, stops, later, 2, 'filtered by type and container')
        expect(both.map(brief)).toEqual(['started', 'stopped'])
      } finally {
        await Promise.all([onlyLater.stop(), onlyCreated.stop(), stops.stop()])
      }
    })

    it('events: changes made by another client are reported', async (ctx) => {
      const t = s.t()
      if (!t.hasOtherClient) ctx.skip()
      const other = await t.otherClient()
      const w = await watch(t)
      let id: ID | undefined
      try {
        let h = await other.createContainer(t.name('ev-other-client'))
        h = await other.setEntryPoint(h, '/', '/bin/sh', '-c "exit 3"')
        id = await other.commit(await other.setRunState(h, 'running'))
        const created = id
        const got = await eventsOf(t, w, created, 4, "another client's container")
        expect(got.map(brief)).toEqual(['created', 'started', 'exited:3', 'stopped'])
        await other.destroyContainer(created)
        id = undefined
        expect((await eventsOf(t, w, created, 5, "another client's destroy"))[4]?.type).toBe('destroyed')
      } finally {
        await w.stop()
        if (id !== undefined) await other.destroyContainer(id).catch(() => undefined)
      }
    })

    it('events: break and return() end an iterator', async () => {
      const t = s.t()
      const pl = t.interaction('events')
      const broken = pl.events({ types: ['created'] })
      const returned = pl.events()
      await t.eventually(async () => (await settled(broken.ready)) && settled(returned.ready), 'ready')
      const pending = returned.next()
      await returned.return?.()
      expect(await pending, 'a next() waiting when return() was called').toEqual({
        value: undefined,
        done: true,
      })
      expect(await returned.next(), 'a next() after return()').toEqual({ value: undefined, done: true })
      const id = await t.container('ev-break')
      let seen: PortLayerEvent | undefined
      for await (const e of broken) {
        seen = e
        if (e.type !== 'resync' && e.containerId === id) break
      }
      expect(seen).toMatchObject({ type: 'created', containerId: id })
      expect(await broken.next(), 'a next() after break').toEqual({ value: undefined, done: true })
    })

    it("events: the call's signal ends an iterator (it finishes or rejects with CANCELLED)", async () => {
      const t = s.t()
      const controller = new AbortController()
      const stream = t.interaction('events').events(undefined, { signal: controller.signal })
      await t.eventually(() => settled(stream.ready), 'ready')
      const pending = nextWithin(stream, t.options.waitMs)
      controller.abort(new Error('conformance: enough events'))
      expect(await endedBySignal(pending), 'the next() waiting when the signal aborted').toBe('done')
      expect(await endedBySignal(nextWithin(stream, t.options.waitMs)), 'a later next()').toBe('done')
      const already = t.interaction('events').events(undefined, { signal: AbortSignal.abort() })
      expect(await endedBySignal(nextWithin(already, t.options.waitMs)), 'an already aborted signal').toBe(
        'done',
      )
    })

    it("events: the backend's close() ends every iterator (it finishes)", async () => {
      const t = s.t()
      const pl = t.interaction('events')
      const streams = [pl.events(), pl.events({ types: ['destroyed'] })]
      for (const stream of streams) await t.eventually(() => settled(stream.ready), 'ready')
      const pending = streams.map((stream) => nextWithin(stream, t.options.waitMs))
      await t.closable().close()
      for (const p of pending)
        expect(await p, 'a next() waiting at close()').toEqual({ value: undefined, done: true })
    })

    it('events: a malformed filter is INVALID_ARGUMENT (from the call or the first next())', async () => {
      const t = s.t()
      const pl = t.interaction('events')
      const bad: unknown[] = [
        null,
        42,
        'created',
        { types: 'created' },
        { types: ['no-such-type'] },
        { containerId: 'not-a-uuid' },
      ]
      for (const filter of bad) {
        let code: string | undefined
        try {
          const stream = pl.events(filter as EventFilter)
          try {
            // A malformed filter fails at once; a stream that took it would wait for events.
            const r = await nextWithin(stream, Math.min(1_000, t.options.waitMs))
            code = r === 'timeout' || !r.done ? 'none' : 'none (the stream finished)'
          } finally {
            await stream.return?.()
          }
        } catch (e) {
          code = PortLayerError.isInstance(e) ? e.code : `a non-portlayer ${String(e)}`
        }
        expect(code, `events(${JSON.stringify(filter)})`).toBe('INVALID_ARGUMENT')
      }
    })

    it('disposal: Symbol.asyncDispose closes the backend as close() does (later calls fail with UNAVAILABLE)', async () => {
      const t = s.t()
      const backend = t.closable()
      const stream = t.interaction('events').events()
      await t.eventually(() => settled(stream.ready), 'ready')
      const pending = nextWithin(stream, t.options.waitMs)
      await backend[Symbol.asyncDispose]()
      expect(await pending, 'a next() waiting at disposal').toEqual({ value: undefined, done: true })
      const e = await t.pl.listContainers().then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(PortLayerError.isInstance(e, 'UNAVAILABLE'), `listContainers after disposal: ${String(e)}`).toBe(
        true,
      )
      // Closing again does nothing more.
      await backend.close()
      await backend[Symbol.asyncDispose]()
    })
  })
}
