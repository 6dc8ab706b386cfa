import {
  type Capabilities,
  describeValue,
  type Handle,
  type ID,
  MAX_MESSAGE_LENGTH,
  PortLayerError,
} from '@portlayer/contracts'
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
  badNamespaces,
  badPerms,
  badRunStateFilters,
  badRunStates,
  badSignals,
  forgedPendingValues,
  hostileHandles,
  hostileNumbers,
  hostileOptions,
  hostileStrings,
  hostileValues,
  type Labelled,
} from '../bad-values.js'
import { type Harness, LONG_RUNNER, text } from '../harness.js'
import { type Outcome, outcomeOf } from '../outcome.js'
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
  /** False for methods outside `PortLayer`, which take no `options` argument. */
  readonly options?: false
  /** True when calling with the valid arguments changes nothing, so it runs first as a control. */
  readonly control: boolean
  readonly call: (c: Target, args: unknown[]) => unknown
}

// Calls go through an untyped view: passing wrongly typed arguments is the point.
type Untyped = Record<string, (...args: unknown[]) => unknown>
const invoke = (op: string) => (c: Target, args: unknown[]) => (c.t.pl as unknown as Untyped)[op]?.(...args)

const KNOWN_DIR = '/tmp/bad-input'
const KNOWN_FILE = 'known.txt'

// Each parameter's own bad values, then every hostile value, then near misses of its valid value.
const idValues = (c: Target): Labelled[] => [...badIds(c.id), ...hostileValues(), ...hostileStrings(c.id)]
const pathValues = (valid: string) => (): Labelled[] => [
  ...badAbsolutePaths(),
  ...hostileValues(),
  ...hostileStrings(valid),
  ['a path with a lone surrogate segment', `${valid}/\ud800`],
]
const fileNameValues = (): Labelled[] => [...badFileNames(), ...hostileValues(), ...hostileStrings('f.txt')]
const execArgsValues = (): Labelled[] => [...badExecArgs(), ...hostileValues(), ...hostileStrings('3600')]
const handleValues = (c: Target): Labelled[] => [
  ...badHandleShapes(c.h),
  ...hostileValues(),
  ...hostileHandles(c.h),
]

const CASES: readonly BadInputCase[] = [
  {
    op: 'createContainer',
    target: 'none',
    params: [
      [
        'name',
        () => [
          ...badNames(),
          ...hostileValues(),
          ...hostileStrings('conformance-bad-input'),
          ['a name with a lone surrogate inside', 'bad-\udc00-name'],
        ],
      ],
    ],
    valid: () => ['conformance-bad-input'],
    control: true,
    call: invoke('createContainer'),
  },
  ...(['getHandle', 'getContainerConfig', 'getContainerState', 'destroyContainer'] as const).map(
    (op): BadInputCase => ({
      op,
      target: 'running',
      params: [['id', idValues]],
      valid: (c) => [c.id],
      control: op !== 'destroyContainer',
      call: invoke(op),
    }),
  ),
  {
    op: 'listContainers',
    target: 'none',
    params: [['forState', () => [...badRunStateFilters(), ...hostileValues(), ...hostileStrings('running')]]],
    valid: () => ['running'],
    control: true,
    call: invoke('listContainers'),
  },
  {
    op: 'copyFrom',
    needs: ['files'],
    target: 'running',
    params: [
      ['id', idValues],
      ['sourceDir', pathValues(KNOWN_DIR)],
      ['fname', fileNameValues],
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
      ['id', idValues],
      ['workDir', pathValues('/')],
      ['execPath', pathValues('/bin/sleep')],
      ['execArgs', execArgsValues],
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
      ['processOrContainerId', idValues],
      ['signal', () => [...badSignals(), ...hostileValues(), ...hostileNumbers(15)]],
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
      ['h', handleValues],
      ['targetDir', pathValues('/tmp')],
      ['fname', fileNameValues],
      ['perms', () => [...badPerms(), ...hostileValues(), ...hostileNumbers(0o644)]],
      ['data', () => [...badData(), ...hostileValues(), ['a Uint8Array in an array', [text('f')]]]],
    ],
    valid: (c) => [c.h, '/tmp', 'f.txt', 0o644, text('f')],
    control: true,
    call: invoke('copyTo'),
  },
  {
    op: 'setEntryPoint',
    target: 'created',
    params: [
      ['h', handleValues],
      ['workDir', pathValues('/')],
      ['execPath', pathValues('/bin/true')],
      ['execArgs', execArgsValues],
    ],
    valid: (c) => [c.h, '/', '/bin/true', ''],
    control: true,
    call: invoke('setEntryPoint'),
  },
  {
    op: 'setLimits',
    target: 'created',
    params: [
      ['h', handleValues],
      ['memoryMb', () => [...badLimit('memoryMb'), ...hostileValues(), ...hostileNumbers(512)]],
      ['cpuMhz', () => [...badLimit('cpuMhz'), ...hostileValues(), ...hostileNumbers(1000)]],
    ],
    valid: (c) => [c.h, 512, 1000],
    control: true,
    call: invoke('setLimits'),
  },
  {
    op: 'setRunState',
    target: 'created',
    params: [
      ['h', handleValues],
      ['runState', () => [...badRunStates(), ...hostileValues(), ...hostileStrings('running')]],
    ],
    valid: (c) => [c.h, 'running'],
    control: true,
    call: invoke('setRunState'),
  },
  {
    op: 'commit',
    target: 'created',
    params: [['h', (c) => [...handleValues(c), ...forgedPendingValues(c.h)]]],
    // An unchanged handle applies nothing, so committing it is a harmless control.
    valid: (c) => [c.h],
    control: true,
    call: invoke('commit'),
  },
  {
    op: 'getExtensionState',
    needs: ['extensions'],
    target: 'running',
    params: [
      ['containerId', idValues],
      ['namespace', () => [...badNamespaces(), ...hostileValues(), ...hostileStrings('conformance.none')]],
    ],
    valid: (c) => [c.id, 'conformance.none'],
    options: false,
    control: true,
    call: (c, args) => (c.t.extensible() as unknown as Untyped).getExtensionState?.(...args),
  },
]

