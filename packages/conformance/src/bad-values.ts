import { type Handle, type ID, MAX_FILE_BYTES, MAX_LIMITS } from '@portlayer/contracts'
import { describeValue } from './outcome.js'

/** A bad argument and how to name it in a failure message. */
export type Labelled = readonly [label: string, value: unknown]

const vals = (...values: unknown[]): Labelled[] => values.map((v) => [describeValue(v), v])

// Values built on demand: some are large (a 1 MB name, a 64 MiB buffer) and should live only
// while the test using them runs.

export const badNames = (): Labelled[] =>
  vals(undefined, null, 42, {}, '', '   ', 'a\nb', 'a\u0000b', 'x'.repeat(129), 'x'.repeat(1_000_000))

export const badIds = (id: ID): Labelled[] => [
  ...vals(undefined, null, 42, Number.NaN, {}, [], '', 'not-a-uuid', `../${id}`, `${id}x`, ` ${id}`),
  ...vals(id.slice(1), id.replaceAll('-', ''), `${id}/..`, 'x'.repeat(100_000)),
  ['the ID with a NUL appended', `${id}\u0000`],
]

export const badAbsolutePaths = (): Labelled[] =>
  vals(
    undefined,
    null,
    42,
    {},
    '',
    'relative',
    'x/../y',
    '.',
    '..',
    '/a/../b',
    '/..',
    '/a/..',
    '/a\u0000b',
    '/a\nb',
    `/${'x'.repeat(5000)}`,
  )

export const badFileNames = (): Labelled[] =>
  vals(undefined, null, 42, '', '.', '..', 'a/b', '/a', 'a/', 'a\u0000b', 'x'.repeat(256))

export const badPerms = (): Labelled[] =>
  vals(undefined, null, '0644', -1, 0o10000, 0o7777 + 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53)

export const badData = (): Labelled[] => [
  ...vals(undefined, null, 'text', [1, 2], new ArrayBuffer(2), { length: 2 }, new Uint16Array(2)),
  ['a DataView', new DataView(new ArrayBuffer(2))],
  ['64 MiB + 1 byte', new Uint8Array(MAX_FILE_BYTES + 1)],
]

export const badLimit = (what: 'memoryMb' | 'cpuMhz'): Labelled[] =>
  vals(
    undefined,
    null,
    '512',
    0,
    -2,
    -1.5,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
    MAX_LIMITS[what] + 1,
    1n,
  )

export const badRunStates = (): Labelled[] =>
  vals(undefined, null, 42, '', 'created', 'Running', 'paused', {})

export const badRunStateFilters = (): Labelled[] => vals(null, 42, '', 'Running', 'paused', {})

export const badExecArgs = (): Labelled[] =>
  vals(undefined, null, 42, '"unterminated', "'unterminated", 'trailing\\', 'a\u0000b', 'x'.repeat(65_537))

export const badSignals = (): Labelled[] =>
  vals(undefined, null, '15', 0, -1, 65, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31)

export const badNamespaces = (): Labelled[] =>
  vals(undefined, null, 42, '', 'Upper', 'with space', '1digit', 'a..b', '.a', 'a.', 'a/b', 'x'.repeat(65))

/** Values that are not handles at all, or handles whose shape was forged. */
export const badHandleShapes = (h: Handle): Labelled[] => [
  ...vals(undefined, null, 42, 'handle', [], {}),
  ['{ containerId } alone', { containerId: h.containerId }],
  ['a handle whose containerId is not a UUID', { ...h, containerId: 'not-a-uuid' }],
  ['a handle whose containerId is a number', { ...h, containerId: 42 }],
  ['a handle whose baseVersion is a number', { ...h, baseVersion: 42 }],
  ['a handle whose baseVersion is an object', { ...h, baseVersion: {} }],
  ['a handle whose pending is null', { ...h, pending: null }],
  ['a handle whose pending is a string', { ...h, pending: 'x' }],
  ['a handle whose pending.files is a string', { ...h, pending: { ...h.pending, files: 'x' } }],
  ['a handle whose pending.files holds null', { ...h, pending: { ...h.pending, files: [null] } }],
  ['a handle whose pending.extensions is null', { ...h, pending: { ...h.pending, extensions: null } }],
]

/**
 * Handles of the right outline whose pending values no setter would have let through: commit
 * must check them as the setters do.
 */
export const forgedPendingValues = (h: Handle): Labelled[] => {
  const file = { targetDir: '/tmp', fname: 'forged.txt', perms: 0o644, data: new Uint8Array(1) }
  const entry = { workDir: '/', execPath: '/bin/true', execArgs: '' }
  const forge = (label: string, change: Record<string, unknown>): Labelled => [
    `a handle whose ${label}`,
    { ...h, pending: { ...h.pending, ...change } },
  ]
  return [
    forge('pending.limits.memoryMb is -5', { limits: { memoryMb: -5, cpuMhz: 1000 } }),
    forge('pending.limits lacks cpuMhz', { limits: { memoryMb: 512 } }),
    forge("pending.runState is 'created'", { runState: 'created' }),
    forge("pending.runState is 'paused'", { runState: 'paused' }),
    forge('pending.mainProcess has a relative workDir', { mainProcess: { ...entry, workDir: 'relative' } }),
    forge('pending.mainProcess has an unbalanced quote', { mainProcess: { ...entry, execArgs: '"' } }),
    forge("pending file's targetDir climbs with '..'", { files: [{ ...file, targetDir: '/tmp/../etc' }] }),
    forge("pending file is named '..'", { files: [{ ...file, fname: '..' }] }),
    forge('pending file has perms 0o10000', { files: [{ ...file, perms: 0o10000 }] }),
    forge('pending file has string data', { files: [{ ...file, data: 'text' }] }),
  ]
}
