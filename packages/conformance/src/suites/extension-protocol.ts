import {
  type CommitExtension,
  type ExtensionContext,
  type ExtensionPlan,
  type ID,
  PortLayerError,
  UnavailableError,
} from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { LONG_RUNNER } from '../harness.js'
import { describeOutcome, expectNotApplied, expectPortLayerError, outcomeOf } from '../outcome.js'
import type { SuiteContext } from './context.js'

/** How a journaled extension behaves in `prepare`. */
interface Behaviour {
  /** The applied value (default `{ n }` where n counts this extension's prepares). */
  applied?: (context: ExtensionContext) => unknown
  /** Thrown by prepare (synchronously, or as a rejection when `async`). */
  fail?: () => unknown
  /** Prepare returns a promise. */
  async?: boolean
  /** Runs inside prepare, before it answers. */
  during?: () => void | Promise<void>
  /** A release that throws this. */
  releaseFails?: () => unknown
}

/**
 * An extension that writes what happens to it into `log`: `prepare ns`, `commit ns`,
 * `rollback ns`, `release ns`. Namespaces in the log are the label, not the random namespace.
 */
function journaled(
  namespace: string,
  label: string,
  log: string[],
  behaviour: Behaviour = {},
): CommitExtension & { released: unknown[] } {
  let n = 0
  const released: unknown[] = []
  const prepare = (context: ExtensionContext): ExtensionPlan => {
    log.push(`prepare ${label}`)
    n++
    if (behaviour.fail) throw behaviour.fail()
    return {
      applied: behaviour.applied ? behaviour.applied(context) : { n },
      commit: () => {
        log.push(`commit ${label}`)
      },
      rollback: () => {
        log.push(`rollback ${label}`)
      },
    }
  }
  return {
    namespace,
    released,
    prepare: behaviour.async
      ? async (context) => {
          await behaviour.during?.()
          return prepare(context)
        }
      : (context) => {
          void behaviour.during?.()
          return prepare(context)
        },
    release: (context) => {
      log.push(`release ${label}`)
      released.push(context.applied)
      if (behaviour.releaseFails) throw behaviour.releaseFails()
    },
  }
}

/** Counts of `commit x` / `rollback x` entries per label: each prepared plan must have exactly one. */
function settlements(
  log: readonly string[],
): Record<string, { prepare: number; commit: number; rollback: number }> {
  const out: Record<string, { prepare: number; commit: number; rollback: number }> = {}
  for (const line of log) {
    const [what, label] = line.split(' ') as [string, string]
    if (what === 'release') continue
    const counts = out[label] ?? { prepare: 0, commit: 0, rollback: 0 }
    out[label] = counts
    const tally = counts as Record<string, number>
    tally[what] = (tally[what] ?? 0) + 1
  }
  return out
}

/** A value whose every trap throws, as a hostile extension might throw or return. */
function throwingProxy(): object {
  const trap = () => {
    throw new Error('trap')
  }
  return new Proxy(
    {},
    { get: trap, has: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap },
  )
}

/**
 * The commit-extension protocol, rule by rule (capability `extensions`): prepare in registration
 * order, exactly one of commit/rollback per plan, rollback when a later step fails, plain-JSON
 * applied values, unknown slots, release on destroy and its failures, unregistering during a
 * commit, extensions that throw what is not an Error.
 */
