import { type Handle, type ID, PortLayerError } from '@portlayer/contracts'
import { BasicHandleFactory } from '@portlayer/handles'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PortLayerVsphere } from '../src/index.js'
import { failure } from './support/failure.js'
import { HookedGateway } from './support/hooked-gateway.js'
import { vmOf, vmProperties, vmsInFolder } from './support/inspect.js'
import { useVcsim, vcsimSettings } from './support/vcsim.js'

// What the backend leaves behind when vSphere misbehaves: lost answers, injected faults, expired
// sessions, refused guest logins. Faults come from the harness's admin endpoint.

const vcsim = useVcsim()
const text = new TextEncoder()
let pl: PortLayerVsphere
const created: ID[] = []

beforeEach(async () => {
  await vcsim.vc.admin.reset()
  pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
})

afterEach(async () => {
  await vcsim.vc.admin.reset()
  for (const id of created.splice(0)) {
    try {
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
      await pl.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  await pl.close()
})

async function createHandle(run = false): Promise<Handle> {
  let h = await pl.createContainer('reliability')
  h = await pl.setEntryPoint(h, '/', '/bin/sleep', '3600')
  h = await pl.copyTo(h, '/tmp', 'seed.txt', 0o644, text.encode('seed'))
  return run ? pl.setRunState(h, 'running') : h
}

async function vmsOf(id: ID): Promise<number> {
  return (await vmsInFolder(vcsim.gateway)).filter((vm) => vm.name === `portlayer-${id}`).length
}

describe('lost answers', () => {
  it('a create whose answer is lost still succeeds, with exactly one VM; a retry is refused without a second VM', async () => {
    const h = await createHandle()
    await vcsim.vc.admin.dropResponse('CreateVM_Task')
    const id = await pl.commit(h)
    created.push(id)
    expect(await vmsOf(id)).toBe(1)
    expect((await pl.getContainerConfig(id)).mainProcess?.execPath).toBe('/bin/sleep')

    // The caller, not knowing, commits the same create-handle again (also from another process).
    const other = await vcsim.backend({ exitPollIntervalMs: 0 })
    try {
      expect((await failure(other.commit(h))).code).toBe('CONFLICT')
      expect((await failure(pl.commit(h))).code).toBe('CONFLICT')
    } finally {
      await other.close()
    }
    expect(await vmsOf(id)).toBe(1)
  })

  it('a reconfigure whose answer is lost is recognised by its commit token', async () => {
    const id = await pl.commit(await createHandle())
    created.push(id)
    await vcsim.vc.admin.dropResponse('ReconfigVM_Task')
    await pl.commit(await pl.setLimits(await pl.getHandle(id), 333, 777))
    expect((await pl.getContainerConfig(id)).limits).toEqual({ memoryMb: 333, cpuMhz: 777 })
  })

  it('a create that never reached vSphere fails as UNAVAILABLE and leaves nothing; the same handle then commits', async () => {
    const h = await createHandle()
    await vcsim.vc.admin.failNext('CreateVM_Task', 'HostCommunication')
    const e = await failure(pl.commit(h))
    expect(e.backend).toBe('vsphere')
    expect(e.target).toBe(h.containerId)
    expect(e.detail?.fault).toBe('HostCommunication')
    expect(await vmsOf(h.containerId)).toBe(0)
    expect(await pl.listContainers()).not.toContain(h.containerId)
    created.push(await pl.commit(h))
    expect(await vmsOf(h.containerId)).toBe(1)
  })
})

describe('injected faults', () => {
  it('ConcurrentAccess with no commit in between (only recorded facts moved the VM) plans the commit again', async () => {
    const id = await pl.commit(await createHandle())
    created.push(id)
    const version = (await pl.getHandle(id)).baseVersion
    await vcsim.vc.admin.failNext('ReconfigVM_Task', 'ConcurrentAccess')
    await pl.commit(await pl.setLimits(await pl.getHandle(id), 444, 888))
    expect((await pl.getContainerConfig(id)).limits).toEqual({ memoryMb: 444, cpuMhz: 888 })
    expect((await pl.getHandle(id)).baseVersion).not.toBe(version)
  })

  it('ConcurrentAccess after another commit landed is CONFLICT and changes nothing', async () => {
    const id = await pl.commit(await createHandle())
    created.push(id)
    const stale = await pl.setLimits(await pl.getHandle(id), 444, 888)
    await pl.commit(await pl.setLimits(await pl.getHandle(id), 333, 777))
    const before = await pl.getContainerConfig(id)
    const version = (await pl.getHandle(id)).baseVersion
    const e = await failure(pl.commit(stale))
    expect(e).toMatchObject({ code: 'CONFLICT', target: id, outcome: 'not-applied' })
    expect(await pl.getContainerConfig(id)).toEqual(before)
    expect((await pl.getHandle(id)).baseVersion).toBe(version)
  })

  it('a start whose program cannot be started powers the VM off again and reads as before', async () => {
    const id = await pl.commit(await createHandle())
    created.push(id)
    const before = await pl.getContainerState(id)
    await vcsim.vc.admin.failNext('StartProgramInGuest', 'GuestOperationsUnavailable')
    const e = await failure(pl.commit(await pl.setRunState(await pl.getHandle(id), 'running')))
    expect(e.detail?.fault).toBe('GuestOperationsUnavailable')
    expect(e.message).toContain(id)
    expect(await pl.getContainerState(id)).toEqual(before)
    expect(
      (await vmProperties(vcsim.gateway, await vmOf(vcsim.gateway, id), ['runtime.powerState'])).get(
        'runtime.powerState',
      ),
    ).toBe('poweredOff')
    expect(await pl.listContainers('created')).toContain(id)
    // It starts fine once the guest answers again.
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    expect((await pl.getContainerState(id)).status).toBe('running')
  })

  it('a create + start whose start fails leaves no container and no VM', async () => {
    const h = await createHandle(true)
    await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InsufficientResourcesFault')
    const e = await failure(pl.commit(h))
    expect(e.detail?.fault).toBe('InsufficientResourcesFault')
    expect(await vmsOf(h.containerId)).toBe(0)
    expect((await failure(pl.getContainerState(h.containerId))).code).toBe('NOT_FOUND')
  })

  it('a stop whose power-off fails after SIGTERM has landed: it succeeds, and the next read finishes the power-off', async () => {
    const id = await pl.commit(await createHandle(true))
    created.push(id)
    const problems: unknown[] = []
    const own = await vcsim.backend({ exitPollIntervalMs: 0, onBackgroundError: (e) => problems.push(e) })
    await vcsim.vc.admin.failNext('PowerOffVM_Task', 'TaskInProgress')
    await own.commit(await own.setRunState(await own.getHandle(id), 'stopped'))
    await own.close()
    expect(problems.length).toBeGreaterThan(0)
    // The exit is recorded and the VM is still on: the container reads stopped, and the next
    // read finishes the power-off.
    const state = await pl.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })
    expect(
      (await vmProperties(vcsim.gateway, await vmOf(vcsim.gateway, id), ['runtime.powerState'])).get(
        'runtime.powerState',
      ),
    ).toBe('poweredOff')
    await pl.destroyContainer(id)
    created.pop()
  })
})

