import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { startContainer, virtualSim } from './helpers.js'

/** Runs `call` (sync or async) and returns the code it failed with, or the error's class name. */
async function outcome(call: () => unknown): Promise<string> {
  try {
    await call()
    return 'ok'
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e.code
    return (e as Error)?.constructor?.name ?? String(e)
  }
}

async function expectAllInvalid(calls: Record<string, () => unknown>): Promise<void> {
  const got: Record<string, string> = {}
  for (const [what, call] of Object.entries(calls)) got[what] = await outcome(call)
  const want = Object.fromEntries(Object.keys(calls).map((k) => [k, ErrorCode.InvalidArgument]))
  expect(got).toEqual(want)
}

describe('malformed arguments fail with INVALID_ARGUMENT, never a TypeError', () => {
  it('in createSimulator options', async () => {
    await expectAllInvalid({
      null: () => createSimulator(null as never),
      number: () => createSimulator(5 as never),
      'extensions not an array': () => createSimulator({ extensions: 5 as never }),
      'extensions with null': () => createSimulator({ extensions: [null] as never }),
      'programs not an object': () => createSimulator({ programs: 5 as never }),
      'programs an array': () => createSimulator({ programs: [() => 0] as never }),
      'defaultLimits not an object': () => createSimulator({ defaultLimits: 5 as never }),
      'handleFactory without methods': () => createSimulator({ handleFactory: {} as never }),
      'handleFactory null': () => createSimulator({ handleFactory: null as never }),
      'startTime a string': () => createSimulator({ clock: 'virtual', startTime: '2020' as never }),
    })
    expect(await outcome(() => createSimulator({ extensions: undefined, programs: undefined }))).toBe('ok')
  })

  it('in the event controls', async () => {
    const sim = virtualSim()
    await expectAllInvalid({
      'on(42)': () => sim.events.on(42 as never),
      'stream(null)': () => sim.events.stream(null as never),
      'stream(types: string)': () => sim.events.stream({ types: 'exited' as never }),
      'stream(types: unknown type)': () => sim.events.stream({ types: ['exploded' as never] }),
      'stream(containerId: x)': () => sim.events.stream({ containerId: 'x' }),
    })
  })

  it('in the file-system control', async () => {
    const sim = virtualSim()
    const id = await sim.commit(await sim.createContainer('x'))
    const fs = sim.fs(id)
    await expectAllInvalid({
      'mkdir options null': () => fs.mkdir('/a', null as never),
      'mkdir options string': () => fs.mkdir('/a', 'recursive' as never),
      'remove options null': () => fs.remove('/tmp', null as never),
      'writeFile data number': () => fs.writeFile('/tmp/a', 5 as never),
      'writeFile perms': () => fs.writeFile('/tmp/a', 'x', -1),
      'readFile path number': () => fs.readFile(5 as never),
      'stat path null': () => fs.stat(null as never),
      'chmod perms': () => fs.chmod('/tmp', 0o10000),
    })
    expect(fs.exists('/a')).toBe(false)
    expect(fs.exists('/tmp')).toBe(true)
  })

  it('in the clock, faults, programs, extensions and snapshots', async () => {
    const sim = virtualSim()
    await expectAllInvalid({
      'advance(-1)': () => sim.clock.advance(-1),
      'advance(NaN)': () => sim.clock.advance(Number.NaN),
      'failNext(count 0)': () => sim.faults.failNext('commit', 0),
      'setLatency(Infinity)': () => sim.faults.setLatency('commit', Number.POSITIVE_INFINITY),
      'register(bad path)': () => sim.programs.register('bin/x', () => 0),
      'register(null program)': () => sim.programs.register('/bin/x', null as never),
      'unregister(5)': () => sim.programs.unregister(5 as never),
      'has(..)': () => sim.programs.has('/bin/../x'),
      'registerExtension(null)': () => sim.registerExtension(null as never),
      'restore(null)': () => sim.restore(null as never),
      'restore(lookalike)': () => sim.restore(Object.freeze({ takenAt: new Date(), containers: 0 })),
      'fs(5)': () => sim.fs(5 as never),
    })
  })

  it('in every port-layer call', async () => {
    const sim: Simulator = virtualSim()
    const id = await startContainer(sim)
    const h = await sim.getHandle(id)
    await expectAllInvalid({
      'createContainer(5)': () => sim.createContainer(5 as never),
      'getHandle(5)': () => sim.getHandle(5 as never),
      'copyTo(null)': () => sim.copyTo(null as never, '/tmp', 'a', 0o644, new Uint8Array()),
      'copyTo(perms)': () => sim.copyTo(h, '/tmp', 'a', -1, new Uint8Array()),
      'setEntryPoint(workDir)': () => sim.setEntryPoint(h, 'rel', '/bin/true', ''),
      'setLimits(NaN)': () => sim.setLimits(h, Number.NaN, 1),
      'setRunState(created)': () => sim.setRunState(h, 'created'),
      'commit(42)': () => sim.commit(42 as never),
      'commit(sparse files)': () => {
        const files: unknown[] = []
        files.length = 1
        return sim.commit({ ...h, pending: { ...h.pending, files } } as never)
      },
      'destroyContainer(null)': () => sim.destroyContainer(null as never),
      'listContainers(x)': () => sim.listContainers('x' as never),
      'getContainerConfig({})': () => sim.getContainerConfig({} as never),
      'getContainerState(1)': () => sim.getContainerState(1 as never),
      'copyFrom(fname)': () => sim.copyFrom(id, '/tmp', '..'),
      'execProcess(execArgs)': () => sim.execProcess(id, '/', '/bin/true', '"'),
      'signal(0)': () => sim.signal(id, 0),
      'getExtensionState(ns)': () => sim.getExtensionState(id, 'NET'),
    })
    expect((await sim.getContainerState(id)).execdProcs).toEqual([])
  })
})
