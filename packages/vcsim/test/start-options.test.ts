import { existsSync, readdirSync } from 'node:fs'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '@portlayer/contracts'
import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildVcsim, defaultSourceDir, startVcsim, vcsimAvailable } from '../src/index.js'
import { recorder, silent } from './loggers.js'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}

const throwingGetter = Object.defineProperty({}, 'cacheDir', {
  enumerable: true,
  get() {
    throw new Error('boom')
  },
})

// Options every entry point takes, then those of startVcsim alone.
const BAD_COMMON: [string, unknown][] = [
  ['a string', 'tls'],
  ['null', null],
  ['signal: {}', { signal: {} }],
  ['logger: 5', { logger: 5 }],
  ['logger.warn: "x"', { logger: { ...silent, warn: 'x' } }],
  ['a logger without error()', { logger: { debug() {}, info() {}, warn() {} } }],
  ['sourceDir: 5', { sourceDir: 5 }],
  ['cacheDir: ""', { cacheDir: '' }],
  ['a getter that throws', throwingGetter],
]
const BAD_START: [string, unknown][] = [
  ['tls: "yes"', { tls: 'yes' }],
  ['timeoutMs: -1', { timeoutMs: -1 }],
  ['timeoutMs: NaN', { timeoutMs: Number.NaN }],
  ['timeoutMs: 2 ** 40', { timeoutMs: 2 ** 40 }],
  ['exitedProcessRetentionMs: "1s"', { exitedProcessRetentionMs: '1s' }],
]
const invalid = (e: unknown) => PortLayerError.isInstance(e, ErrorCode.InvalidArgument)

describe('startVcsim options', () => {
  it.each(BAD_COMMON)(
    'refuses %s with INVALID_ARGUMENT, in startVcsim, buildVcsim and vcsimAvailable',
    async (_, options) => {
      await expect(startVcsim(options as never)).rejects.toSatisfy(invalid)
      await expect(buildVcsim(options as never)).rejects.toSatisfy(invalid)
      await expect(vcsimAvailable(options as never)).rejects.toSatisfy(invalid)
    },
  )

  it.each(BAD_START)('refuses %s with INVALID_ARGUMENT', async (_, options) => {
    await expect(startVcsim(options as never)).rejects.toSatisfy(invalid)
  })

  it('an aborted signal: CANCELLED with the reason as cause, and nothing started', async () => {
    const reason = new Error('test over')
    const error = await startVcsim({ signal: AbortSignal.abort(reason), logger: silent }).catch(
      (e: unknown) => e,
    )
    expect(PortLayerError.isInstance(error, ErrorCode.Cancelled)).toBe(true)
    expect((error as PortLayerError).cause).toBe(reason)
    expect((error as PortLayerError).outcome).toBe('not-applied')
    await expect(vcsimAvailable({ signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
      PortLayerError.isInstance(e, ErrorCode.Cancelled),
    )
  })

  it('past timeoutMs: TIMEOUT', async () => {
    const error = await startVcsim({ timeoutMs: 1, logger: silent }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Timeout)).toBe(true)
    expect((error as PortLayerError).detail).toMatchObject({ timeoutMs: 1 })
  })
})

describe('cancelling a build', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vcsim-cancel-'))
    await cp(defaultSourceDir(), join(dir, 'src'), {
      recursive: true,
      filter: (f) => !f.endsWith('_test.go') && !f.includes('/bin'),
    })
    // Sources of their own, so the build is not already cached.
    await writeFile(
      join(dir, 'src', 'cancel.go'),
      `package main\n\n// cancel makes these sources unique.\nconst cancel = ${Date.now()}\n\nvar _ = cancel\n`,
    )
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('stops go build once no caller waits for it, and leaves nothing in the cache', async () => {
    const cacheDir = join(dir, 'cache')
    const controller = new AbortController()
    const logger: Logger = {
      ...silent,
      info: (m) => {
        if (m.includes('building')) controller.abort(new Error('enough'))
      },
    }
    const error = await startVcsim({
      sourceDir: join(dir, 'src'),
      cacheDir,
      logger,
      signal: controller.signal,
    }).catch((e: unknown) => e)
    expect(PortLayerError.isInstance(error, ErrorCode.Cancelled)).toBe(true)
    // The build's lock goes once go has been stopped and the temporary binary removed.
    await until(() => !existsSync(cacheDir) || !readdirSyncSafe(cacheDir).some((f) => f.endsWith('.lock')))
    expect(readdirSyncSafe(cacheDir).filter((f) => !f.startsWith('.') && f !== 'go-build')).toEqual([])
  }, 120_000)
})

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

describe('a started harness', () => {
  it('is disposable: `await using` stops it, and close() is stop()', async () => {
    let pid = 0
    {
      await using vc = await startVcsim({ logger: silent })
      pid = vc.pid
      expect(vc.close).toBe(vc.stop)
      expect(alive(pid)).toBe(true)
    }
    await until(() => !alive(pid))
  }, 300_000)

  it('tells the logger when it exits without being stopped', async () => {
    const { logger, lines } = recorder()
    const warnings = () => lines.filter((l) => l.level === 'warn').map((l) => l.message)
    const vc = await startVcsim({ logger })
    const debug = lines.filter((l) => l.level === 'debug').map((l) => l.message)
    expect(debug.some((m) => m.includes(`pid ${vc.pid} serves ${vc.url}`))).toBe(true)
    process.kill(vc.pid, 'SIGKILL')
    await until(() => warnings().length > 0)
    expect(warnings()[0]).toMatch(
      new RegExp(`^vcsim harness \\(pid ${vc.pid}\\) exited unexpectedly \\(SIGKILL\\)`),
    )
    await vc.stop()
    expect(warnings()).toHaveLength(1)
  }, 300_000)

  it('a logger that throws does not break it', async () => {
    const throwing = () => {
      throw new Error('broken logger')
    }
    const vc = await startVcsim({
      logger: { debug: throwing, info: throwing, warn: throwing, error: throwing },
    })
    await vc.stop()
  }, 300_000)
})
