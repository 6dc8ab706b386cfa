import {
  type ID,
  type Interaction,
  type OutputChunk,
  type OutputStreamName,
  PROGRAM_OUTPUT_CASES,
  type ProcessState,
  type ProgramOutputCase,
  type ReadOutputOptions,
  Signal,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { type FileSpec, LONG_RUNNER, text } from '../harness.js'
import { expectCancelled, expectPortLayerError } from '../outcome.js'
import type { SuiteContext } from './context.js'

// "Process output and waiting (every backend)": waitForExit and readOutput, and the built-in
// programs that write output (contracts' PROGRAM_OUTPUT_CASES, the one table both backends run).

const WORK_DIR = '/tmp'
const decoder = new TextDecoder()

/** Every chunk `readOutput` yields, until it ends. */
async function readAll(pl: Interaction, id: ID, options?: ReadOutputOptions): Promise<OutputChunk[]> {
  const chunks: OutputChunk[] = []
  for await (const chunk of pl.readOutput(id, options)) chunks.push(chunk)
  return chunks
}

/** The bytes of one stream, in the order read. */
function bytesOf(chunks: readonly OutputChunk[], stream: OutputStreamName): Uint8Array {
  const parts = chunks.filter((c) => c.stream === stream).map((c) => c.data)
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    all.set(p, at)
    at += p.byteLength
  }
  return all
}

/** What a process wrote, as text, and how it ended. */
interface Written {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

function writtenBy(chunks: readonly OutputChunk[], exitCode: number): Written {
  return {
    exitCode,
    stdout: decoder.decode(bytesOf(chunks, 'stdout')),
    stderr: decoder.decode(bytesOf(chunks, 'stderr')),
  }
}

function expected(c: ProgramOutputCase): Written {
  return { exitCode: c.exitCode, stdout: c.stdout, stderr: c.stderr }
}

function filesOf(files: Readonly<Record<string, string>> | undefined): FileSpec[] {
  return Object.entries(files ?? {}).map(([name, content]) => ({ dir: WORK_DIR, name, data: text(content) }))
}

/**
 * The cases split into groups whose files can sit in one working directory together (no name
 * with two contents), so each group needs one container.
 */
function groupsByFiles(cases: readonly ProgramOutputCase[]): ProgramOutputCase[][] {
  const groups: Array<{ files: Map<string, string>; cases: ProgramOutputCase[] }> = []
  for (const c of cases) {
    const entries = Object.entries(c.files ?? {})
    let group = groups.find((g) => entries.every(([n, v]) => !g.files.has(n) || g.files.get(n) === v))
    if (group === undefined) {
      group = { files: new Map(), cases: [] }
      groups.push(group)
    }
    for (const [n, v] of entries) group.files.set(n, v)
    group.cases.push(c)
  }
  return groups.map((g) => g.cases)
}

/** Resolves true once `p` has settled, without waiting for it (rethrows a rejection). */
function tracker<T>(p: Promise<T>): { readonly done: () => boolean; readonly value: Promise<T> } {
  let done = false
  const value = p.finally(() => {
    done = true
  })
  // Checked by the test; an early rejection must not be reported as unhandled meanwhile.
  value.catch(() => undefined)
  return { done: () => done, value }
}

/** Tests of waitForExit, readOutput and the built-in programs that write output. */
export function outputTests(s: SuiteContext): void {
  const { caps } = s
  const limit = s.options.outputLimitBytes
  const cases = PROGRAM_OUTPUT_CASES.filter((c) => caps.files || c.files === undefined)

  describe('process output and waiting', () => {
    it('waitForExit: resolves at once for a process that has exited (by container, main process or exec ID)', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const id = await t.container('wait-done', {
        entry: { execPath: '/bin/sh', execArgs: '-c "exit 3"' },
        run: true,
      })
      const main = (await t.mainExited(id)).mainProcess as ProcessState
      expect(await pl.waitForExit(id)).toEqual(main)
      expect(await pl.waitForExit(main.processId)).toEqual(main)
      expect(main).toMatchObject({ status: 'exited', exitCode: 3 })
      if (caps.exec) {
        const box = await t.running('wait-done-exec')
        const p = await pl.execProcess(box, '/', '/bin/false', '')
        const exited = await t.execdExited(box, p)
        expect(await pl.waitForExit(p)).toEqual(exited)
      }
    })

    it('waitForExit: resolves once a running process exits', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const id = await t.container('wait-sleep', {
        entry: { execPath: '/bin/sleep', execArgs: '1' },
        run: true,
      })
      const sleeping = tracker(pl.waitForExit(id))
      await t.eventually(() => sleeping.done(), 'waitForExit of /bin/sleep 1 resolved')
      expect(await sleeping.value).toMatchObject({ status: 'exited', exitCode: 0, exitMsg: '' })

      const long = await t.running('wait-long')
      const waiting = tracker(pl.waitForExit(long))
      await t.advance(s.options.pollMs)
      expect(waiting.done(), 'waitForExit of a process that runs until signalled').toBe(false)
      if (caps.signal) await pl.signal(long, Signal.SIGTERM)
      else await t.stop(long)
      await t.eventually(() => waiting.done(), 'waitForExit resolved once the process was ended')
      expect(await waiting.value).toMatchObject({ status: 'exited', exitCode: 143 })
    })

    it('waitForExit: NOT_FOUND for an unknown ID; INVALID_STATE for a main process never started', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      await expectPortLayerError(pl.waitForExit('00000000-0000-4000-8000-0000000e0e17'), 'NOT_FOUND')
      const bare = await t.container('wait-bare')
      await expectPortLayerError(pl.waitForExit(bare), 'INVALID_STATE', 'a container without an entry point')
      const entry = await t.container('wait-entry', { entry: LONG_RUNNER })
      await expectPortLayerError(pl.waitForExit(entry), 'INVALID_STATE', 'a container never started')
    })