export function extensionProtocolTests(s: SuiteContext): void {
  describe.skipIf(!s.caps.extensions)('extension protocol', () => {
    it('protocol: prepare runs in registration order, not slot order or name order', async () => {
      const t = s.t()
      const log: string[] = []
      // Registered z, m, a: sorted names and the slot order below would both give a, m, z.
      const z = t.namespace('z-last')
      const m = t.namespace('m-middle')
      const a = t.namespace('a-first')
      t.register(journaled(z, 'z', log))
      t.register(journaled(m, 'm', log))
      t.register(journaled(a, 'a', log))
      let h = await t.createHandle('ext-order')
      h = t.withSlot(h, a, 1)
      h = t.withSlot(h, m, 1)
      h = t.withSlot(h, z, 1)
      await t.pl.commit(h)
      expect(log).toEqual(['prepare z', 'prepare m', 'prepare a', 'commit z', 'commit m', 'commit a'])
    })

    it('protocol: an extension registered again goes to the end of the order', async () => {
      const t = s.t()
      const log: string[] = []
      const first = t.namespace('first')
      const second = t.namespace('second')
      const off = t.register(journaled(first, 'first', log))
      t.register(journaled(second, 'second', log))
      off()
      t.register(journaled(first, 'first', log))
      await t.pl.commit(t.withSlot(t.withSlot(await t.createHandle('ext-reorder'), first, 1), second, 1))
      expect(log.filter((l) => l.startsWith('prepare'))).toEqual(['prepare second', 'prepare first'])
    })

    it('protocol: each plan of a landed commit is told commit exactly once, never rollback', async () => {
      const t = s.t()
      const log: string[] = []
      const a = t.namespace('once-a')
      const b = t.namespace('once-b')
      t.register(journaled(a, 'a', log))
      t.register(journaled(b, 'b', log, { async: true }))
      const id = await t.pl.commit(t.withSlot(t.withSlot(await t.createHandle('ext-once'), a, 1), b, 1))
      await t.update(id, async (h) => t.withSlot(await t.pl.setLimits(h, 300, 1000), b, 2))
      // Give any stray second notification time to show up.
      await t.advance(s.options.pollMs)
      expect(settlements(log)).toEqual({
        a: { prepare: 1, commit: 1, rollback: 0 },
        b: { prepare: 2, commit: 2, rollback: 0 },
      })
      expect(await t.extensible().getExtensionState(id, b)).toEqual({ n: 2 })
    })

    it('protocol: a later prepare that fails rolls back every earlier plan once; later ones are not prepared', async () => {
      const t = s.t()
      const log: string[] = []
      const ns = [t.namespace('p1'), t.namespace('p2'), t.namespace('p3'), t.namespace('p4')] as const
      t.register(journaled(ns[0], 'p1', log))
      t.register(journaled(ns[1], 'p2', log, { async: true }))
      t.register(journaled(ns[2], 'p3', log, { fail: () => new UnavailableError('p3 is down') }))
      t.register(journaled(ns[3], 'p4', log))
      const id = await t.container('ext-later-fails', { limits: [300, 1100] })
      const before = await t.snapshot(id)
      let h = await t.pl.setLimits(await t.pl.getHandle(id), 400, 1200)
      for (const n of ns) h = t.withSlot(h, n, 1)
      const e = await expectPortLayerError(t.pl.commit(h), 'UNAVAILABLE', 'the code the extension threw')
      expectNotApplied(e, 'a commit refused by an extension')
      expect(settlements(log)).toEqual({
        p1: { prepare: 1, commit: 0, rollback: 1 },
        p2: { prepare: 1, commit: 0, rollback: 1 },
        p3: { prepare: 1, commit: 0, rollback: 0 },
      })
      expect(log.slice(-2)).toEqual(['rollback p2', 'rollback p1'])
      expect(await t.snapshot(id)).toEqual(before)
      for (const n of ns) expect(await t.extensible().getExtensionState(id, n)).toBeUndefined()
    })

    it('protocol: a commit that fails after its prepares (CONFLICT) rolls each plan back exactly once', async () => {
      const t = s.t()
      const log: string[] = []
      const ns = t.namespace('late-conflict')
      let id: ID | undefined
      let interfere = false
      t.register(
        journaled(ns, 'x', log, {
          async: true,
          during: async () => {
            // Another client's commit lands while this commit's extension prepares.
            if (interfere && id !== undefined) {
              interfere = false
              await t.update(id, (h) => t.pl.setLimits(h, 333, 1333))
            }
          },
        }),
      )
      id = await t.container('ext-late-conflict')
      interfere = true
      const h = t.withSlot(await t.pl.setLimits(await t.pl.getHandle(id), 444, 1444), ns, 1)
      await expectPortLayerError(t.pl.commit(h), 'CONFLICT', 'a commit overtaken during prepare')
      await t.advance(s.options.pollMs)
      expect(settlements(log)).toEqual({ x: { prepare: 1, commit: 0, rollback: 1 } })
      expect((await t.config(id)).limits).toEqual({ memoryMb: 333, cpuMhz: 1333 })
      expect(await t.extensible().getExtensionState(id, ns)).toBeUndefined()
    })

    it('protocol: an applied Date is refused with INVALID_ARGUMENT, never stored as text', async () => {
      const t = s.t()
      const log: string[] = []
      const ns = t.namespace('date')
      t.register(journaled(ns, 'date', log, { applied: () => ({ at: new Date(0) }) }))
      const id = await t.container('ext-date', { limits: [300, 1100] })
      const before = await t.snapshot(id)
      const h = t.withSlot(await t.pl.setLimits(await t.pl.getHandle(id), 310, 1110), ns, 1)
      await expectPortLayerError(t.pl.commit(h), 'INVALID_ARGUMENT', 'an applied Date')
      expect(settlements(log)).toEqual({ date: { prepare: 1, commit: 0, rollback: 1 } })
      expect(await t.snapshot(id)).toEqual(before)
      expect(await t.extensible().getExtensionState(id, ns)).toBeUndefined()
    })

    it('protocol: applied values that are not plain JSON are refused and nothing is created', async () => {
      const t = s.t()
      class Point {
        x = 1
      }
      const cyclic: Record<string, unknown> = { a: 1 }
      cyclic.self = cyclic
      const values: Array<[string, () => unknown]> = [
        ['a Map', () => new Map([['k', 1]])],
        ['a Set', () => new Set([1])],
        ['a class instance', () => new Point()],
        ['a function', () => () => 1],
        ['undefined inside an array', () => [1, undefined, 2]],
        ['undefined as a property', () => ({ a: undefined })],
        ['a cycle', () => cyclic],
        ['NaN', () => Number.NaN],
        ['Infinity inside an object', () => ({ n: Number.POSITIVE_INFINITY })],
        ['a bigint', () => 1n],
        ['a symbol', () => Symbol('s')],
        ['a Uint8Array', () => new Uint8Array(2)],
        ['a throwing proxy', throwingProxy],
      ]
      const wrong: string[] = []
      for (const [label, value] of values) {
        const log: string[] = []
        const ns = t.namespace('json')
        const off = t.register(journaled(ns, 'j', log, { applied: value }))
        const h = t.withSlot(await t.createHandle('ext-json'), ns, 1)
        const outcome = await outcomeOf(() => t.pl.commit(h))
        off()
        if (outcome.kind === 'resolved' || !PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT')) {
          wrong.push(`${label}: ${describeOutcome(outcome)}`)
          continue
        }
        const told = settlements(log).j
        if (told?.commit !== 0 || told.rollback !== 1)
          wrong.push(`${label}: plan told ${JSON.stringify(told)}`)
        if ((await t.pl.listContainers()).includes(h.containerId))
          wrong.push(`${label}: container was created`)
      }
      expect(wrong).toEqual([])
    })

    it('protocol: the applied value is stored as a copy, visible through getExtensionState', async () => {
      const t = s.t()
      const ns = t.namespace('copy')
      const value = { list: [1, 'two', null, true, { deep: -0 }], text: 'ünïcödé' }
      t.register({ namespace: ns, prepare: () => ({ applied: value }) })
      const id = await t.pl.commit(t.withSlot(await t.createHandle('ext-copy'), ns, 1))
      value.list.push('later')
      value.text = 'changed'
      const state = await t.extensible().getExtensionState(id, ns)
      expect(state).toEqual({ list: [1, 'two', null, true, { deep: 0 }], text: 'ünïcödé' })
      // A commit without the slot leaves it as it was.
      await t.update(id, (h) => t.pl.setLimits(h, 256, 1000))
      expect(await t.extensible().getExtensionState(id, ns)).toEqual(state)
    })

    it('protocol: a plan applying undefined removes the slot value, and destroy then releases nothing for it', async () => {
      const t = s.t()
      const log: string[] = []
      const ns = t.namespace('removed')
      t.register(
        journaled(ns, 'r', log, {
          applied: (c) => ((c.pending as { keep: boolean }).keep ? { kept: true } : undefined),
        }),
      )
      const id = await t.pl.commit(t.withSlot(await t.createHandle('ext-removed'), ns, { keep: true }))
      expect(await t.extensible().getExtensionState(id, ns)).toEqual({ kept: true })
      await t.update(id, async (h) => t.withSlot(h, ns, { keep: false }))
      expect(await t.extensible().getExtensionState(id, ns)).toBeUndefined()
      await t.pl.destroyContainer(id)
      expect(log).not.toContain('release r')
    })

    it('protocol: a stale handle with an unknown slot is INVALID_ARGUMENT, not CONFLICT', async () => {
      const t = s.t()
      const id = await t.container('ext-stale-unknown')
      const stale = t.withSlot(await t.pl.getHandle(id), t.namespace('never-registered'), 1)
      await t.update(id, (h) => t.pl.setLimits(h, 320, 1120))
      const e = await expectPortLayerError(t.pl.commit(stale), 'INVALID_ARGUMENT', 'stale + unknown slot')
      expectNotApplied(e)
      expect((await t.config(id)).limits).toEqual({ memoryMb: 320, cpuMhz: 1120 })
    })

    it('protocol: an unknown slot beside registered ones refuses the commit before any prepare', async () => {
      const t = s.t()
      const log: string[] = []
      const known = t.namespace('known')
      t.register(journaled(known, 'k', log))
      const create = t.withSlot(
        t.withSlot(await t.createHandle('ext-unknown-create'), known, 1),
        t.namespace('unknown'),
        1,
      )
      await expectPortLayerError(t.pl.commit(create), 'INVALID_ARGUMENT', 'unknown slot on create')
      expect(await t.pl.listContainers()).not.toContain(create.containerId)
      const id = await t.container('ext-unknown-update', { limits: [300, 1100] })
      const before = await t.snapshot(id)
      const h = t.withSlot(
        t.withSlot(await t.pl.setLimits(await t.pl.getHandle(id), 301, 1101), known, 1),
        t.namespace('unknown'),
        1,
      )
      await expectPortLayerError(t.pl.commit(h), 'INVALID_ARGUMENT', 'unknown slot on update')
      expect(log).toEqual([])
      expect(await t.snapshot(id)).toEqual(before)
    })

    it('protocol: an extension that throws a non-Error value refuses the commit with INVALID_ARGUMENT', async () => {
      const t = s.t()
      const secret = { password: 'hunter2', toString: () => 'password=hunter2' }
      const thrown: Array<[string, () => unknown]> = [
        ['a string', () => 'plain text'],
        ['null', () => null],
        ['undefined', () => undefined],
        ['a symbol', () => Symbol('odd')],
        ['a number', () => 42],
        ['an object with a secret toString', () => secret],
        ['a throwing proxy', throwingProxy],
      ]
      const id = await t.container('ext-non-error')
      const wrong: string[] = []
      for (const [label, value] of thrown) {
        for (const async of [false, true]) {
          const log: string[] = []
          const before = t.namespace('before')
          const ns = t.namespace('thrower')
          const offBefore = t.register(journaled(before, 'before', log))
          const off = t.register(journaled(ns, 'thrower', log, { fail: value, async }))
          const h = t.withSlot(t.withSlot(await t.pl.getHandle(id), before, 1), ns, 1)
          const outcome = await outcomeOf(() => t.pl.commit(h))
          off()
          offBefore()
          const what = `${label}${async ? ' (async)' : ''}`
          if (outcome.kind === 'resolved' || !PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT')) {
            wrong.push(`${what}: ${describeOutcome(outcome)}`)
            continue
          }
          const e = outcome.error
          if (e.message.includes('hunter2') || JSON.stringify(e.toJSON()).includes('hunter2'))
            wrong.push(`${what}: the message shows the object's text`)
          if (e.message.length > 1000) wrong.push(`${what}: message of ${e.message.length} characters`)
          if (!log.includes('rollback before')) wrong.push(`${what}: the earlier plan was not rolled back`)
        }
      }
      expect(wrong).toEqual([])
    })

    it('protocol: an extension error keeps its code but says not-applied, whatever it claimed', async () => {
      const t = s.t()
      const ns = t.namespace('claims-unknown')
      t.register({
        namespace: ns,
        prepare: () => {
          throw new UnavailableError('the IPAM service did not answer', { outcome: 'unknown' })
        },
      })
      const id = await t.container('ext-claims')
      const e = await expectPortLayerError(
        t.pl.commit(t.withSlot(await t.pl.getHandle(id), ns, 1)),
        'UNAVAILABLE',
        'the extension code kept',
      )
      expectNotApplied(e, 'nothing of the commit was applied')
    })

    it('protocol: prepare answers that are not plans are INVALID_ARGUMENT; a rollback they offer is called', async () => {
      const t = s.t()
      let rolledBack = 0
      const rollback = () => {
        rolledBack++
      }
      const answers: Array<[string, unknown, number]> = [
        ['undefined', undefined, 0],
        ['a number', 7, 0],
        ['a plan without applied', { rollback }, 1],
        ['a plan whose commit is a string', { applied: 1, commit: 'yes', rollback }, 1],
        ['a plan whose rollback is a number', { applied: 1, rollback: 5 }, 0],
        ['a throwing proxy', throwingProxy(), 0],
      ]
      const id = await t.container('ext-not-plans')
      const wrong: string[] = []
      for (const [label, answer, rollbacks] of answers) {
        const ns = t.namespace('answers')
        const off = t.register({ namespace: ns, prepare: () => answer as ExtensionPlan })
        const was = rolledBack
        const outcome = await outcomeOf(() =>
          t.pl.getHandle(id).then((h) => t.pl.commit(t.withSlot(h, ns, 1))),
        )
        off()
        if (outcome.kind === 'resolved' || !PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT'))
          wrong.push(`${label}: ${describeOutcome(outcome)}`)
        if (rolledBack - was !== rollbacks) wrong.push(`${label}: rollback called ${rolledBack - was} times`)
      }
      expect(wrong).toEqual([])
    })

    it('protocol: registerExtension refuses a missing prepare, a release that is not a function, and non-objects', async () => {
      const t = s.t()
      const ext = t.extensible()
      const ns = t.namespace('shape')
      const bad: Array<[string, unknown]> = [
        ['null', null],
        ['a string', 'net'],
        ['a function', () => 1],
        ['no prepare', { namespace: ns }],
        ['prepare is a string', { namespace: ns, prepare: 'prepare' }],
        ['release is a string', { namespace: ns, prepare: () => ({ applied: 1 }), release: 'later' }],
        ['release is null', { namespace: ns, prepare: () => ({ applied: 1 }), release: null }],
        ['a throwing proxy', throwingProxy()],
      ]
      const wrong: string[] = []
      for (const [label, value] of bad) {
        const outcome = await outcomeOf(() => ext.registerExtension(value as CommitExtension))
        if (outcome.kind === 'resolved') {
          if (typeof outcome.value === 'function') (outcome.value as () => void)()
          wrong.push(`${label}: registered`)
        } else if (!PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT')) {
          wrong.push(`${label}: ${describeOutcome(outcome)}`)
        }
      }
      expect(wrong).toEqual([])
      // None of them took the namespace.
      t.register({ namespace: ns, prepare: () => ({ applied: 1 }) })
    })

    it('protocol: an extension unregistered by its own prepare still has its plan committed once', async () => {
      const t = s.t()
      const log: string[] = []
      const ns = t.namespace('leaves')
      let off: () => void = () => {}
      off = t.register(journaled(ns, 'leaves', log, { async: true, during: () => off() }))
      const id = await t.pl.commit(t.withSlot(await t.createHandle('ext-unregister-self'), ns, 1))
      await t.advance(s.options.pollMs)
      expect(settlements(log)).toEqual({ leaves: { prepare: 1, commit: 1, rollback: 0 } })
      expect(await t.extensible().getExtensionState(id, ns)).toEqual({ n: 1 })
      // Later commits with the slot find no extension.
      await expectPortLayerError(
        t.pl.commit(t.withSlot(await t.pl.getHandle(id), ns, 2)),
        'INVALID_ARGUMENT',
        'the slot after unregistering',
      )
    })

    it('protocol: an extension unregistered while an earlier one prepares is still prepared and settled', async () => {
      const t = s.t()
      const log: string[] = []
      const first = t.namespace('first')
      const second = t.namespace('second')
      let offSecond: () => void = () => {}
      t.register(journaled(first, 'first', log, { async: true, during: () => offSecond() }))
      offSecond = t.register(journaled(second, 'second', log))
      const id = await t.pl.commit(
        t.withSlot(t.withSlot(await t.createHandle('ext-unregister-other'), first, 1), second, 1),
      )
      expect(settlements(log)).toEqual({
        first: { prepare: 1, commit: 1, rollback: 0 },
        second: { prepare: 1, commit: 1, rollback: 0 },
      })
      expect(await t.extensible().getExtensionState(id, second)).toEqual({ n: 1 })
    })

    it('protocol: an unregistered extension is not asked to release; its value stays readable until destroy', async () => {
      const t = s.t()
      const log: string[] = []
      const ns = t.namespace('gone-before-destroy')
      const off = t.register(journaled(ns, 'g', log))
      const id = await t.pl.commit(t.withSlot(await t.createHandle('ext-unregistered-destroy'), ns, 1))
      off()
      expect(await t.extensible().getExtensionState(id, ns)).toEqual({ n: 1 })
      await t.pl.destroyContainer(id)
      expect(log).toEqual(['prepare g', 'commit g'])
    })

    it('protocol: release runs once per extension with a value; one that throws never fails the destroy', async () => {
      const t = s.t()
      const log: string[] = []
      const failing = t.namespace('release-fails')
      const fine = t.namespace('release-fine')
      const failer = journaled(failing, 'failing', log, {
        releaseFails: () => new Error('lease server down'),
      })
      const keeper = journaled(fine, 'fine', log)
      t.register(failer)
      t.register(keeper)
      const id = await t.pl.commit(
        t.withSlot(t.withSlot(await t.createHandle('ext-release-fails'), failing, 1), fine, 1),
      )
      const reportedBefore = t.backgroundErrors()?.length ?? 0
      await t.pl.destroyContainer(id)
      const reported = t.backgroundErrors()
      if (reported !== undefined) {
        // Never failing the destroy is not the same as hiding it: the failure is reported.
        const fresh = reported.slice(reportedBefore)
        expect(
          fresh.some((e) => mentions(e, 'lease server down')),
          'the failing release is reported',
        ).toBe(true)
      }
      expect(log.filter((l) => l.startsWith('release')).sort()).toEqual(['release failing', 'release fine'])
      expect(failer.released).toEqual([{ n: 1 }])
      expect(keeper.released).toEqual([{ n: 1 }])
      expect(await t.pl.listContainers()).not.toContain(id)
      await expectPortLayerError(t.extensible().getExtensionState(id, fine), 'NOT_FOUND')
    })

    it('protocol: a release that throws a non-Error or rejects does not fail the destroy', async () => {
      const t = s.t()
      const values: Array<[string, () => unknown]> = [
        ['a string', () => 'nope'],
        ['null', () => null],
        ['a symbol', () => Symbol('s')],
        ['a throwing proxy', throwingProxy],
      ]
      for (const [label, value] of values) {
        const sync = t.namespace('release-sync')
        const rejecting = t.namespace('release-async')
        t.register({
          namespace: sync,
          prepare: () => ({ applied: 1 }),
          release: () => {
            throw value()
          },
        })
        t.register({
          namespace: rejecting,
          prepare: () => ({ applied: 2 }),
          release: () => Promise.reject(value()),
        })
        const id = await t.pl.commit(
          t.withSlot(t.withSlot(await t.createHandle('ext-release-odd'), sync, 1), rejecting, 1),
        )
        const outcome = await outcomeOf(() => t.pl.destroyContainer(id))
        expect(outcome.kind, `release throwing ${label}: ${describeOutcome(outcome)}`).toBe('resolved')
        expect(await t.pl.listContainers()).not.toContain(id)
      }
    })

    it('protocol: a commit hook that throws does not fail the landed commit; a rollback hook that throws keeps the error', async () => {
      const t = s.t()
      const landed = t.namespace('commit-throws')
      t.register({
        namespace: landed,
        prepare: () => ({
          applied: { ok: true },
          commit: () => {
            throw new Error('bookkeeping failed')
          },
        }),
      })
      const id = await t.pl.commit(t.withSlot(await t.createHandle('ext-commit-hook'), landed, 1))
      expect(await t.extensible().getExtensionState(id, landed)).toEqual({ ok: true })

      const undone = t.namespace('rollback-throws')
      const refuses = t.namespace('refuses')
      t.register({
        namespace: undone,
        prepare: () => ({
          applied: 1,
          rollback: () => {
            throw Symbol('rollback failed')
          },
        }),
      })
      t.register({
        namespace: refuses,
        prepare: () => {
          throw new PortLayerError('INVALID_STATE', 'not while the subnet is full')
        },
      })
      const h = t.withSlot(t.withSlot(await t.pl.getHandle(id), undone, 1), refuses, 1)
      await expectPortLayerError(t.pl.commit(h), 'INVALID_STATE', 'the refusing extension code')
      expect(await t.extensible().getExtensionState(id, undone)).toBeUndefined()
    })

    it('protocol: prepare sees creating, the run state before the commit and the value applied so far', async () => {
      const t = s.t()
      const ns = t.namespace('context')
      const seen: ExtensionContext[] = []
      t.register({
        namespace: ns,
        prepare: (c) => {
          seen.push(c)
          return { applied: { step: seen.length } }
        },
      })
      const id = await t.pl.commit(
        t.withSlot(await t.createHandle('ext-context', { entry: LONG_RUNNER }), ns, 'a'),
      )
      await t.update(id, async (h) => t.withSlot(await t.pl.setRunState(h, 'running'), ns, 'b'))
      await t.update(id, async (h) => t.withSlot(await t.pl.setRunState(h, 'stopped'), ns, 'c'))
      expect(seen.map((c) => [c.creating, c.runState, c.pending, c.applied])).toEqual([
        [true, 'created', 'a', undefined],
        [false, 'created', 'b', { step: 1 }],
        [false, 'running', 'c', { step: 2 }],
      ])
      expect(seen.every((c) => c.containerId === id)).toBe(true)
      expect(await t.extensible().getExtensionState(id, ns)).toEqual({ step: 3 })
    })
  })
}

/** Whether `error` or one of its causes has `text` in its message (never throws). */
function mentions(error: unknown, text: string): boolean {
  let e: unknown = error
  for (let depth = 0; depth < 8 && e !== null && typeof e === 'object'; depth++) {
    try {
      const message = (e as { message?: unknown }).message
      if (typeof message === 'string' && message.includes(text)) return true
      e = (e as { cause?: unknown }).cause
    } catch {
      return false
    }
  }
  return false
}
