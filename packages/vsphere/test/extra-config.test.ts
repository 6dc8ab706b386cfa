import { describe, expect, it } from 'vitest'
import {
  applyOptions,
  decodeRecord,
  type ExecRecord,
  encodeExec,
  encodeFiles,
  encodeLimits,
  encodeMain,
  encodeMainState,
  execKey,
  extensionKey,
  Key,
  type MainStateRecord,
  option,
  portlayerEntries,
} from '../src/extra-config.js'

const ID = '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f'
const MAIN = '1c8d2f5b-5a5f-4d9f-8e4c-3a2b7d6e8f90'
const EXEC_A = '2d9e3a6c-6b6a-4eaa-9f5d-4b3c8e7f9a01'
const EXEC_B = '3eaf4b7d-7c7b-4fbb-8a6e-5c4d9f8a0b12'

function exec(processId: string, startedAt: string, extra: Partial<ExecRecord> = {}): ExecRecord {
  return {
    processId,
    workDir: '/',
    execPath: '/bin/sleep',
    execArgs: '10',
    run: 'run-1',
    pid: 7,
    startedAt,
    finishedAt: null,
    exitCode: 0,
    exitMsg: '',
    exited: false,
    ...extra,
  }
}

describe('portlayerEntries', () => {
  it('keeps only portlayer keys, takes the last entry per key, and treats an empty value as deleted', () => {
    const entries = portlayerEntries([
      { key: 'govcsim', value: 'TRUE' },
      { key: Key.name, value: 'first' },
      { key: Key.files, value: '[1]' },
      { key: Key.name, value: 'second' },
      { key: Key.files, value: '' },
      { key: 'guestinfo.net.address', value: '10.0.0.2' },
    ])
    expect([...entries]).toEqual([[Key.name, 'second']])
  })

  it('copes with no extraConfig at all', () => {
    expect(portlayerEntries(undefined).size).toBe(0)
  })
})

describe('decodeRecord', () => {
  it('is null for a VM that is not a portlayer container', () => {
    expect(decodeRecord(new Map())).toBeNull()
    expect(decodeRecord(new Map([[Key.id, 'not-a-uuid']]))).toBeNull()
  })

  it('reads back everything the encoders wrote', () => {
    const state: MainStateRecord = {
      phase: 'exited',
      run: 'run-1',
      pid: 42,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:05.000Z',
      exitCode: 143,
      exitMsg: 'killed by signal 15 (SIGTERM)',
    }
    const later = exec(EXEC_A, '2026-01-01T00:00:02.000Z', {
      exited: true,
      exitCode: 3,
      finishedAt: '2026-01-01T00:00:03.000Z',
    })
    const earlier = exec(EXEC_B, '2026-01-01T00:00:01.000Z')
    const entries = applyOptions(new Map(), [
      option(Key.id, ID),
      option(Key.name, 'web'),
      option(Key.created, '2026-01-01T00:00:00.000Z'),
      option(Key.limits, encodeLimits({ memoryMb: -1, cpuMhz: 700 })),
      option(
        Key.main,
        encodeMain({ processId: MAIN, workDir: '/srv', execPath: '/bin/sleep', execArgs: '"1 2"' }),
      ),
      option(Key.mainState, encodeMainState(state)),
      option(execKey(EXEC_A), encodeExec(later)),
      option(execKey(EXEC_B), encodeExec(earlier)),
      option(Key.files, encodeFiles([{ dir: '/tmp', name: 'a', perms: 0o644, size: 1, data: 'YQ==' }])),
      option(extensionKey('net'), JSON.stringify({ address: '10.0.0.2' })),
      option(extensionKey('detached'), 'null'),
      option(Key.rev, 'token-0 token-1'),
    ])
    const record = decodeRecord(entries)
    expect(record).toEqual({
      id: ID,
      name: 'web',
      created: new Date('2026-01-01T00:00:00.000Z'),
      limits: { memoryMb: -1, cpuMhz: 700 },
      main: { processId: MAIN, workDir: '/srv', execPath: '/bin/sleep', execArgs: '"1 2"' },
      mainState: state,
      execs: [earlier, later],
      files: [{ dir: '/tmp', name: 'a', perms: 0o644, size: 1, data: 'YQ==' }],
      extensions: new Map<string, unknown>([
        ['net', { address: '10.0.0.2' }],
        ['detached', null],
      ]),
      rev: 'token-1',
      revs: ['token-0', 'token-1'],
      destroying: null,
      pending: null,
      poweringOff: null,
    })
  })

  it('reads malformed optional values as absent instead of failing the whole container', () => {
    const record = decodeRecord(
      new Map([
        [Key.id, ID],
        [Key.limits, '{"memoryMb":0,"cpuMhz":5}'],
        [Key.main, '{"processId":"x"}'],
        [Key.mainState, '{"phase":"dancing","run":"r","pid":1}'],
        [Key.files, 'not json'],
        [execKey(EXEC_A), '{"workDir":"/"}'],
        [extensionKey('net'), '{broken'],
      ]),
    )
    expect(record).toMatchObject({
      id: ID,
      name: '',
      limits: null,
      main: null,
      mainState: null,
      execs: [],
      files: [],
      rev: null,
      revs: [],
      destroying: null,
      pending: null,
      poweringOff: null,
    })
    expect(record?.extensions.size).toBe(0)
    expect(record?.created.getTime()).toBe(0)
  })

  it('drops pending-file entries that are neither inline nor staged', () => {
    const record = decodeRecord(
      new Map([
        [Key.id, ID],
        [
          Key.files,
          JSON.stringify([
            { dir: '/a', name: 'x', perms: 1, size: 1 },
            { dir: '/a', name: 'y', perms: 1, size: 9, datastore: 'ds', path: 'portlayer-files/y' },
          ]),
        ],
      ]),
    )
    expect(record?.files).toEqual([
      { dir: '/a', name: 'y', perms: 1, size: 9, datastore: 'ds', path: 'portlayer-files/y' },
    ])
  })
})

describe('applyOptions', () => {
  it('behaves like a vCenter merge: set, replace, delete with an empty value, ignore foreign keys', () => {
    const next = applyOptions(
      new Map([
        [Key.name, 'a'],
        [Key.files, 'x'],
      ]),
      [option(Key.name, 'b'), option(Key.files, ''), option('guestinfo.other', 'ignored')],
    )
    expect([...next]).toEqual([[Key.name, 'b']])
  })

  it('gives an empty files key when nothing is pending, which deletes it', () => {
    expect(encodeFiles([])).toBe('')
  })
})
