import { PortLayerError, type PortLayerEvent } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import type { EventSink } from '../src/events/event-hub.js'
import { type EventSource, openEventStream } from '../src/events/event-stream.js'

// The iterators of events() over a stand-in hub: filters, queues and how they end.

const A = '0b8d3c2e-1f4a-4b6c-9d7e-8f9a0b1c2d3e'
const B = '1c9e4d3f-2a5b-4c7d-8e9f-a0b1c2d3e4f5'
const AT = new Date('2026-01-01T00:00:00.000Z')

class FakeSource implements EventSource {
  readonly sinks = new Set<EventSink>()
  constructor(readonly maxQueued = 10_000) {}
  subscribe(sink: EventSink): () => void {
    this.sinks.add(sink)
    return () => this.sinks.delete(sink)
  }
  send(...events: PortLayerEvent[]): void {
    for (const sink of [...this.sinks]) sink.deliver(events)
  }
  watching(): void {
    for (const sink of [...this.sinks]) sink.watching()
  }
  close(): void {
    for (const sink of [...this.sinks]) sink.closed()
    this.sinks.clear()
  }
}

const created = (containerId: string): PortLayerEvent => ({ type: 'created', containerId, at: AT })
const destroyed = (containerId: string): PortLayerEvent => ({ type: 'destroyed', containerId, at: AT })
const resync: PortLayerEvent = { type: 'resync', at: AT }

function invalid(fn: () => unknown): PortLayerError {
  try {
    fn()
  } catch (e) {
    expect(PortLayerError.isInstance(e, 'INVALID_ARGUMENT')).toBe(true)
    return e as PortLayerError
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('events() iterators', () => {
  it('refuses any malformed filter or options from the call, with INVALID_ARGUMENT', () => {
    const source = new FakeSource()
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap')
        },
      },
    )
    for (const filter of [
      null,
      42,
      'created',
      { types: 'created' },
      { types: ['created', 'born'] },
      { types: [1] },
      { types: new Set(['created']) },
      { containerId: 'not-an-id' },
      { containerId: A.toUpperCase() },
      { containerId: 7 },
      hostile,
    ]) {
      invalid(() => openEventStream(source, filter, undefined))
    }
    for (const options of [null, 5, { signal: 'abort' }, { signal: {} }, hostile]) {
      invalid(() => openEventStream(source, undefined, options))
    }
    expect(source.sinks.size).toBe(0)
    // Well-formed: every known type (resync too), an ID that need not exist, empty filters.
    openEventStream(source, { types: ['created', 'started', 'exited', 'stopped', 'destroyed', 'resync'] })
    openEventStream(source, { containerId: A }, {})
    openEventStream(source, {}, { signal: new AbortController().signal })
    expect(source.sinks.size).toBe(3)
  })

  it('passes only the asked types and container, and resync to every stream', async () => {
    const source = new FakeSource()
    const byType = openEventStream(source, { types: ['destroyed'] })
    const byContainer = openEventStream(source, { containerId: B })
    source.send(created(A), created(B), resync, destroyed(A), destroyed(B))
    source.close()
    const all = async (s: AsyncIterable<PortLayerEvent>) => {
      const out: PortLayerEvent[] = []
      for await (const e of s) out.push(e)
      return out
    }
    expect(await all(byType)).toEqual([resync, destroyed(A), destroyed(B)])
    expect(await all(byContainer)).toEqual([created(B), resync, destroyed(B)])
  })

  it('resolves ready when the source watches, or when the iterator ends first', async () => {
    const source = new FakeSource()
    const stream = openEventStream(source)
    let ready = false
    void stream.ready.then(() => {
      ready = true
    })
    await Promise.resolve()
    expect(ready).toBe(false)
    source.watching()
    await stream.ready
    const other = openEventStream(source)
    await other.return?.()
    await other.ready
  })

  it('hands events to a waiting next() and queues the rest in order', async () => {
    const source = new FakeSource()
    const stream = openEventStream(source)
    const first = stream.next()
    source.send(created(A), created(B))
    expect(await first).toEqual({ value: created(A), done: false })
    expect(await stream.next()).toEqual({ value: created(B), done: false })
  })

  it('drops the queue of a consumer that fell behind for one resync, and goes on', async () => {
    const source = new FakeSource(3)
    const stream = openEventStream(source)
    source.send(created(A), created(B), destroyed(A), destroyed(B))
    source.send(created(A))
    expect((await stream.next()).value?.type).toBe('resync')
    expect((await stream.next()).value).toEqual(created(A))
  })

  it('ends on break, dropping what was queued, and unsubscribes', async () => {
    const source = new FakeSource()
    const stream = openEventStream(source)
    source.send(created(A), created(B))
    for await (const event of stream) {
      expect(event).toEqual(created(A))
      break
    }
    expect(source.sinks.size).toBe(0)
    expect(await stream.next()).toEqual({ value: undefined, done: true })
  })

  it('ends on return(), also for a next() already waiting', async () => {
    const source = new FakeSource()
    const stream = openEventStream(source)
    const waiting = stream.next()
    expect(await stream.return?.()).toEqual({ value: undefined, done: true })
    expect(await waiting).toEqual({ value: undefined, done: true })
    source.send(created(A))
    expect(await stream.next()).toEqual({ value: undefined, done: true })
    expect(source.sinks.size).toBe(0)
  })

  it('finishes on an abort of its signal, waiting next() included, and at once for an aborted one', async () => {
    const source = new FakeSource()
    const controller = new AbortController()
    const stream = openEventStream(source, undefined, { signal: controller.signal })
    source.send(created(A))
    expect((await stream.next()).value).toEqual(created(A))
    const waiting = stream.next()
    controller.abort(new Error('enough'))
    expect(await waiting).toEqual({ value: undefined, done: true })
    expect(source.sinks.size).toBe(0)
    const late = openEventStream(source, undefined, { signal: controller.signal })
    expect(await late.next()).toEqual({ value: undefined, done: true })
    await late.ready
    expect(source.sinks.size).toBe(0)
  })

  it('finishes when the backend closes, after what was queued', async () => {
    const source = new FakeSource()
    const stream = openEventStream(source)
    const other = openEventStream(source)
    const waiting = other.next()
    source.send(created(A))
    source.close()
    expect(await waiting).toEqual({ value: created(A), done: false })
    expect(await stream.next()).toEqual({ value: created(A), done: false })
    expect(await stream.next()).toEqual({ value: undefined, done: true })
  })
})
