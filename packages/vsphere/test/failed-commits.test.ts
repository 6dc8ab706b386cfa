import { type CommitExtension, type Handle, type ID, PortLayerError } from '@portlayer/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PortLayerVsphere } from '../src/index.js'
import { failure } from './support/failure.js'
import { HookedGateway } from './support/hooked-gateway.js'
import { extraConfigOf, vmOf, vmProperties } from './support/inspect.js'
import { useVcsim } from './support/vcsim.js'

// A commit whose VM reconfiguration landed but whose later steps (power-on, file copies, program
// start) failed: the backend puts the previous configuration back with a compensating,
// version-checked reconfigure, so the container reads exactly as before. Faults come from the
// harness's admin endpoint.

const vcsim = useVcsim()
const text = new TextEncoder()
let pl: PortLayerVsphere
const backends: PortLayerVsphere[] = []
const created: ID[] = []

/** An extension that records what it was told and contributes one extraConfig key. */
function probe(namespace: string, devices = false) {
  const calls = { committed: 0, rolledBack: 0 }
  const extension: CommitExtension<string, string> = {
    namespace,
    prepare: ({ pending }) => ({
      applied: pending,
      reconfigure: {
        extraConfig: { [`guestinfo.test.${namespace}`]: pending },
        ...(devices
          ? {
              deviceChange: [
                {
                  operation: 'add',
                  device: {
                    _type: 'VirtualE1000',
                    key: -1,
                    backing: { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'VM Network' },
                  },
                },
              ],
            }
          : {}),
      },
      commit: () => {
        calls.committed++
      },
      rollback: () => {
        calls.rolledBack++
      },
    }),
  }
  return { extension, calls }
}

beforeEach(async () => {
  await vcsim.vc.admin.reset()
  pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
  backends.push(pl)
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
  for (const b of backends.splice(0)) await b.close()
})

/** Everything a reader can see of a container, plus the VM's own configuration. */
async function everything(id: ID, namespaces: readonly string[] = []) {
  const vm = await vmOf(vcsim.gateway, id)
  const extra = await extraConfigOf(vcsim.gateway, vm)
  // The commit token changes with every reconfiguration, also a compensating one.
  extra.delete('guestinfo.portlayer.rev')
  const props = await vmProperties(vcsim.gateway, vm, [
    'config.hardware.memoryMB',
    'config.cpuAllocation.limit',
    'runtime.powerState',
  ])
  const extensions: Record<string, unknown> = {}
  for (const ns of namespaces) extensions[ns] = await pl.getExtensionState(id, ns)
  return {
    config: await pl.getContainerConfig(id),
    state: await pl.getContainerState(id),
    extensions,
    extraConfig: Object.fromEntries(
      [...extra].filter(([k]) => k.startsWith('guestinfo.portlayer.') || k.startsWith('guestinfo.test.')),
    ),
    vm: Object.fromEntries(props),
  }
}

async function stoppedContainer(configure: (h: Handle) => Promise<Handle> = async (h) => h): Promise<ID> {
  let h = await pl.createContainer('failed-commit')
  h = await pl.setEntryPoint(h, '/', '/bin/sleep', '3600')
  h = await pl.setLimits(h, 300, 1000)
  const id = await pl.commit(await configure(h))
  created.push(id)
  return id
}

/** A handle that changes limits, entry point, a pending file and the probe's slot, and starts. */
async function changeEverythingAndStart(id: ID, namespace: string): Promise<Handle> {
  let h = await pl.getHandle(id)
  h = await pl.setLimits(h, 444, 1444)
  h = await pl.setEntryPoint(h, '/srv', '/bin/sleep', '60')
  h = await pl.copyTo(h, '/tmp', 'new.txt', 0o644, text.encode('new'))
  h = { ...h, pending: { ...h.pending, extensions: { [namespace]: 'after' } } }
  return pl.setRunState(h, 'running')
}

