import { getEventListeners } from 'node:events'
import {
  type OutputChunk,
  PortLayerError,
  type PortLayerEvent,
  PROGRAM_OUTPUT_CASES,
  Signal,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { expectCode, startContainer, stop, virtualSim } from './helpers.js'

const text = (s: string) => new TextEncoder().encode(s)
const untext = (b: Uint8Array) => new TextDecoder().decode(b)

async function collect(source: AsyncIterable<OutputChunk>): Promise<OutputChunk[]> {
  const chunks: OutputChunk[] = []
  for await (const c of source) chunks.push(c)
  return chunks
}

function joined(chunks: readonly OutputChunk[], stream: 'stdout' | 'stderr'): string {
  return chunks
    .filter((c) => c.stream === stream)
    .map((c) => untext(c.data))
    .join('')
}

/** A running container whose main process runs until signalled, with `files` in /tmp. */
async function runningWith(sim: Simulator, files: Record<string, string | Uint8Array> = {}): Promise<string> {
  let h = await sim.createContainer('box')
  h = await sim.setEntryPoint(h, '/', '/bin/sleep', '3600')
  for (const [name, data] of Object.entries(files))
    h = await sim.copyTo(h, '/tmp', name, 0o644, typeof data === 'string' ? text(data) : data)
  return sim.commit(await sim.setRunState(h, 'running'))
}

function brief(e: PortLayerEvent): string {
  return e.type === 'exited' ? `exited:${e.exitCode}` : e.type
}

describe('events()', () => {
  it('is ready at once and reports changes of every client in order', async () => {
    const sim = virtualSim()
    const other = sim.connect()
    const stream = sim.events()
    await stream.ready
    const id = await startContainer(other, '/bin/sleep', '1')
    await sim.clock.advance(1000)
    await other.destroyContainer(id)
    const seen: string[] = []
    for await (const e of stream) {
      seen.push(brief(e))
      if (e.type === 'destroyed') break
    }
    expect(seen).toEqual(['created', 'started', 'exited:0', 'stopped', 'destroyed'])
    expect(await stream.next()).toEqual({ value: undefined, done: true })
  })

  it('filters by type and by a container that does not exist yet; resync passes every filter', async () => {
    const sim = virtualSim()
    const h = await sim.createContainer('later')
    const mine = sim.events({ containerId: h.containerId, types: ['created', 'resync'] })
    await startContainer(sim)
    await sim.commit(h)
    expect((await mine.next()).value).toMatchObject({ type: 'created', containerId: h.containerId })
    const snap = sim.snapshot()
    const exits = sim.events({ types: ['exited'] })
    sim.restore(snap)
    expect((await exits.next()).value).toMatchObject({ type: 'resync', at: sim.clock.now() })
    expect((await mine.next()).value).toMatchObject({ type: 'resync' })
    await mine.return?.()
    await exits.return?.()
  })

  it('gives a slow reader one resync in place of what overflowed its queue', async () => {
    const sim = virtualSim({ eventQueueLimit: 3 })
    const stream = sim.events({ types: ['created'] })
    for (let i = 0; i < 5; i++) await sim.commit(await sim.createContainer(`c${i}`))
    const got: string[] = []
    for (let i = 0; i < 3; i++) got.push(((await stream.next()).value as PortLayerEvent).type)
    // Three buffered, the fourth overflowed: dropped for a resync, then the fourth and fifth.
    expect(got).toEqual(['resync', 'created', 'created'])
    await stream.return?.()
  })

  it('ends on return(), on its signal (finishing, not rejecting) and on close()', async () => {
    const sim = virtualSim()
    const returned = sim.events()
    const waiting = returned.next()
    await returned.return?.()
    expect(await waiting).toEqual({ value: undefined, done: true })

    const controller = new AbortController()
    const aborted = sim.events(undefined, { signal: controller.signal })
    const pending = aborted.next()
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    controller.abort(new Error('enough'))
    expect(await pending).toEqual({ value: undefined, done: true })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(await sim.events(undefined, { signal: AbortSignal.abort() }).next()).toMatchObject({ done: true })

    const open = sim.events()
    await sim.commit(await sim.createContainer('x'))
    const next = open.next()
    sim.close()
    // What was buffered before close is still read; then the stream is done.
    expect((await next).value).toMatchObject({ type: 'created' })
    expect(await open.next()).toEqual({ value: undefined, done: true })
  })

  it('refuses any malformed filter or options with INVALID_ARGUMENT', async () => {
    const sim = virtualSim()
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    const bad: unknown[][] = [
      [null],
      [5],
      ['created'],
      [{ types: 'created' }],
      [{ types: ['exploded'] }],
      [{ types: [Symbol('x')] }],
      [{ containerId: 'nope' }],
      [{ containerId: 42 }],
      [revoked.proxy],
      [{}, null],
      [{}, { signal: {} }],
    ]
    for (const args of bad)
      await expectCode(() => (sim.events as (...a: unknown[]) => unknown)(...args), 'INVALID_ARGUMENT')
  })
})

describe('waitForExit()', () => {
  it('resolves when the process exits on the clock, at once if it has, for main and exec', async () => {
    const sim = virtualSim()
    const id = await startContainer(sim, '/bin/sleep', '5')
    let main: unknown
    void sim.waitForExit(id).then((s) => {
      main = s
    })
    await sim.clock.advance(4000)
    expect(main).toBeUndefined()
    await sim.clock.advance(1000)
    expect(main).toMatchObject({ status: 'exited', exitCode: 0 })
    expect((await sim.getContainerState(id)).status).toBe('stopped')
    expect(await sim.waitForExit(id)).toEqual(main)

    const box = await runningWith(sim)
    const p = await sim.execProcess(box, '/', '/bin/sh', '-c "exit 7"')
    expect(await sim.waitForExit(p)).toMatchObject({ processId: p, exitCode: 7 })
    const mainId = (await sim.getContainerState(box)).mainProcess?.processId as string
    const waiting = sim.waitForExit(mainId)
    await sim.signal(box, Signal.SIGTERM)
    expect(await waiting).toMatchObject({ exitCode: 143 })
  })

  it('NOT_FOUND, INVALID_STATE for a main process never started, INVALID_ARGUMENT for junk', async () => {
    const sim = virtualSim()
    await expectCode(sim.waitForExit('00000000-0000-4000-8000-000000000001'), 'NOT_FOUND')
    const bare = await sim.commit(await sim.createContainer('bare'))
    await expectCode(sim.waitForExit(bare), 'INVALID_STATE')
    let h = await sim.createContainer('entry')
    h = await sim.setEntryPoint(h, '/', '/bin/true', '')
    const withEntry = await sim.commit(h)
    await expectCode(sim.waitForExit(withEntry), 'INVALID_STATE')
    const mainId = (await sim.getContainerConfig(withEntry)).mainProcess?.processId as string
    await expectCode(sim.waitForExit(mainId), 'INVALID_STATE')
    for (const junk of [42, 'x', null, undefined, {}])
      await expectCode(sim.waitForExit(junk as never), 'INVALID_ARGUMENT')
    await expectCode(sim.waitForExit(bare, null as never), 'INVALID_ARGUMENT')
  })

  it('an abort rejects with CANCELLED, not-applied, and the process keeps running', async () => {
    const sim = virtualSim()
    const id = await runningWith(sim)
    const controller = new AbortController()
    const waiting = sim.waitForExit(id, { signal: controller.signal })
    const reason = new Error('gave up')
    controller.abort(reason)
    const e = await expectCode(waiting, 'CANCELLED')
    expect(e.outcome).toBe('not-applied')
    expect(e.cause).toBe(reason)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect((await sim.getContainerState(id)).mainProcess?.status).toBe('started')
    await expectCode(sim.waitForExit(id, { signal: AbortSignal.abort() }), 'CANCELLED')
    // callTimeoutMs does not bound a wait.
    const timed = virtualSim({ callTimeoutMs: 10 })
    const job = await startContainer(timed, '/bin/sleep', '60')
    const done = timed.waitForExit(job)
    await timed.clock.advance(60_000)
    expect(await done).toMatchObject({ exitCode: 0 })
  })

  it('fails waits in progress with UNAVAILABLE on close, and looks again after a restore', async () => {
    const sim = virtualSim()
    const id = await runningWith(sim)
    const snap = sim.snapshot()
    const restored = sim.waitForExit(id)
    const p = await sim.execProcess(id, '/', '/bin/sleep', '100')
    const gone = sim.waitForExit(p)
    sim.restore(snap)
    await expectCode(gone, 'NOT_FOUND')
    await sim.signal(id, Signal.SIGKILL)
    expect(await restored).toMatchObject({ exitCode: 137 })

    const other = virtualSim()
    const box = await runningWith(other)
    const pending = other.waitForExit(box)
    other.close()
    await expectCode(pending, 'UNAVAILABLE')
    await expectCode(other.waitForExit(box), 'UNAVAILABLE')
  })
})

describe('readOutput()', () => {
  for (const c of PROGRAM_OUTPUT_CASES) {
    it(`built-in program: ${c.name}`, async () => {
      const sim = virtualSim()
      const box = await runningWith(sim, c.files)
      const p = await sim.execProcess(box, '/tmp', c.execPath, c.execArgs)
      expect(await sim.waitForExit(p)).toMatchObject({ exitCode: c.exitCode })
      const chunks = await collect(sim.readOutput(p))
      expect(joined(chunks, 'stdout')).toBe(c.stdout)
      expect(joined(chunks, 'stderr')).toBe(c.stderr)
    })
  }

  it('sh echo forms: more than words, or no exit, is a script this simulator does not run', async () => {
    const sim = virtualSim()
    const box = await runningWith(sim)
    for (const script of ['echo a1>&2; exit 1', 'echo $HOME; exit 0', 'echo hi', 'echo a; echo b; exit 0']) {
      const p = await sim.execProcess(box, '/', '/bin/sh', `-c '${script}'`)
      expect((await sim.waitForExit(p)).exitCode, script).toBe(127)
      expect(await collect(sim.readOutput(p)), script).toEqual([])
    }
    const quoted = await sim.execProcess(box, '/', '/bin/sh', `-c "echo 'a  b' \\"c\\" >&2; exit 300"`)
    expect((await sim.waitForExit(quoted)).exitCode).toBe(44)
    expect(joined(await collect(sim.readOutput(quoted)), 'stderr')).toBe('a  b c\n')
  })

  it('cat reports directories and paths under a file; cp reports a missing source on stderr', async () => {
    const sim = virtualSim()
    const box = await runningWith(sim, { 'f.txt': 'x' })
    const p = await sim.execProcess(box, '/tmp', '/bin/cat', '/etc f.txt/y f.txt')
    expect((await sim.waitForExit(p)).exitCode).toBe(1)
    const chunks = await collect(sim.readOutput(p))
    expect(joined(chunks, 'stderr')).toBe('cat: /etc: Is a directory\ncat: f.txt/y: Not a directory\n')
    expect(joined(chunks, 'stdout')).toBe('x')
    const cp = await sim.execProcess(box, '/', '/bin/cp', 'nope /tmp/x')
    expect(await sim.waitForExit(cp)).toMatchObject({ exitCode: 1 })
    expect(joined(await collect(sim.readOutput(cp)), 'stderr')).toBe(
      "cp: cannot stat 'nope': No such file or directory\n",
    )
  })

  it('is binary-safe, in write order across streams, and gives copies', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const sim = virtualSim({
      programs: {
        '/bin/mixed': (ctx) => {
          ctx.write('one ')
          ctx.write('err1', 'stderr')
          ctx.write(bytes)
          ctx.write('err2', 'stderr')
        },
      },
    })
    const box = await runningWith(sim)
    const p = await sim.execProcess(box, '/', '/bin/mixed', '')
    await sim.waitForExit(p)
    const chunks = await collect(sim.readOutput(p))
    expect(chunks.map((c) => c.stream)).toEqual(['stdout', 'stderr', 'stdout', 'stderr'])
    expect(chunks[2]?.data).toEqual(bytes)
    ;(chunks[2] as OutputChunk).data.fill(0)
    expect((await collect(sim.readOutput(p)))[2]?.data).toEqual(bytes)
  })

  it('follows a running process until it exits and its output is drained', async () => {
    const sim = virtualSim({
      programs: {
        '/bin/ticker': async (ctx) => {
          for (let i = 1; i <= 3; i++) {
            await ctx.sleep(1000)
            ctx.write(`tick ${i}\n`)
          }
          ctx.write('bye\n', 'stderr')
          return 5
        },
      },
    })
    const id = await startContainer(sim, '/bin/ticker')
    expect(await collect(sim.readOutput(id))).toEqual([])
    const got: string[] = []
    const following = (async () => {
      for await (const c of sim.readOutput(id, { follow: true })) got.push(`${c.stream}:${untext(c.data)}`)
    })()
    await sim.clock.advance(1500)
    expect(got).toEqual(['stdout:tick 1\n'])
    await sim.clock.advance(2000)
    await following
    expect(got).toEqual(['stdout:tick 1\n', 'stdout:tick 2\n', 'stdout:tick 3\n', 'stderr:bye\n'])
    expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(5)
  })

  it('keeps the last outputLimitBytes per stream and says how many were dropped', async () => {
    const sim = virtualSim({
      outputLimitBytes: 10,
      programs: {
        '/bin/chatty': async (ctx) => {
          ctx.write('0123456789abcdef') // 6 dropped at once
          ctx.write('err', 'stderr')
          await ctx.sleep(10)
          ctx.write('ghij') // 4 more dropped
          return ctx.forever()
        },
      },
    })
    expect(sim.outputLimitBytes).toBe(10)
    const id = await startContainer(sim, '/bin/chatty')
    const reader = sim.readOutput(id, { follow: true })[Symbol.asyncIterator]()
    const first = (await reader.next()).value as OutputChunk
    expect(first).toMatchObject({ stream: 'stdout', dropped: 6 })
    expect(untext(first.data)).toBe('6789abcdef')
    expect((await reader.next()).value).toMatchObject({ stream: 'stderr' })
    const later = reader.next()
    await sim.clock.advance(10)
    const third = (await later).value as OutputChunk
    expect(untext(third.data)).toBe('ghij')
    expect(third.dropped).toBeUndefined()
    await reader.return?.()
    const again = await collect(sim.readOutput(id))
    expect(again[0]).toMatchObject({ stream: 'stdout', dropped: 10 })
    expect(joined(again, 'stdout')).toBe('abcdefghij')
    expect(virtualSim().outputLimitBytes).toBe(1024 * 1024)
    for (const bad of [0, -1, 1.5, '10', Number.NaN])
      await expectCode(() => createSimulator({ outputLimitBytes: bad as never }), 'INVALID_ARGUMENT')
  })

  it('survives stop and restart until destroy; a restarted main process writes afresh', async () => {
    const sim = virtualSim()
    let h = await sim.createContainer('crash')
    h = await sim.setEntryPoint(h, '/', '/bin/sh', '-c "echo crashed >&2; exit 3"')
    const crash = await sim.commit(await sim.setRunState(h, 'running'))
    expect(await sim.waitForExit(crash)).toMatchObject({ exitCode: 3 })
    expect((await sim.getContainerState(crash)).status).toBe('stopped')
    expect(joined(await collect(sim.readOutput(crash)), 'stderr')).toBe('crashed\n')
    const box = await runningWith(sim)
    const p = await sim.execProcess(box, '/', '/bin/echo', 'kept')
    await stop(sim, box)
    expect(joined(await collect(sim.readOutput(p)), 'stdout')).toBe('kept\n')
    await sim.commit(await sim.setRunState(await sim.getHandle(box), 'running'))
    expect(joined(await collect(sim.readOutput(p)), 'stdout')).toBe('kept\n')
    await sim.commit(await sim.setRunState(await sim.getHandle(crash), 'running'))
    expect(joined(await collect(sim.readOutput(crash)), 'stderr')).toBe('crashed\n')
    await stop(sim, box)
    const beforeDestroy = sim.readOutput(p)
    await sim.destroyContainer(box)
    await sim.destroyContainer(crash)
    await expectCode(collect(sim.readOutput(p)), 'NOT_FOUND')
    await expectCode(collect(beforeDestroy), 'NOT_FOUND')
    await expectCode(collect(sim.readOutput(crash)), 'NOT_FOUND')
  })

  it('a snapshot keeps what processes wrote; restore brings it back', async () => {
    const sim = virtualSim()
    const box = await runningWith(sim)
    const p = await sim.execProcess(box, '/', '/bin/echo', 'before')
    const snap = sim.snapshot()
    await sim.destroyContainer(await startContainer(sim, '/bin/true'))
    await stop(sim, box)
    await sim.destroyContainer(box)
    await expectCode(collect(sim.readOutput(p)), 'NOT_FOUND')
    sim.restore(snap)
    expect(joined(await collect(sim.readOutput(p)), 'stdout')).toBe('before\n')
  })

  it('a main process never started has written nothing; bad arguments are INVALID_ARGUMENT at the call', async () => {
    const sim = virtualSim()
    const bare = await sim.commit(await sim.createContainer('bare'))
    expect(await collect(sim.readOutput(bare, { follow: true }))).toEqual([])
    for (const junk of [42, 'x', null])
      await expectCode(() => sim.readOutput(junk as never), 'INVALID_ARGUMENT')
    for (const options of [null, 5, { follow: 'yes' }, { signal: 1 }])
      await expectCode(() => sim.readOutput(bare, options as never), 'INVALID_ARGUMENT')
    await expectCode(collect(sim.readOutput('00000000-0000-4000-8000-000000000002')), 'NOT_FOUND')
  })

  it('an abort rejects the waiting next() with CANCELLED; close with UNAVAILABLE', async () => {
    const sim = virtualSim()
    const id = await runningWith(sim)
    const controller = new AbortController()
    const reader = sim.readOutput(id, { follow: true, signal: controller.signal })[Symbol.asyncIterator]()
    const waiting = reader.next()
    controller.abort()
    await expectCode(waiting, 'CANCELLED')
    expect(await reader.next()).toEqual({ value: undefined, done: true })
    expect((await sim.getContainerState(id)).status).toBe('running')
    await expectCode(collect(sim.readOutput(id, { signal: AbortSignal.abort() })), 'CANCELLED')
    const open = sim.readOutput(id, { follow: true })[Symbol.asyncIterator]()
    const pending = open.next()
    sim.close()
    await expectCode(pending, 'UNAVAILABLE')
  })

  it('programs write only strings and bytes, to stdout or stderr', async () => {
    const errors: unknown[] = []
    const sim = virtualSim({
      programs: {
        '/bin/bad': (ctx) => {
          for (const [data, stream] of [
            [42, undefined],
            ['x', 'stdin'],
          ] as const) {
            try {
              ctx.write(data as never, stream as never)
            } catch (e) {
              errors.push(e)
            }
          }
        },
      },
    })
    await sim.waitForExit(await startContainer(sim, '/bin/bad'))
    expect(errors.map((e) => PortLayerError.isInstance(e, 'INVALID_ARGUMENT'))).toEqual([true, true])
  })
})