/**
 * Bad input: every argument of every operation — its own bad values, every hostile JavaScript
 * value, and a hostile `options` last argument — fails with INVALID_ARGUMENT, as a
 * PortLayerError with a message of at most 1,000 characters, and changes nothing (behaviour 11).
 */
export function badInputTests(s: SuiteContext): void {
  describe('bad input', () => {
    for (const c of CASES) {
      const missing = (c.needs ?? []).filter((cap) => !s.caps[cap])
      const names = [...c.params.map(([name]) => name), ...(c.options === false ? [] : ['options'])].join(
        ', ',
      )
      it.skipIf(missing.length > 0)(
        `bad input: ${c.op}(${names}) fails with INVALID_ARGUMENT and changes nothing`,
        async () => {
          await runCase(s.t(), c)
        },
      )
    }
  })
}

/** What is wrong with how a call ended, or undefined when it failed as it should. */
function misbehaviour(outcome: Outcome): string | undefined {
  if (outcome.kind === 'resolved') return `resolved with ${describeValue(outcome.value)}`
  const how = outcome.kind === 'threw' ? 'threw synchronously' : 'rejected'
  const e = outcome.error
  if (!PortLayerError.isInstance(e)) {
    const name = e instanceof Error ? ` ${e.name}: ${e.message.slice(0, 200)}` : ` ${describeValue(e)}`
    return `${how} with a non-portlayer error:${name}`
  }
  const problems: string[] = []
  if (outcome.kind === 'threw') problems.push('threw synchronously instead of rejecting')
  if (e.code !== 'INVALID_ARGUMENT') problems.push(`code ${e.code}`)
  if (e.message.length > MAX_MESSAGE_LENGTH) problems.push(`a message of ${e.message.length} characters`)
  if (e.outcome !== 'not-applied') problems.push(`outcome ${e.outcome}`)
  return problems.length === 0 ? undefined : `${how} with ${problems.join(', ')}: ${e.message.slice(0, 200)}`
}

async function runCase(t: Harness, c: BadInputCase): Promise<void> {
  const target = await makeTarget(t, c)
  const handleBefore = structuredClone(target.h)
  const before = c.target === 'none' ? undefined : await t.snapshot(target.id)
  const wrong: string[] = []

  if (c.control) {
    const outcome = await outcomeOf(() => c.call(target, c.valid(target)))
    if (outcome.kind !== 'resolved') wrong.push(`control call with valid arguments ${misbehaviour(outcome)}`)
  }
  // The options argument comes after the last declared parameter.
  const positions: Array<readonly [string, (c: Target) => Labelled[]]> = [...c.params]
  if (c.options !== false) positions.push(['options', hostileOptions])
  for (const [index, [param, bad]] of positions.entries()) {
    for (const [label, value] of bad(target)) {
      const args = c.valid(target)
      args[index] = value
      const problem = misbehaviour(await outcomeOf(() => c.call(target, args)))
      if (problem !== undefined) wrong.push(`${param} = ${label}: ${problem}`)
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
