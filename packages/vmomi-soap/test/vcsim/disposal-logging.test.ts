import type { Logger } from '@portlayer/contracts'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { failure } from '../support/failure.js'
import { createVm, run, SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

/**
 * A logger of contracts' shape whose methods live on the prototype, as pino's do: the gateway must
 * call them as methods (with `this`), not as detached functions.
 */
class Lines implements Logger {
  readonly lines: { level: string; message: string }[] = []
  debug(message: string): void {
    this.lines.push({ level: 'debug', message })
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message })
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message })
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message })
  }
  warnings(): string[] {
    return this.lines.filter((l) => l.level === 'warn').map((l) => l.message)
  }
}

describe('disposal', () => {
  const vcsim = useVcsim()

  it('Symbol.asyncDispose logs out as close() does, once, and later calls are UNAVAILABLE', async () => {
    const vc = vcsim()
    const gw = await connect(vc)
    const before = await vc.admin.calls()
    await gw[Symbol.asyncDispose]()
    await gw.close()
    await gw[Symbol.asyncDispose]()
    const after = await vc.admin.calls()
    expect((after.Logout ?? 0) - (before.Logout ?? 0)).toBe(1)
    const error = await failure(gw.call('CurrentTime', { _this: SERVICE_INSTANCE }))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.detail).toMatchObject({ closed: true })
  })

  it('`await using` closes the gateway at the end of the block', async () => {
    const vc = vcsim()
    const before = await vc.admin.calls()
    let outside: Awaited<ReturnType<typeof connect>> | undefined
    {
      await using gw = await connect(vc)
      outside = gw
      expect(await gw.call('CurrentTime', { _this: SERVICE_INSTANCE })).toBeInstanceOf(Date)
    }
    const after = await vc.admin.calls()
    expect((after.Logout ?? 0) - (before.Logout ?? 0)).toBe(1)
    await expect(outside.call('CurrentTime', { _this: SERVICE_INSTANCE })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    })
  })
})

describe('background failures go to logger.warn', () => {
  const vcsim = useVcsim()
  afterEach(async () => {
    await vcsim().admin.reset()
  })

  it('a Logout that fails on close', async () => {
    const logger = new Lines()
    const gw = await connect(vcsim(), { logger })
    expect(logger.lines.some((l) => l.level === 'info' && l.message.startsWith('connected to'))).toBe(true)
    await vcsim().admin.failNext('Logout', 'SystemError')
    await gw.close()
    expect(logger.warnings()).toEqual([expect.stringMatching(/^Logout failed: .*SystemError/)])
    expect(logger.warnings().join('\n')).not.toContain(vcsim().password)
  })

  it('a keepalive that fails while the gateway is idle', async () => {
    const logger = new Lines()
    await vcsim().admin.failNext('CurrentTime', 'SystemError')
    const gw = await connect(vcsim(), { logger, keepAliveMs: 20 })
    try {
      await vi.waitFor(() => expect(logger.warnings()).not.toEqual([]), { timeout: 10_000 })
      expect(logger.warnings()[0]).toMatch(/^keepalive failed: .*SystemError/)
      // The next keepalive goes through: the failure was reported, not kept.
      await vi.waitFor(
        () =>
          expect(logger.lines.some((l) => l.level === 'debug' && l.message === 'keepalive sent')).toBe(true),
        { timeout: 10_000 },
      )
    } finally {
      await gw.close()
    }
  })

  it('a CancelTask that fails after a task wait was given up', async () => {
    const logger = new Lines()
    const gw = await connect(vcsim(), { logger })
    try {
      const vm = await createVm(gw, 'logging-cancel')
      const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'slow' } })
      // The harness runs tasks at once, so the wait is held up by slowing its polls.
      await vcsim().admin.delay('RetrievePropertiesEx', 3_000)
      await vcsim().admin.failNext('CancelTask', 'SystemError')
      const error = await failure(gw.waitForTask(task, { timeoutMs: 200 }))
      expect(error.code).toBe('TIMEOUT')
      expect(error.detail).toMatchObject({ cancelRequested: false })
      expect(logger.warnings()).toContainEqual(
        expect.stringMatching(new RegExp(`^could not cancel task ${task.value}: .*SystemError`)),
      )
      await vcsim().admin.delay('RetrievePropertiesEx', 0)
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    } finally {
      await gw.close()
    }
  })
})