describe('logging and disposal', () => {
  it('background failures go to logger.warn unless onBackgroundError is given', async () => {
    const warned: string[] = []
    const logger = { debug() {}, info() {}, warn: (m: string) => warned.push(m), error() {} }
    const sim = virtualSim({
      logger,
      extensions: [
        {
          namespace: 'leaky',
          prepare: ({ pending }) => ({ applied: pending }),
          release: () => {
            throw new Error('release failed')
          },
        },
      ],
    })
    const h = sim.handleFactory.withExtension(await sim.createContainer('x'), 'leaky', { a: 1 })
    await sim.destroyContainer(await sim.commit(h))
    await new Promise((r) => setTimeout(r, 0))
    expect(warned).toHaveLength(1)
    expect(warned[0]).toContain('release failed')
    await expectCode(() => createSimulator({ logger: { warn() {} } as never }), 'INVALID_ARGUMENT')
  })

  it('Symbol.asyncDispose closes it like close()', async () => {
    const sim = createSimulator()
    const id = await startContainer(sim)
    const stream = sim.events()
    const next = stream.next()
    {
      await using disposed = sim
      expect(disposed.backend).toBe('simulator')
    }
    expect(await next).toEqual({ value: undefined, done: true })
    await expectCode(sim.getContainerState(id), 'UNAVAILABLE')
    expect(sim.clock.pendingTimers()).toBe(0)
    await sim[Symbol.asyncDispose]()
  })
})