    it('waitForExit: an aborted wait rejects with CANCELLED (not-applied) and leaves the process running', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const id = await t.running('wait-abort')
      const controller = new AbortController()
      const reason = new Error('conformance: stopped waiting')
      const waiting = pl.waitForExit(id, { signal: controller.signal })
      controller.abort(reason)
      await expectCancelled(waiting, reason, 'waitForExit aborted while waiting')
      const before = new Error('conformance: aborted before the call')
      await expectCancelled(
        pl.waitForExit(id, { signal: AbortSignal.abort(before) }),
        before,
        'waitForExit with an aborted signal',
      )
      const state = await t.state(id)
      expect(state.status).toBe('running')
      expect(state.mainProcess?.status).toBe('started')
      await t.stop(id)
      expect(await pl.waitForExit(id)).toMatchObject({ status: 'exited', exitCode: 143 })
    })

    it('readOutput: every built-in program of PROGRAM_OUTPUT_CASES writes exactly its output, as a main process (read while stopped)', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const results = await Promise.all(
        cases.map(async (c) => {
          const id = await t.container(`out-main-${c.name.replace(/\W+/g, '-')}`, {
            entry: { workDir: WORK_DIR, execPath: c.execPath, execArgs: c.execArgs },
            files: filesOf(c.files),
            run: true,
          })
          const state = await t.mainExited(id)
          return [c.name, writtenBy(await readAll(pl, id), state.mainProcess?.exitCode ?? -1)] as const
        }),
      )
      expect(Object.fromEntries(results)).toEqual(Object.fromEntries(cases.map((c) => [c.name, expected(c)])))
    })

    it.skipIf(!caps.exec)(
      "readOutput: every built-in program of PROGRAM_OUTPUT_CASES writes exactly its output, as an exec'd process",
      async () => {
        const t = s.t()
        const pl = t.interaction('waitForExit', 'readOutput')
        const results = await Promise.all(
          groupsByFiles(cases).map(async (group, i) => {
            const files = group.flatMap((c) => filesOf(c.files))
            const unique = [...new Map(files.map((f) => [f.name, f])).values()]
            const box = await t.running(`out-exec-${i}`, { files: unique })
            // At most 4 at a time: a backend may keep as few as 4 exited exec'd processes.
            const results: Array<readonly [string, Written]> = []
            for (let at = 0; at < group.length; at += 4) {
              const batch = group.slice(at, at + 4).map(async (c) => {
                const p = await pl.execProcess(box, WORK_DIR, c.execPath, c.execArgs)
                const exited = await pl.waitForExit(p)
                return [c.name, writtenBy(await readAll(pl, p), exited.exitCode)] as const
              })
              results.push(...(await Promise.all(batch)))
            }
            return results
          }),
        )
        expect(Object.fromEntries(results.flat())).toEqual(
          Object.fromEntries(cases.map((c) => [c.name, expected(c)])),
        )
      },
    )

    it('readOutput: with follow it ends only once the process has exited and its output is drained', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const done = await t.container('out-follow-done', {
        entry: { execPath: '/bin/sh', execArgs: '-c "echo finished; exit 0"' },
        run: true,
      })
      await t.mainExited(done)
      expect(writtenBy(await readAll(pl, done, { follow: true }), 0).stdout).toBe('finished\n')

      const id = await t.running('out-follow')
      const reading = tracker(readAll(pl, id, { follow: true }))
      await t.advance(s.options.pollMs)
      expect(reading.done(), 'a followed read of a process still running').toBe(false)
      await t.stop(id)
      await t.eventually(() => reading.done(), 'the followed read ended once the process exited')
      expect(await reading.value).toEqual([])
    })

    it.skipIf(!caps.files)('readOutput: each stream comes in the order it was written', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const files = ['a', 'b', 'c'].map((n) => ({ dir: WORK_DIR, name: `${n}.txt`, data: text(`${n}\n`) }))
      const id = await t.container('out-order', {
        entry: { workDir: WORK_DIR, execPath: '/bin/cat', execArgs: 'a.txt x1 b.txt x2 c.txt' },
        files,
        run: true,
      })
      await t.mainExited(id)
      expect(writtenBy(await readAll(pl, id), 1)).toEqual({
        exitCode: 1,
        stdout: 'a\nb\nc\n',
        stderr: 'cat: x1: No such file or directory\ncat: x2: No such file or directory\n',
      })
    })

    it.skipIf(!caps.files)('readOutput: binary output comes back byte for byte', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const data = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + (i >> 8)) & 255)
      const id = await t.container('out-binary', {
        entry: { workDir: WORK_DIR, execPath: '/bin/cat', execArgs: 'bin.dat' },
        files: [{ dir: WORK_DIR, name: 'bin.dat', data }],
        run: true,
      })
      expect((await t.mainExited(id)).mainProcess?.exitCode).toBe(0)
      const chunks = await readAll(pl, id)
      expect(bytesOf(chunks, 'stdout')).toEqual(data)
      expect(bytesOf(chunks, 'stderr')).toEqual(new Uint8Array(0))
      for (const c of chunks) expect(c.data, 'every chunk is a Uint8Array').toBeInstanceOf(Uint8Array)
    })

    it("readOutput: a crashed container's output is readable while it is stopped, and NOT_FOUND after destroy", async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const id = await t.container('out-crash', {
        entry: { execPath: '/bin/sh', execArgs: '-c "echo crashed >&2; exit 3"' },
        run: true,
      })
      const state = await t.mainExited(id)
      expect(state.status).toBe('stopped')
      expect(writtenBy(await readAll(pl, id), state.mainProcess?.exitCode ?? -1)).toEqual({
        exitCode: 3,
        stdout: '',
        stderr: 'crashed\n',
      })
      const mainId = state.mainProcess?.processId as ID
      expect(writtenBy(await readAll(pl, mainId), 3).stderr, 'read by the main process ID').toBe('crashed\n')
      await pl.destroyContainer(id)
      await expectPortLayerError(() => readAll(pl, id), 'NOT_FOUND', 'the destroyed container')
      await expectPortLayerError(() => readAll(pl, mainId), 'NOT_FOUND', 'its main process')
    })

    it.skipIf(!caps.exec)(
      "readOutput: an exec'd process's output survives stop and start of its container, until destroy",
      async () => {
        const t = s.t()
        const pl = t.interaction('waitForExit', 'readOutput')
        const id = await t.running('out-restart')
        const p = await pl.execProcess(id, '/', '/bin/echo', 'kept across restarts')
        await t.execdExited(id, p)
        const kept = 'kept across restarts\n'
        expect(writtenBy(await readAll(pl, p), 0).stdout, 'while running').toBe(kept)
        await t.stop(id)
        expect(writtenBy(await readAll(pl, p), 0).stdout, 'while stopped').toBe(kept)
        await t.start(id)
        expect(writtenBy(await readAll(pl, p), 0).stdout, 'after starting again').toBe(kept)
        await t.stop(id)
        await pl.destroyContainer(id)
        await expectPortLayerError(() => readAll(pl, p), 'NOT_FOUND', 'after destroy')
      },
    )

    it('readOutput: NOT_FOUND for an unknown ID (from the call or the first next())', async () => {
      const t = s.t()
      await expectPortLayerError(
        () => readAll(t.interaction('waitForExit', 'readOutput'), '00000000-0000-4000-8000-0000000e0e18'),
        'NOT_FOUND',
      )
    })

    it('readOutput: an aborted read rejects with CANCELLED and leaves the process running', async () => {
      const t = s.t()
      const pl = t.interaction('waitForExit', 'readOutput')
      const id = await t.running('out-abort')
      const before = new Error('conformance: aborted before the read')
      await expectCancelled(
        () => readAll(pl, id, { signal: AbortSignal.abort(before) }),
        before,
        'readOutput with an aborted signal',
      )
      const controller = new AbortController()
      const reason = new Error('conformance: stopped following')
      const reading = readAll(pl, id, { follow: true, signal: controller.signal })
      await t.advance(s.options.pollMs)
      controller.abort(reason)
      await expectCancelled(reading, reason, 'a followed read aborted while it waited')
      const state = await t.state(id)
      expect(state.status).toBe('running')
      expect(state.mainProcess?.status).toBe('started')
    })

    it.skipIf(limit === undefined || !caps.files)(
      'readOutput: a stream keeps its last outputLimitBytes and the first chunk after a drop says how many were dropped',
      async () => {
        const t = s.t()
        const pl = t.interaction('waitForExit', 'readOutput')
        const bound = limit as number
        const data = Uint8Array.from({ length: bound * 2 + 100 }, (_, i) => i % 251)
        const id = await t.container('out-dropped', {
          entry: { workDir: WORK_DIR, execPath: '/bin/cat', execArgs: 'big.dat' },
          files: [{ dir: WORK_DIR, name: 'big.dat', data }],
          run: true,
        })
        expect((await t.mainExited(id)).mainProcess?.exitCode).toBe(0)
        const stdout = (await readAll(pl, id)).filter((c) => c.stream === 'stdout')
        const kept = bytesOf(stdout, 'stdout')
        const dropped = stdout.reduce((n, c) => n + (c.dropped ?? 0), 0)
        expect(stdout[0]?.dropped, 'the first chunk says bytes were dropped').toBeGreaterThan(0)
        expect(kept.byteLength, 'bytes kept').toBe(bound)
        expect(dropped + kept.byteLength, 'dropped + kept = written').toBe(data.byteLength)
        expect(kept).toEqual(data.slice(data.byteLength - kept.byteLength))
      },
    )
  })
}