describe('a start that fails after the commit’s reconfiguration', () => {
  it.each([
    ['PowerOnVM_Task', 'InvalidState', 'INVALID_STATE'],
    ['InitiateFileTransferToGuest', 'GuestOperationsUnavailable', 'INVALID_STATE'],
    ['StartProgramInGuest', 'GuestOperationsUnavailable', 'INVALID_STATE'],
  ])(
    '%s failing with %s puts limits, entry point and the extension value back',
    async (method, fault, code) => {
      const { extension, calls } = probe('test.undo')
      pl.registerExtension(extension)
      const id = await stoppedContainer(async (h) => ({
        ...h,
        pending: { ...h.pending, extensions: { 'test.undo': 'before' } },
      }))
      await pl.commit(await pl.copyTo(await pl.getHandle(id), '/tmp', 'old.txt', 0o644, text.encode('old')))
      const before = await everything(id, ['test.undo'])
      const committedBefore = calls.committed

      const h = await changeEverythingAndStart(id, 'test.undo')
      await vcsim.vc.admin.failNext(method, fault)
      const e = await failure(pl.commit(h))
      expect(e.code).toBe(code)
      expect(e.backend).toBe('vsphere')
      expect(e.target).toBe(id)
      expect(e.message).toContain(id)
      expect(e.detail?.fault).toBe(fault)

      expect(await everything(id, ['test.undo'])).toEqual(before)
      expect(calls.committed, 'the failed commit is not committed to the extension').toBe(committedBefore)
      expect(calls.rolledBack, 'the failed commit is rolled back once').toBe(1)

      // The container still works: the next start (from a fresh handle) runs the old entry point.
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
      expect(await pl.copyFrom(id, '/tmp', 'old.txt')).toEqual(text.encode('old'))
      expect((await pl.getContainerConfig(id)).mainProcess?.execArgs).toBe('3600')
    },
  )

  it('an extension that added devices keeps its part (devices cannot be taken back); the rest is put back', async () => {
    const { extension, calls } = probe('test.nic', true)
    pl.registerExtension(extension)
    const id = await stoppedContainer()
    const before = await everything(id)
    const h = await changeEverythingAndStart(id, 'test.nic')
    await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InvalidState')
    await failure(pl.commit(h))

    const after = await everything(id, ['test.nic'])
    expect(after.extensions).toEqual({ 'test.nic': 'after' })
    expect(after.extraConfig['guestinfo.test.test.nic']).toBe('after')
    expect(calls).toEqual({ committed: 1, rolledBack: 0 })
    delete after.extraConfig['guestinfo.test.test.nic']
    delete after.extraConfig['guestinfo.portlayer.ext.test.nic']
    expect({ ...after, extensions: {} }).toEqual(before)
  })

  it('a restart whose main process had exited unobserved reads the real exit afterwards', async () => {
    const id = await stoppedContainer()
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    const h = await pl.setRunState(await pl.getHandle(id), 'running')
    // The main process dies; nothing records it (signal only sends it through the guest).
    await pl.signal(id, 9)
    await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InvalidState')
    await failure(pl.commit(h))
    const state = await pl.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 137 })
    expect(state.mainProcess?.finishedAt).toBeInstanceOf(Date)
  })

  it('a start another client reads while its power-on hangs and then fails: the reader sees the container as before, and its commit lands after the start is taken back', async () => {
    const other = await vcsim.backend({ exitPollIntervalMs: 0 })
    backends.push(other)
    const id = await stoppedContainer()
    const before = await other.getContainerConfig(id)
    let h = await pl.setEntryPoint(await pl.getHandle(id), '/srv', '/bin/sleep', '60')
    h = await pl.setRunState(await pl.setLimits(h, 444, 1444), 'running')
    await vcsim.vc.admin.delay('PowerOnVM_Task', 800)
    await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InvalidState')
    const failing = failure(pl.commit(h))
    // While the power-on hangs the start is staged: another client sees the container as before
    // and commits on top of that (its commit waits for the start to end).
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await other.getContainerConfig(id)).toEqual(before)
    expect((await other.getContainerState(id)).status).toBe('created')
    const otherCommit = other.commit(
      await other.setEntryPoint(await other.getHandle(id), '/srv', '/bin/sleep', '61'),
    )
    const e = await failing
    expect(e).toMatchObject({ code: 'INVALID_STATE', outcome: 'not-applied' })
    expect(await otherCommit).toBe(id)
    await vcsim.vc.admin.reset()
    const config = await pl.getContainerConfig(id)
    expect(config.limits).toEqual(before.limits)
    expect(config.mainProcess).toMatchObject({ workDir: '/srv', execArgs: '61' })
    expect((await pl.getContainerState(id)).status).toBe('created')
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    expect((await pl.getContainerState(id)).mainProcess?.status).toBe('started')
  })
})

