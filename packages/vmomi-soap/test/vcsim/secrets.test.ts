import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { format, inspect } from 'node:util'
import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import { createRecordingGateway } from '../../src/index.js'
import { createVm, run, SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

/** Every way a value can be shown: inspection with any options, %o/%O, JSON, strings. */
function everyView(value: unknown): string[] {
  const views: string[] = []
  for (const options of [
    {},
    { showHidden: true, depth: Number.POSITIVE_INFINITY },
    { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true, showProxy: true },
    { showHidden: true, depth: Number.POSITIVE_INFINITY, customInspect: false, getters: true },
  ]) {
    views.push(inspect(value, options))
  }
  views.push(format('%o', value), format('%O', value), format('%s', value), format('%j', value))
  try {
    views.push(JSON.stringify(value) ?? '')
  } catch {
    // A value JSON cannot show shows nothing.
  }
  if (value instanceof Error) {
    views.push(String(value), value.message, value.stack ?? '')
    if (PortLayerError.isInstance(value)) views.push(JSON.stringify(value.toJSON()))
    for (let cause = value.cause; cause !== undefined; cause = (cause as Error).cause) {
      views.push(...everyView(cause))
      if (!(cause instanceof Error)) break
    }
  }
  return views
}

describe('secrets', () => {
  const vcsim = useVcsim()

  it('the password and the session cookie are never readable from the gateway, its errors, logs or recordings', async () => {
    const vc = vcsim()
    // Each harness run has a random password, found nowhere else.
    const password = vc.password
    expect(password.length).toBeGreaterThanOrEqual(12)
    const lines: string[] = []
    const logger = {
      debug: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
    }
    const gw = await connect(vc, { logger, keepAliveMs: 0, loginRetryBackoffMs: 0 })
    const dir = await mkdtemp(join(tmpdir(), 'vmomi-secrets-'))
    const recorder = createRecordingGateway(gw, { path: join(dir, 'fixture.json') })
    const errors: unknown[] = []
    const cookies: string[] = []
    try {
      // Logged in; read the cookie the server set, to look for it too.
      const session = (await recorder.call('RetrievePropertiesEx', {
        _this: gw.serviceContent.propertyCollector,
        specSet: [
          {
            propSet: [{ type: 'SessionManager', pathSet: ['currentSession'] }],
            objectSet: [{ obj: gw.serviceContent.sessionManager as never }],
          },
        ],
        options: {},
      })) as { objects: { propSet: { val: { key: string } }[] }[] }
      const key = session.objects[0]?.propSet[0]?.val.key
      if (key) cookies.push(key)

      // The password passed as a call argument, refused.
      await vc.admin.failNext('Login', 'InvalidLogin')
      const login = { _this: gw.serviceContent.sessionManager as never, userName: vc.username, password }
      errors.push(await recorder.call('Login', login).catch((e: unknown) => e))

      // A relogin.
      await vc.admin.expireSessions({ readsAs: 'fault' })
      await recorder.call('CurrentTime', { _this: SERVICE_INSTANCE })
      // A failed relogin (refused credentials), then one that fails on the wire.
      await vc.admin.expireSessions({ readsAs: 'missingSet' })
      await vc.admin.failNext('Login', 'InvalidLogin')
      errors.push(await recorder.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e))
      await vc.admin.expireSessions({ readsAs: 'fault' })
      await vc.admin.dropResponse('Login')
      errors.push(await recorder.call('CurrentTime', { _this: SERVICE_INSTANCE }).catch((e: unknown) => e))
      // A recorded change and task, and a failed task.
      const vm = await createVm(recorder, 'secrets-vm')
      await run(recorder, recorder.call('PowerOnVM_Task', { _this: vm }))
      errors.push(
        await recorder.waitForTask(await recorder.call('Destroy_Task', { _this: vm })).catch((e) => e),
      )
      await run(recorder, recorder.call('PowerOffVM_Task', { _this: vm }))
      await run(recorder, recorder.call('Destroy_Task', { _this: vm }))
      expect(errors.every((e) => PortLayerError.isInstance(e))).toBe(true)

      const texts = [
        ...everyView(gw),
        ...everyView(recorder),
        ...errors.flatMap(everyView),
        lines.join('\n'),
        JSON.stringify(recorder.fixture()),
      ]
      await recorder.close()
      texts.push(await readFile(join(dir, 'fixture.json'), 'utf8'))
      texts.push(...everyView(gw))
      expect(lines.some((l) => /logging in again/.test(l))).toBe(true)
      for (const text of texts) {
        expect(text).not.toContain(password)
        for (const cookie of cookies) expect(text).not.toContain(cookie)
      }
    } finally {
      await recorder.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
