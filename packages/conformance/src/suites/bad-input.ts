import { type Capabilities, type Handle, type ID, PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import {
  badAbsolutePaths,
  badData,
  badExecArgs,
  badFileNames,
  badHandleShapes,
  badIds,
  badLimit,
  badNames,
  badPerms,
  badRunStateFilters,
  badRunStates,
  badSignals,
  forgedPendingValues,
  type Labelled,
} from '../bad-values.js'
import { type Harness, LONG_RUNNER, text } from '../harness.js'
import { describeOutcome, outcomeOf } from '../outcome.js'
import type { SuiteContext } from './context.js'

interface Target {
  readonly t: Harness
  readonly id: ID
  /** A current handle of the target container. */
  readonly h: Handle
}

interface BadInputCase {
  readonly op: string
  readonly needs?: ReadonlyArray<keyof Capabilities>
  /** The container the calls aim at; `none` for calls that take no container. */
  readonly target: 'none' | 'created' | 'running'
  /** One bad-value list per parameter, in order. */
  readonly params: ReadonlyArray<readonly [name: string, bad: (c: Target) => Labelled[]]>
  /** Arguments that would succeed; each bad value replaces one of them. */
  readonly valid: (c: Target) => unknown[]
  /** True when calling with the valid arguments changes nothing, so it runs first as a control. */
  readonly control: boolean
  readonly call: (c: Target, args: unknown[]) => unknown
}

// Calls go through an untyped view: passing wrongly typed arguments is the point.
type Untyped = Record<string, (...args: unknown[]) => unknown>
const invoke = (op: string) => (c: Target, args: unknown[]) => (c.t.pl as unknown as Untyped)[op]?.(...args)

const KNOWN_DIR = '/tmp/bad-input'
const KNOWN_FILE = 'known.txt'

const CASES: readonly BadInputCase[] = [
  {
    op: 'createContainer',
    target: 'none',
    params: [['name', badNames]],
    valid: () => ['conformance-bad-input'],
    control: true,
    call: invoke('createContainer'),
  },
  ...(['getHandle', 'getContainerConfig', 'getContainerState', 'destroyContainer'] as const).map(
    (op): BadInputCase => ({
      op,
      target: 'running',
      params: [['id', (c) => badIds(c.id)]],
      valid: (c) => [c.id],
      control: op !== 'destroyContainer',
      call: invoke(op),
    }),
  ),
  {
    op: 'listContainers',
    target: 'none',
    params: [['forState', badRunStateFilters]],
    valid: () => ['running'],
    control: true,
    call: invoke('listContainers'),
  },
  {
    op: 'copyFrom',
    needs: ['files'],
    target: 'running',
    params: [
      ['id', (c) => badIds(c.id)],
      ['sourceDir', badAbsolutePaths],
      ['fname', badFileNames],
    ],
    valid: (c) => [c.id, KNOWN_DIR, KNOWN_FILE],
    control: true,
    call: invoke('copyFrom'),
  },
  {
    op: 'execProcess',
    needs: ['exec'],
    target: 'running',
    params: [
      ['id', (c) => badIds(c.id)],
      ['workDir', badAbsolutePaths],
      ['execPath', badAbsolutePaths],
      ['execArgs', badExecArgs],
    ],
    valid: (c) => [c.id, '/', '/bin/sleep', '3600'],
    control: false,
    call: invoke('execProcess'),
  },
  {
    op: 'signal',
    needs: ['signal'],
    target: 'running',
    params: [
      ['processOrContainerId', (c) => badIds(c.id)],
      ['signal', badSignals],
    ],
    valid: (c) => [c.id, 15],
    control: false,
    call: invoke('signal'),
  },
  {
    op: 'copyTo',
    needs: ['files'],
    target: 'running',
    params: [
      ['h', (c) => badHandleShapes(c.h)],
      ['targetDir', badAbsolutePaths],
      ['fname', badFileNames],
      ['perms', badPerms],
      ['data', badData],
    ],
    valid: (c) => [c.h, '/tmp', 'f.txt', 0o644, text('f')],
    control: true,
    call: invoke('copyTo'),
  },
  {
    op: 'setEntryPoint',
    target: 'created',
    params: [
      ['h', (c) => badHandleShapes(c.h)],
      ['workDir', badAbsolutePaths],
      ['execPath', badAbsolutePaths],
      ['execArgs', badExecArgs],
    ],
    valid: (c) => [c.h, '/', '/bin/true', ''],
    control: true,
    call: invoke('setEntryPoint'),
  },
  {
    op: 'setLimits',
    target: 'created',
    params: [
      ['h', (c) => badHandleShapes(c.h)],
      ['memoryMb', () => badLimit('memoryMb')],
      ['cpuMhz', () => badLimit('cpuMhz')],
    ],
    valid: (c) => [c.h, 512, 1000],
    control: true,
    call: invoke('setLimits'),
  },
  {
    op: 'setRunState',
    target: 'created',
    params: [
      ['h', (c) => badHandleShapes(c.h)],
      ['runState', badRunStates],
    ],
    valid: (c) => [c.h, 'running'],
    control: true,
    call: invoke('setRunState'),
  },
  {
    op: 'commit',
    target: 'created',
    params: [['h', (c) => [...badHandleShapes(c.h), ...forgedPendingValues(c.h)]]],
    // An unchanged handle applies nothing, so committing it is a harmless control.
    valid: (c) => [c.h],
    control: true,
    call: invoke('commit'),
  },
  {
    op: 'getExtensionState',
    needs: ['extensions'],
    target: 'running',
    params: [['containerId', (c) => badIds(c.id)]],
    valid: (c) => [c.id, 'conformance.none'],
    control: true,
    call: (c, args) => c.t.extensible().getExtensionState(args[0] as ID, args[1] as string),
  },
]

/** Bad input: every argument of every operation → INVALID_ARGUMENT, nothing changed (behaviour 11). */
export function badInputTests(s: SuiteContext): void {
  describe('bad input', () => {
    for (const c of CASES) {
      const missing = (c.needs ?? []).filter((cap) => !s.caps[cap])
      const names = c.params.map(([name]) => name).join(', ')
      it.skipIf(missing.length > 0)(
        `bad input: ${c.op}(${names}) fails with INVALID_ARGUMENT and changes nothing`,
        async () => {
          await runCase(s.t(), c)
        },
      )
    }
  })
}

async function runCase(t: Harness, c: BadInputCase): Promise<void> {
  const target = await makeTarget(t, c)
  const handleBefore = structuredClone(target.h)
  const before = c.target === 'none' ? undefined : await t.snapshot(target.id)
  const wrong: string[] = []

  if (c.control) {
    const outcome = await outcomeOf(() => c.call(target, c.valid(target)))
    if (outcome.kind !== 'resolved')
      wrong.push(`control call with valid arguments ${describeOutcome(outcome)}`)
  }
  for (const [index, [param, bad]] of c.params.entries()) {
    for (const [label, value] of bad(target)) {
      const args = c.valid(target)
      args[index] = value
      const outcome = await outcomeOf(() => c.call(target, args))
      if (outcome.kind !== 'rejected' || !PortLayerError.isInstance(outcome.error, 'INVALID_ARGUMENT')) {
        wrong.push(`${param} = ${label}: ${describeOutcome(outcome)}`)
      }
    }
  }
  expect(wrong, `${c.op}: calls that did not fail with INVALID_ARGUMENT`).toEqual([])
  expect(target.h, 'the handle passed to the failed calls').toEqual(handleBefore)
  if (before) expect(await t.snapshot(target.id), 'the container after the failed calls').toEqual(before)
}

async function makeTarget(t: Harness, c: BadInputCase): Promise<Target> {
  if (c.target === 'none') {
    const h = await t.pl.createContainer(t.name('bad-input'))
    return { t, id: h.containerId, h }
  }
  const files = t.caps.files ? [{ dir: KNOWN_DIR, name: KNOWN_FILE, data: text('known') }] : []
  const id =
    c.target === 'running'
      ? await t.running(`bad-${c.op}`, { files })
      : await t.container(`bad-${c.op}`, { entry: LONG_RUNNER })
  return { t, id, h: await t.pl.getHandle(id) }
}