describe('errors name the container', () => {
  it('a guest process list that fails while reading a running container names it, on vsphere, with the fault', async () => {
    const id = await pl.commit(await createHandle(true))
    created.push(id)
    const reads: Array<[string, () => Promise<unknown>]> = [
      ['getContainerState', () => pl.getContainerState(id)],
      ['getHandle', () => pl.getHandle(id)],
      ['signal', () => pl.signal(id, 10)],
      ['commit', async () => pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))],
    ]
    for (const [what, read] of reads) {
      await vcsim.vc.admin.failNext('ListProcessesInGuest', 'HostCommunication')
      const e = await failure(read())
      expect({ what, code: e.code, target: e.target, backend: e.backend, fault: e.detail?.fault }).toEqual({
        what,
        code: 'UNAVAILABLE',
        target: id,
        backend: 'vsphere',
        fault: 'HostCommunication',
      })
      expect(e.message).toContain(id)
    }
  })
})

describe('reads do not fail on housekeeping', () => {
  it('a read that records an exit still answers when the power-off after it fails; a later read powers off', async () => {
    const errors: unknown[] = []
    const own = await vcsim.backend({ exitPollIntervalMs: 0, onBackgroundError: (e) => errors.push(e) })
    try {
      const h = await own.setEntryPoint(await own.createContainer('exits'), '/', '/bin/sh', '-c "exit 5"')
      const id = await own.commit(await own.setRunState(h, 'running'))
      created.push(id)
      await vcsim.vc.admin.failNext('PowerOffVM_Task', 'TaskInProgress')
      const state = await own.getContainerState(id)
      expect(state.status).toBe('stopped')
      expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 5 })
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ target: id, detail: { fault: 'TaskInProgress' } })
      expect(await own.getContainerState(id)).toEqual(state)
      const vm = await vmOf(vcsim.gateway, id)
      expect((await vmProperties(vcsim.gateway, vm, ['runtime.powerState'])).get('runtime.powerState')).toBe(
        'poweredOff',
      )
    } finally {
      await own.close()
    }
  })
})

