import { getEventListeners } from 'node:events'
import { type ContainerEvent, InvalidArgumentError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { startContainer, stop, virtualSim } from './helpers.js'

function brief(e: ContainerEvent) {
  return e.type === 'exited' ? `${e.type}:${e.processId}:${e.exitCode}` : e.type
}

describe('events', () => {
  it('reports a whole lifecycle in order, with process IDs and exit codes on exits', async () => {
    const sim = virtualSim()
    const events: ContainerEvent[] = []
    const off = sim.onEvent((e) => events.push(e))
    const id = await startContainer(sim)
    const main = (await sim.getContainerState(id)).mainProcess?.processId
    const p = await sim.execProcess(id, '/', '/bin/false', '')
    await sim.clock.advance(250)
    await stop(sim, id)
    await sim.destroyContainer(id)
    off()
    await sim.commit(await sim.createContainer('unheard'))
    expect(events.map(brief)).toEqual([
      'created',
      'started',
      `exited:${p}:1`,
      `exited:${main}:143`,
      'stopped',
      'destroyed',
    ])
    expect(events.every((e) => e.containerId === id)).toBe(true)
    expect(events[3]?.at.getTime()).toBe(1_000_250)
  })

  it('reports a restart and a main process that exits by itself', async () => {
    const sim = virtualSim()
    const seen: string[] = []
    sim.onEvent((e) => seen.push(brief(e)))
    let h = await sim.createContainer('job')
    h = await sim.setEntryPoint(h, '/', '/bin/sh', '-c "exit 4"')
    const id = await sim.commit(await sim.setRunState(h, 'running'))
    await sim.commit(await sim.setRunState(await sim.getHandle(id), 'running'))
    const main = (await sim.getContainerConfig(id)).mainProcess?.processId
    expect(seen).toEqual([
      'created',
      'started',
      `exited:${main}:4`,
      'stopped',
      'started',
      `exited:${main}:4`,
      'stopped',
    ])
  })

  it('streams events as an async iterable, buffered from when the stream was made', async () => {
    const sim = virtualSim()
    const stream = sim.events()
    const id = await startContainer(sim)
    await stop(sim, id)
    const got: string[] = []
    for await (const e of stream) {
      got.push(e.type)
      if (e.type === 'stopped') break
    }
    expect(got).toEqual(['created', 'started', 'exited', 'stopped'])
    // Breaking out of the loop unsubscribed the stream.
    expect(await stream.next()).toEqual({ value: undefined, done: true })
  })

  it('wakes a waiting iterator and filters by type and container', async () => {
    const sim = virtualSim()
    const a = await startContainer(sim)
    const b = await startContainer(sim)
    const exits = sim.events({ types: ['exited'], containerId: b })
    const next = exits.next()
    await sim.execProcess(a, '/', '/bin/true', '')
    const p = await sim.execProcess(b, '/', '/bin/false', '')
    expect((await next).value).toMatchObject({ type: 'exited', containerId: b, processId: p, exitCode: 1 })
    await exits.return?.()
  })

  it('iterates a stream of events() with for await', async () => {
    const sim = virtualSim()
    const got: string[] = []
    const reading = (async () => {
      for await (const e of sim.events()) {
        got.push(e.type)
        if (e.type === 'created') break
      }
    })()
    await sim.commit(await sim.createContainer('x'))
    await reading
    expect(got).toEqual(['created'])
  })

  it('delivers events to several listeners and stops after unsubscribing', async () => {
    const sim = virtualSim()
    const one: string[] = []
    const two: string[] = []
    const offOne = sim.onEvent((e) => one.push(e.type))
    sim.onEvent((e) => two.push(e.type))
    await sim.commit(await sim.createContainer('x'))
    offOne()
    await sim.commit(await sim.createContainer('y'))
    expect(one).toEqual(['created'])
    expect(two).toEqual(['created', 'created'])
    expect(() => sim.onEvent(42 as never)).toThrow(InvalidArgumentError)
  })
})

describe('event streams with a signal', () => {
  it('an abort ends the stream: a waiting next() and later ones give done, and the listener goes', async () => {
    const sim = virtualSim()
    const controller = new AbortController()
    const stream = sim.events({}, { signal: controller.signal })
    const first = stream.next()
    await sim.commit(await sim.createContainer('x'))
    expect((await first).value).toMatchObject({ type: 'created' })
    const waiting = stream.next()
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    controller.abort()
    expect(await waiting).toEqual({ value: undefined, done: true })
    expect(await stream.next()).toEqual({ value: undefined, done: true })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    // Ending it another way removes the listener too.
    const other = new AbortController()
    const s2 = sim.events(undefined, { signal: other.signal })
    await s2.return?.()
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0)
  })

  it('an already-aborted signal gives a stream that is done at once; malformed options are INVALID_ARGUMENT', async () => {
    const sim = virtualSim()
    const stream = sim.events({}, { signal: AbortSignal.abort() })
    await sim.commit(await sim.createContainer('x'))
    expect(await stream.next()).toEqual({ value: undefined, done: true })
    for (const bad of [null, 5, { signal: {} }]) {
      expect(() => sim.events({}, bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
  })
})