describe('when the configuration cannot be put back', () => {
  it('the commit’s configuration stays, the extension keeps its part, and onBackgroundError hears why', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const errors: PortLayerError[] = []
    const own = await vcsim.backend(
      { exitPollIntervalMs: 0, onBackgroundError: (e) => errors.push(e as PortLayerError) },
      hooked,
    )
    backends.push(own)
    const { extension, calls } = probe('test.kept')
    own.registerExtension(extension)
    const id = await own.commit(
      await own.setEntryPoint(await own.createContainer('no-undo'), '/', '/bin/sleep', '3600'),
    )
    created.push(id)
    const before = await own.getContainerConfig(id)
    let h = await own.setLimits(await own.getHandle(id), 444, 1444)
    h = { ...h, pending: { ...h.pending, extensions: { 'test.kept': 'after' } } }
    h = await own.setRunState(h, 'running')
    let reconfigures = 0
    const unhook = hooked.intercept('ReconfigVM_Task', async (_args, forward) => {
      // The commit's own reconfigure goes through; the compensating one is refused.
      if (++reconfigures === 2) {
        throw new PortLayerError('UNAVAILABLE', 'host went away', {
          backend: 'vsphere',
          detail: { fault: 'HostCommunication' },
        })
      }
      return forward()
    })
    await vcsim.vc.admin.failNext('PowerOnVM_Task', 'InvalidState')
    const error = await failure(own.commit(h))
    // The start could not be taken back: the caller is told the outcome is unknown.
    expect(error).toMatchObject({ code: 'UNAVAILABLE', outcome: 'unknown' })
    expect(error.detail?.fault).toBe('InvalidState')
    expect(reconfigures).toBe(2)
    expect(errors.map((e) => [e.target, e.detail?.fault])).toEqual([[id, 'HostCommunication']])
    // The start stays staged, so readers still see the container as before it; the extension
    // was told commit (the outcome is not known to be nothing).
    expect((await own.getContainerConfig(id)).limits).toEqual(before.limits)
    expect(await own.getExtensionState(id, 'test.kept')).toBeUndefined()
    expect(calls).toEqual({ committed: 1, rolledBack: 0 })
    const state = await own.getContainerState(id)
    expect(state.status).toBe('created')
    expect(state.mainProcess?.status).toBe('not-started')
    unhook()
    // This process gave the start up: its next commit takes it back at once, then starts.
    await own.commit(await own.setRunState(await own.getHandle(id), 'running'))
    expect((await own.getContainerState(id)).mainProcess?.status).toBe('started')
    expect((await own.getContainerConfig(id)).limits).toEqual(before.limits)
  })
})

describe('a commit to a running container whose file copy fails', () => {
  it('puts the entry point and the extension value back', async () => {
    const { extension, calls } = probe('test.run')
    pl.registerExtension(extension)
    const id = await stoppedContainer()
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    const before = await everything(id, ['test.run'])
    let h = await pl.setEntryPoint(await pl.getHandle(id), '/srv', '/bin/sleep', '60')
    h = await pl.copyTo(h, '/tmp', 'late.txt', 0o644, text.encode('late'))
    h = { ...h, pending: { ...h.pending, extensions: { 'test.run': 'after' } } }
    await vcsim.vc.admin.failNext('InitiateFileTransferToGuest', 'GuestOperationsUnavailable')
    const e = await failure(pl.commit(h))
    expect(e.target).toBe(id)
    expect(await everything(id, ['test.run'])).toEqual(before)
    expect(calls).toEqual({ committed: 0, rolledBack: 1 })
  })
})