describe('an interrupted stop', () => {
  it('whose exit record and power-off both failed is finished by the next read: stopped, with the real exit code', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const own = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 }, hooked)
    try {
      const id = await own.commit(await createHandleOn(own, true))
      created.push(id)
      let reconfigures = 0
      const remove = hooked.intercept('ReconfigVM_Task', async (_args, forward) => {
        // The stop's own guarded reconfigure lands; the record of the exit after SIGTERM does not
        // (nor its retry).
        if (++reconfigures >= 2) {
          throw new PortLayerError('UNAVAILABLE', 'host went away', {
            backend: 'vsphere',
            detail: { fault: 'HostCommunication' },
          })
        }
        return forward()
      })
      await vcsim.vc.admin.failNext('PowerOffVM_Task', 'TaskInProgress')
      // SIGTERM went out, so the stop has happened: the commit succeeds.
      await own.commit(await own.setRunState(await own.getHandle(id), 'stopped'))
      remove()
      const state = await own.getContainerState(id)
      expect(state.status).toBe('stopped')
      expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })
      expect(
        (await vmProperties(vcsim.gateway, await vmOf(vcsim.gateway, id), ['runtime.powerState'])).get(
          'runtime.powerState',
        ),
      ).toBe('poweredOff')
    } finally {
      await own.close()
    }
  })
})

describe('sessions and credentials', () => {
  it('lists again after every session expired (its container view is made anew)', async () => {
    const id = await pl.commit(await createHandle())
    created.push(id)
    expect(await pl.listContainers()).toContain(id)
    await vcsim.vc.admin.expireSessions()
    expect(await pl.listContainers()).toContain(id)
  })

  it('refused guest credentials fail the start without the password anywhere, and change nothing', async () => {
    const secret = 'not-the-guest-password-9f8e'
    const wrong = await new PortLayerVsphere(
      vcsimSettings(vcsim.vc, {
        guest: { username: vcsim.vc.guest.username, password: secret },
        exitPollIntervalMs: 0,
      }),
    ).init(vcsim.gateway, new BasicHandleFactory())
    try {
      const id = await wrong.commit(await createHandleOn(wrong))
      created.push(id)
      const e = await failure(wrong.commit(await wrong.setRunState(await wrong.getHandle(id), 'running')))
      expect(e.detail?.fault).toBe('InvalidGuestLogin')
      const everything = JSON.stringify({
        message: e.message,
        json: e.toJSON(),
        stack: e.stack,
        cause: String(e.cause),
      })
      expect(everything).not.toContain(secret)
      expect((await wrong.getContainerState(id)).status).toBe('created')
    } finally {
      await wrong.close()
    }
  })
})

async function createHandleOn(backend: PortLayerVsphere, run = false): Promise<Handle> {
  const h = await backend.setEntryPoint(
    await backend.createContainer('wrong-guest'),
    '/',
    '/bin/sleep',
    '3600',
  )
  return run ? backend.setRunState(h, 'running') : h
}
