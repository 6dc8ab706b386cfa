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
      'on(42)': () => sim.onEvent(42 as never),
      'stream(null)': () => sim.events(null as never),
      'stream(types: string)': () => sim.events({ types: 'exited' as never }),
      'stream(types: unknown type)': () => sim.events({ types: ['exploded' as never] }),
      'stream(containerId: x)': () => sim.events({ containerId: 'x' }),
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

describe('hostile values at the simulator’s own controls give INVALID_ARGUMENT, never a TypeError', () => {
  const throwing = new Proxy(
    {},
    {
      get() {
        throw new Error('hostile trap')
      },
      getPrototypeOf() {
        throw new Error('hostile trap')
      },
      ownKeys() {
        throw new Error('hostile trap')
      },
    },
  )
  const revoked = Proxy.revocable({}, {})
  revoked.revoke()
  const nullProto = Object.create(null) as object
  const getter = Object.defineProperty({}, 'clock', {
    enumerable: true,
    get() {
      throw new Error('hostile getter')
    },
  })

  it('in createSimulator options, read once', async () => {
    await expectAllInvalid({
      'a proxy whose traps throw': () => createSimulator(throwing as never),
      'a revoked proxy': () => createSimulator(revoked.proxy as never),
      'a getter that throws': () => createSimulator(getter as never),
      'clock: a symbol': () => createSimulator({ clock: Symbol('x') as never }),
      'clock: a null-prototype object': () => createSimulator({ clock: nullProto as never }),
      'startTime: a Date look-alike': () =>
        createSimulator({ clock: 'virtual', startTime: Object.create(Date.prototype) as Date }),
      'startTime: a proxy': () => createSimulator({ clock: 'virtual', startTime: throwing as never }),
      'defaultLimits: a proxy': () => createSimulator({ defaultLimits: throwing as never }),
      'defaultLimits.memoryMb: a bigint': () => createSimulator({ defaultLimits: { memoryMb: 1n as never } }),
      'stopGracePeriodMs: a symbol': () => createSimulator({ stopGracePeriodMs: Symbol('x') as never }),
      'maxExitedExecs: a null-prototype object': () =>
        createSimulator({ maxExitedExecs: nullProto as never }),
      'callTimeoutMs: a symbol': () => createSimulator({ callTimeoutMs: Symbol('x') as never }),
      'programs: a proxy': () => createSimulator({ programs: throwing as never }),
    })
    let reads = 0
    const counted = Object.defineProperty({}, 'stopGracePeriodMs', {
      enumerable: true,
      get() {
        reads++
        return reads === 1 ? 5 : -1
      },
    })
    expect(createSimulator(counted).stopGracePeriodMs).toBe(5)
    expect(reads).toBe(1)
  })

  it('in faults, clock.advance and event filters', async () => {
    const sim = virtualSim()
    await expectAllInvalid({
      'failNext count: a symbol': () => sim.faults.failNext('commit', Symbol('x') as never),
      'failNext code: a null-prototype object': () => sim.faults.failNext('commit', 1, nullProto as never),
      'failNext operation: a symbol': () => sim.faults.failNext(Symbol('x') as never),
      'setLatency ms: a bigint': () => sim.faults.setLatency('commit', 5n as never),
      'clear: a revoked proxy': () => sim.faults.clear(revoked.proxy as never),
      'advance: a symbol': () => sim.clock.advance(Symbol('x') as never),
      'stream filter: a proxy': () => sim.events(throwing as never),
      'stream filter: a revoked proxy': () => sim.events(revoked.proxy as never),
      'stream types: a symbol inside': () => sim.events({ types: [Symbol('x')] as never }),
    })
    for (const message of (await Promise.all([
      outcomeError(() => sim.faults.failNext('commit', 1, 'x'.repeat(1_000_000) as never)),
    ])) as PortLayerError[])
      expect(message.message.length).toBeLessThan(400)
  })

  it('a program or extension throwing a hostile value fails the process or commit cleanly', async () => {
    const sim = virtualSim({
      programs: {
        '/bin/hostile': () => {
          throw throwing
        },
      },
    })
    sim.registerExtension({
      namespace: 'hostile',
      prepare: () => {
        throw nullProto
      },
    })
    const id = await startContainer(sim, '/bin/hostile')
    expect((await sim.getContainerState(id)).mainProcess).toMatchObject({ status: 'exited', exitCode: 1 })
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'hostile', 1)
    expect(await outcome(() => sim.commit(h))).toBe(ErrorCode.InvalidArgument)
  })
})

async function outcomeError(call: () => unknown): Promise<unknown> {
  try {
    await call()
  } catch (e) {
    return e
  }
  throw new Error('expected a failure')
}
