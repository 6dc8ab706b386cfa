import { getEventListeners } from 'node:events'
import {
  type CallOptions,
  type Capabilities,
  type ExtensionPlan,
  type Handle,
  type ID,
  PortLayerError,
  Signal,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { type Harness, IGNORES_SIGTERM, LONG_RUNNER, text } from '../harness.js'
import { describeOutcome, expectCancelled, outcomeOf } from '../outcome.js'
import type { ContainerSnapshot } from '../snapshot.js'
import type { SuiteContext } from './context.js'

// "Cancellation and deadlines": every PortLayer method takes `{ signal }` last; an aborted call
// rejects with CANCELLED (cause = the signal's reason) and follows the outcome rule — applied
// nothing ('not-applied'), or completed. The backend is reachable, so never 'unknown'.

const KNOWN_DIR = '/tmp/cancellation'
const KNOWN_FILE = 'known.txt'
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000c0de'

/** A fresh signal that is already aborted with a reason unique to the call. */
function abortedSignal(label: string): { signal: AbortSignal; reason: Error } {
  const reason = new Error(`conformance: ${label} aborted before the call`)
  const controller = new AbortController()
  controller.abort(reason)
  return { signal: controller.signal, reason }
}

interface Fixture {
  readonly t: Harness
  /** A committed `created` container with an entry point (never started). */
  readonly created: ID
  /** A running container holding KNOWN_DIR/KNOWN_FILE when files are supported. */
  readonly running: ID | undefined
}

interface AbortedCase {
  readonly op: string
  readonly needs?: ReadonlyArray<keyof Capabilities>
  readonly running?: boolean
  /** Makes the call with `options`; returns what to check afterwards, if anything. */
  readonly call: (f: Fixture, options: CallOptions) => Promise<unknown>
}

const CASES: readonly AbortedCase[] = [
  { op: 'createContainer', call: (f, o) => f.t.pl.createContainer(f.t.name('aborted'), o) },
  { op: 'getHandle', call: (f, o) => f.t.pl.getHandle(f.created, o) },
  {
    op: 'copyTo',
    needs: ['files'],
    call: async (f, o) =>
      f.t.pl.copyTo(await f.t.pl.getHandle(f.created), '/tmp', 'f.txt', 0o644, text('f'), o),
  },
  {
    op: 'setEntryPoint',
    call: async (f, o) => f.t.pl.setEntryPoint(await f.t.pl.getHandle(f.created), '/', '/bin/true', '', o),
  },
  {
    op: 'setLimits',
    call: async (f, o) => f.t.pl.setLimits(await f.t.pl.getHandle(f.created), 512, 1000, o),
  },
  {
    op: 'setRunState',
    call: async (f, o) => f.t.pl.setRunState(await f.t.pl.getHandle(f.created), 'running', o),
  },
  {
    op: 'commit',
    call: async (f, o) => {
      const { pl } = f.t
      // Both kinds of commit: one that would create and start a container, one that would start
      // an existing one. Neither may land; each handle must still commit afterwards.
      const creating = await f.t.createHandle('aborted-create', { entry: LONG_RUNNER, run: true })
      const starting = await pl.setRunState(
        await pl.setLimits(await pl.getHandle(f.created), 400, 1400),
        'running',
      )
      const first = await outcomeOf(() => pl.commit(creating, o))
      expect(await pl.listContainers(), 'containers after an aborted create commit').not.toContain(
        creating.containerId,
      )
      const second = await outcomeOf(() => pl.commit(starting, o))
      return { first, second, creating, starting }
    },
  },
  { op: 'destroyContainer', call: (f, o) => f.t.pl.destroyContainer(f.created, o) },
  { op: 'listContainers', call: (f, o) => f.t.pl.listContainers(undefined, o) },
  { op: 'getContainerConfig', call: (f, o) => f.t.pl.getContainerConfig(f.created, o) },
  { op: 'getContainerState', call: (f, o) => f.t.pl.getContainerState(f.created, o) },
  {
    op: 'copyFrom',
    needs: ['files'],
    running: true,
    call: (f, o) => f.t.pl.copyFrom(f.running as ID, KNOWN_DIR, KNOWN_FILE, o),
  },
  {
    op: 'execProcess',
    needs: ['exec'],
    running: true,
    call: (f, o) => f.t.pl.execProcess(f.running as ID, '/', '/bin/sleep', '3600', o),
  },
  {
    op: 'signal',
    needs: ['signal'],
    running: true,
    call: (f, o) => f.t.pl.signal(f.running as ID, Signal.SIGTERM, o),
  },
]

/** Malformed `options` values: each must fail the call with INVALID_ARGUMENT and change nothing. */
function badOptions(): Array<[label: string, value: unknown]> {
  return [
    ['null', null],
    ['a number', 42],
    ['a string', 'signal'],
    ['signal: a plain object', { signal: { aborted: true, reason: 'x', addEventListener() {} } }],
    ['signal: a string', { signal: 'abort' }],
    ['signal: null', { signal: null }],
    ['signal: an AbortController', { signal: new AbortController() }],
    [
      'a getter that throws',
      Object.defineProperty({}, 'signal', {
        enumerable: true,
        get() {
          throw new Error('conformance: hostile getter')
        },
      }),
    ],
    [
      'a proxy that throws',
      new Proxy(
        {},
        {
          get() {
            throw new Error('conformance: hostile proxy')
          },
        },
      ),
    ],
  ]
}

/** Cancellation: the `{ signal }` option of every method, and truthful outcomes when aborted. */
export function cancellationTests(s: SuiteContext): void {
  const { caps } = s

  describe('cancellation', () => {
    for (const c of CASES) {
      const missing = (c.needs ?? []).filter((cap) => !caps[cap])
      it.skipIf(missing.length > 0)(
        `cancellation: ${c.op} with an already-aborted signal rejects with CANCELLED (cause = reason, outcome not-applied) and changes nothing`,
        async () => {
          const t = s.t()
          const f = await fixture(t, c.running === true)
          const before = await observe(t, f)
          const { signal, reason } = abortedSignal(c.op)
          if (c.op === 'commit') {
            const r = (await c.call(f, { signal })) as {
              first: Awaited<ReturnType<typeof outcomeOf>>
              second: Awaited<ReturnType<typeof outcomeOf>>
              creating: Handle
              starting: Handle
            }
            for (const [what, outcome] of [
              ['commit of a create-handle', r.first],
              ['commit of a start', r.second],
            ] as const) {
              await expectCancelled(() => settle(outcome), reason, what)
            }
            expect(await observe(t, f), 'containers after the aborted commits').toEqual(before)
            // Nothing moved: both handles are still current and commit now.
            expect(await t.pl.commit(r.creating)).toBe(r.creating.containerId)
            expect(await t.pl.commit(r.starting)).toBe(f.created)
            expect((await t.state(f.created)).status).toBe('running')
            return
          }
          const e = await expectCancelled(() => c.call(f, { signal }), reason, c.op)
          expect(e.message.length).toBeLessThanOrEqual(1000)
          expect(await observe(t, f), `containers after the aborted ${c.op}`).toEqual(before)
        },
      )
    }

    it("cancellation: the signal's default reason (an AbortError) is the cause", async () => {
      const t = s.t()
      const id = await t.container('default-reason')
      const signal = AbortSignal.abort()
      await expectCancelled(() => t.pl.getContainerState(id, { signal }), signal.reason, 'getContainerState')
      await expectCancelled(() => t.pl.listContainers(undefined, { signal }), signal.reason, 'listContainers')
    })

    it('cancellation: malformed options (not an object, signal not an AbortSignal) fail with INVALID_ARGUMENT and change nothing', async () => {
      const t = s.t()
      const { pl } = t
      const id = await t.container('bad-options', { entry: LONG_RUNNER })
      const h = await pl.getHandle(id)
      const startHandle = await pl.setRunState(h, 'running')
      const before = await t.snapshot(id)
      const listed = await pl.listContainers()
      type Untyped = (...args: unknown[]) => Promise<unknown>
      const calls: Array<[string, (options: unknown) => Promise<unknown>]> = [
        ['createContainer', (o) => (pl.createContainer as Untyped)(t.name('bad-options'), o)],
        ['getContainerState', (o) => (pl.getContainerState as Untyped)(id, o)],
        ['listContainers', (o) => (pl.listContainers as Untyped)(undefined, o)],
        ['setLimits', (o) => (pl.setLimits as Untyped)(h, 512, 1000, o)],
        ['commit', (o) => (pl.commit as Untyped)(startHandle, o)],
        ['destroyContainer', (o) => (pl.destroyContainer as Untyped)(id, o)],
      ]
      const wrong: string[] = []
      for (const [label, value] of badOptions()) {
        for (const [op, call] of calls) {
          const outcome = await outcomeOf(() => call(value))
          if (outcome.kind !== 'rejected' || !PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT')) {
            wrong.push(`${op}(…, ${label}): ${describeOutcome(outcome)}`)
          } else if (outcome.error.message.length > 1000) {
            wrong.push(`${op}(…, ${label}): message of ${outcome.error.message.length} characters`)
          }
        }
      }
      expect(wrong, 'calls with malformed options that did not fail with INVALID_ARGUMENT').toEqual([])
      expect(await t.snapshot(id)).toEqual(before)
      expect(new Set(await pl.listContainers())).toEqual(new Set(listed))
      // undefined, {} and an unaborted signal are all fine.
      const live = new AbortController().signal
      for (const options of [undefined, {}, { signal: undefined }, { signal: live }]) {
        expect(await pl.getContainerState(id, options as CallOptions)).toEqual(before.state)
      }
    })

    for (const shape of ['create and start', 'start'] as const) {
      it(`cancellation: a commit that would ${shape} a container, aborted at any moment, either lands whole or applies nothing (never half)`, async () => {
        const t = s.t()
        const { pl } = t
        const moments: Array<[string, (() => Promise<void>) | null]> = [
          ['in the same tick', null],
          ['after a microtask', () => Promise.resolve()],
          ['after a macrotask', () => new Promise((resolve) => setImmediate(resolve))],
          ['after one poll of backend time', () => t.advance(t.options.pollMs)],
        ]
        const seen: string[] = []
        for (const [when, wait] of moments) {
          let handle: Handle
          let before: ContainerSnapshot | undefined
          if (shape === 'create and start') {
            handle = await t.createHandle('abort-midway', {
              entry: LONG_RUNNER,
              limits: [400, 1400],
              run: true,
            })
          } else {
            const id = await t.container('abort-midway', { entry: LONG_RUNNER })
            before = await t.snapshot(id)
            handle = await pl.setRunState(await pl.setLimits(await pl.getHandle(id), 400, 1400), 'running')
          }
          const id = handle.containerId
          const controller = new AbortController()
          const reason = new Error(`conformance: aborted ${when}`)
          const committing = outcomeOf(() => pl.commit(handle, { signal: controller.signal }))
          if (wait !== null) await wait()
          controller.abort(reason)
          const outcome = await committing
          if (outcome.kind === 'resolved') {
            seen.push(`${when}: committed`)
            expect(outcome.value, `${when}: the commit resolved with the container ID`).toBe(id)
            const state = await t.state(id)
            expect(state.status, `${when}: a resolved start commit left the container running`).toBe(
              'running',
            )
            expect(state.mainProcess?.status).toBe('started')
            expect((await t.config(id)).limits).toEqual({ memoryMb: 400, cpuMhz: 1400 })
            continue
          }
          seen.push(`${when}: cancelled`)
          await expectCancelled(() => settle(outcome), reason, `commit aborted ${when}`)
          if (before === undefined) {
            expect(
              await pl.listContainers(),
              `${when}: the cancelled create commit left no container`,
            ).not.toContain(id)
            await expectNotFound(t, id)
          } else {
            expect(await t.snapshot(id), `${when}: the container after the cancelled commit`).toEqual(before)
          }
          // Nothing of it applied, so the same handle is still current and commits whole.
          expect(await pl.commit(handle)).toBe(id)
          expect((await t.state(id)).status).toBe('running')
        }
        expect(seen).toHaveLength(moments.length)
      })
    }

    it.skipIf(!caps.files)(
      'cancellation: a stop commit aborted during its grace period settles promptly and truthfully: stopped, or CANCELLED with the container as it was',
      async () => {
        const t = s.t()
        const { pl } = t
        const { pollMs } = t.options
        const file = { dir: '/usr/local/bin', name: 'ignores-term', data: IGNORES_SIGTERM, perms: 0o755 }
        const id = await t.running('abort-grace', {
          entry: { execPath: '/usr/local/bin/ignores-term' },
          files: [file],
        })
        try {
          const before = await t.snapshot(id)
          const controller = new AbortController()
          const reason = new Error('conformance: stop aborted in its grace period')
          const handle = await pl.setRunState(await pl.getHandle(id), 'stopped')
          let settled = false
          const stopping = outcomeOf(() => pl.commit(handle, { signal: controller.signal })).finally(() => {
            settled = true
          })
          // Into the grace period: the process ignores SIGTERM, so the commit is still waiting.
          await t.advance(pollMs)
          await t.advance(pollMs)
          expect(settled, 'the stop commit of a process that ignores SIGTERM waits its grace period').toBe(
            false,
          )
          controller.abort(reason)
          // Promptly: within a second of backend time, far less than a grace period.
          let advanced = 0
          const startedAt = Date.now()
          while (!settled && advanced < 1000 && Date.now() - startedAt < t.options.waitMs) {
            await t.advance(pollMs)
            advanced += pollMs
          }
          expect(settled, `the aborted stop commit settled within ${advanced} ms of backend time`).toBe(true)
          const outcome = await stopping
          if (outcome.kind === 'resolved') {
            const state = await t.state(id)
            expect(state.status, 'a stop commit that resolved left the container stopped').toBe('stopped')
            expect(state.mainProcess?.status).toBe('exited')
          } else {
            await expectCancelled(() => settle(outcome), reason, 'the aborted stop commit')
            expect(await t.snapshot(id), 'the container after a cancelled stop').toEqual(before)
          }
        } finally {
          if ((await t.state(id).catch(() => undefined))?.status === 'running') {
            await pl.signal(id, Signal.SIGKILL).catch(() => {})
          }
        }
      },
    )

    it.skipIf(!caps.extensions)(
      "cancellation: a commit aborted while an extension's prepare is pending applies nothing (CANCELLED, prepare rolled back) or lands whole",
      async () => {
        const t = s.t()
        const { pl } = t
        const ext = t.extensible()
        const namespace = t.namespace('slow')
        const journal: string[] = []
        let release: () => void = () => {}
        let preparing: () => void = () => {}
        const prepareStarted = new Promise<void>((resolve) => {
          preparing = resolve
        })
        t.register({
          namespace,
          prepare: async (c): Promise<ExtensionPlan> => {
            preparing()
            await new Promise<void>((resolve) => {
              release = resolve
            })
            return {
              applied: c.pending,
              commit: () => journal.push('commit'),
              rollback: () => journal.push('rollback'),
            }
          },
        })
        const id = await t.container('abort-prepare', { limits: [300, 1100] })
        const before = await t.snapshot(id)
        const handle = t.withSlot(await pl.setLimits(await pl.getHandle(id), 400, 1400), namespace, { n: 1 })
        const controller = new AbortController()
        const reason = new Error('conformance: aborted during prepare')
        const committing = outcomeOf(() => pl.commit(handle, { signal: controller.signal }))
        await prepareStarted
        controller.abort(reason)
        release()
        const outcome = await committing
        await t.eventually(() => journal.length > 0, 'the extension was told commit or rollback')
        if (outcome.kind === 'resolved') {
          expect(journal).toEqual(['commit'])
          expect((await t.config(id)).limits).toEqual({ memoryMb: 400, cpuMhz: 1400 })
          expect(await ext.getExtensionState(id, namespace)).toEqual({ n: 1 })
        } else {
          await expectCancelled(() => settle(outcome), reason, 'commit aborted during prepare')
          expect(journal).toEqual(['rollback'])
          expect(await t.snapshot(id)).toEqual(before)
          expect(await ext.getExtensionState(id, namespace)).toBeUndefined()
        }
      },
    )

    it('cancellation: calls remove their abort listeners when they end (many calls on one long-lived signal)', async () => {
      const t = s.t()
      const { pl } = t
      const controller = new AbortController()
      const { signal } = controller
      const o = { signal }
      let created = await pl.createContainer(t.name('listeners'), o)
      created = await pl.setEntryPoint(created, '/', LONG_RUNNER.execPath, LONG_RUNNER.execArgs ?? '', o)
      const id = await pl.commit(created, o)
      for (let i = 0; i < 10; i++) {
        await pl.getHandle(id, o)
        await pl.getContainerConfig(id, o)
        await pl.getContainerState(id, o)
        await pl.listContainers(undefined, o)
        await outcomeOf(() => pl.getContainerState(UNKNOWN_ID, o))
        await pl.setLimits(await pl.getHandle(id, o), 300 + i, 1100, o)
      }
      await Promise.all(Array.from({ length: 20 }, () => pl.getContainerState(id, o)))
      await pl.commit(await pl.setLimits(await pl.getHandle(id, o), 500, 1500, o), o)
      await pl.commit(await pl.setRunState(await pl.getHandle(id, o), 'running', o), o)
      await pl.commit(await pl.setRunState(await pl.getHandle(id, o), 'stopped', o), o)
      await pl.destroyContainer(id, o)
      expect(
        getEventListeners(signal, 'abort'),
        'abort listeners left on the signal after every call ended',
      ).toHaveLength(0)
    })
  })
}

/** Replays a recorded outcome, so the outcome helpers can check it. */
async function settle(outcome: Awaited<ReturnType<typeof outcomeOf>>): Promise<unknown> {
  if (outcome.kind === 'resolved') return outcome.value
  throw outcome.error
}

async function expectNotFound(t: Harness, id: ID): Promise<void> {
  const outcome = await outcomeOf(() => t.pl.getContainerState(id))
  expect(
    outcome.kind !== 'resolved' && PortLayerError.isInstance(outcome.error, 'NOT_FOUND'),
    `getContainerState(${id}) ${describeOutcome(outcome)}`,
  ).toBe(true)
}

async function fixture(t: Harness, running: boolean): Promise<Fixture> {
  const created = await t.container('cancellation', { entry: LONG_RUNNER })
  if (!running) return { t, created, running: undefined }
  const files = t.caps.files ? [{ dir: KNOWN_DIR, name: KNOWN_FILE, data: text('known') }] : []
  return { t, created, running: await t.running('cancellation-running', { files }) }
}

/** What an aborted call must leave as it was: the list and every fixture container. */
async function observe(t: Harness, f: Fixture): Promise<unknown> {
  const ids = [f.created, ...(f.running === undefined ? [] : [f.running])]
  return {
    listed: new Set(await t.pl.listContainers()),
    containers: await Promise.all(ids.map((id) => t.snapshot(id))),
  }
}
