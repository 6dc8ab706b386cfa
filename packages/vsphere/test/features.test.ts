import { type CommitExtension, type ID, PortLayerError } from '@portlayer/contracts'
import type { VimArgs } from '@portlayer/contracts/vmomi'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { INLINE_FILE_MAX_BYTES, type PortLayerVsphere, type VsphereSettings } from '../src/index.js'
import { CountingGateway } from './support/counting-gateway.js'
import { extraConfigOf, vmOf, vmProperties, vmsInFolder } from './support/inspect.js'
import { useVcsim } from './support/vcsim.js'

// vSphere-specific behaviour on the vcsim harness: where things are stored, cloning, the exit
// poll, and extensions contributing to the VM reconfiguration.

const vcsim = useVcsim()
const text = new TextEncoder()
const backends: PortLayerVsphere[] = []
const created: Array<[PortLayerVsphere, ID]> = []

async function backend(
  overrides: Partial<VsphereSettings> = {},
  counting?: CountingGateway,
): Promise<PortLayerVsphere> {
  const pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000, ...overrides }, counting)
  backends.push(pl)
  return pl
}

async function track(pl: PortLayerVsphere, id: Promise<ID>): Promise<ID> {
  const value = await id
  created.push([pl, value])
  return value
}

beforeEach(() => vcsim.vc.admin.reset())

afterEach(async () => {
  for (const [pl, id] of created.splice(0)) {
    try {
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
      await pl.destroyContainer(id)
    } catch {
      // already gone
    }
  }
  for (const pl of backends.splice(0)) await pl.close()
})

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('what is stored where', () => {
  it('identity, config and small pending files live in guestinfo.portlayer.* extraConfig; limits in the VM', async () => {
    const pl = await backend()
    let h = await pl.createContainer('stored')
    h = await pl.setEntryPoint(h, '/srv', '/bin/sleep', '5')
    h = await pl.setLimits(h, 300, 1200)
    h = await pl.copyTo(h, '/etc', 'app.conf', 0o640, text.encode('x=1'))
    const id = await track(pl, pl.commit(h))
    const vm = await vmOf(vcsim.gateway, id)
    const extra = await extraConfigOf(vcsim.gateway, vm)
    expect(extra.get('guestinfo.portlayer.id')).toBe(id)
    expect(extra.get('guestinfo.portlayer.name')).toBe('stored')
    expect(JSON.parse(extra.get('guestinfo.portlayer.limits') ?? '')).toEqual({ memoryMb: 300, cpuMhz: 1200 })
    expect(JSON.parse(extra.get('guestinfo.portlayer.main') ?? '')).toMatchObject({
      workDir: '/srv',
      execPath: '/bin/sleep',
      execArgs: '5',
    })
    expect(JSON.parse(extra.get('guestinfo.portlayer.files') ?? '')).toEqual([
      { dir: '/etc', name: 'app.conf', perms: 0o640, size: 3, data: Buffer.from('x=1').toString('base64') },
    ])
    const props = await vmProperties(vcsim.gateway, vm, [
      'config.hardware.memoryMB',
      'config.cpuAllocation.limit',
      'config.changeVersion',
    ])
    expect(props.get('config.hardware.memoryMB')).toBe(300)
    expect(props.get('config.cpuAllocation.limit')).toBe(1200)
    // The version a handle carries is the last commit's token (recorded facts do not move it).
    expect(props.get('config.changeVersion')).toEqual(expect.any(String))
    const tokens = (extra.get('guestinfo.portlayer.rev') ?? '').split(' ')
    expect((await pl.getHandle(id)).baseVersion).toBe(tokens.at(-1))
  })

  it('a big pending file waits on the datastore, lands in the guest at start, and leaves the record after', async () => {
    const pl = await backend()
    const big = new Uint8Array(INLINE_FILE_MAX_BYTES * 5).map((_, i) => i % 251)
    let h = await pl.setEntryPoint(await pl.createContainer('big-file'), '/', '/bin/sleep', '3600')
    h = await pl.copyTo(h, '/opt/data', 'blob.bin', 0o600, big)
    const id = await track(pl, pl.commit(h))
    const vm = await vmOf(vcsim.gateway, id)
    const [pending] = JSON.parse(
      (await extraConfigOf(vcsim.gateway, vm)).get('guestinfo.portlayer.files') ?? '[]',
    )
    expect(pending).toMatchObject({
      dir: '/opt/data',
      name: 'blob.bin',
      size: big.byteLength,
      datastore: 'LocalDS_0',
    })
    expect(pending.data).toBeUndefined()
    expect(pending.path).toMatch(new RegExp(`^portlayer-files/${id}/`))
    const staged = await vcsim.gateway.transfer({
      method: 'GET',
      url: `/folder/${pending.path}?dcPath=DC0&dsName=LocalDS_0`,
    })
    expect(staged.body).toEqual(big)

    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    expect(await pl.copyFrom(id, '/opt/data', 'blob.bin')).toEqual(big)
    expect((await extraConfigOf(vcsim.gateway, vm)).has('guestinfo.portlayer.files')).toBe(false)
  })

  it('a new backend instance (no cache) finds containers by name and lists only portlayer VMs', async () => {
    const first = await backend()
    const id = await track(first, first.commit(await first.createContainer('found-again')))
    const second = await backend()
    expect((await second.getContainerConfig(id)).name).toBe('found-again')
    const listed = await second.listContainers()
    expect(listed).toContain(id)
    const all = await vmsInFolder(vcsim.gateway)
    const others = all.filter((vm) => !vm.name.startsWith('portlayer-'))
    expect(others.length).toBeGreaterThan(0) // vcsim's own VMs share the folder
    expect(listed.length).toBe(all.length - others.length)
  })
})

describe('cloning a template', () => {
  it('clones the template VM in one CloneVM_Task and runs it like a blank one', async () => {
    const counting = new CountingGateway(vcsim.gateway)
    const pl = await backend({ template: 'DC0/vm/DC0_H0_VM0' }, counting)
    let h = await pl.setEntryPoint(await pl.createContainer('cloned'), '/', '/bin/sleep', '3600')
    h = await pl.setLimits(h, 128, 300)
    counting.reset()
    const id = await track(pl, pl.commit(h))
    expect(counting.snapshot()).toEqual({ CloneVM_Task: 1, waitForTask: 1 })
    // The clone's config carries the limits and the identity (vcsim 0.24 applies only the
    // extraConfig and device changes of a clone spec; vCenter applies all of it).
    const clone = counting.calls.find((c) => c.method === 'CloneVM_Task')?.args as VimArgs<'CloneVM_Task'>
    expect(clone.spec).toMatchObject({
      template: false,
      powerOn: false,
      config: { memoryMB: 128, cpuAllocation: { limit: 300 } },
    })
    expect(clone.spec.config?.extraConfig).toContainEqual({ key: 'guestinfo.portlayer.id', value: id })
    expect((await pl.getContainerConfig(id)).name).toBe('cloned')
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    expect((await pl.getContainerState(id)).status).toBe('running')
    // The template itself is untouched and is not a container.
    const template = await vmOf(vcsim.gateway, id).then(() =>
      vcsim.gateway.call('FindByInventoryPath', {
        _this: vcsim.gateway.serviceContent.searchIndex,
        inventoryPath: 'DC0/vm/DC0_H0_VM0',
      }),
    )
    expect((await extraConfigOf(vcsim.gateway, template as never)).has('guestinfo.portlayer.id')).toBe(false)
  })
})

describe('the background exit poll', () => {
  it('notices a main process that exited by itself, records it and powers the VM off, with no read of that container', async () => {
    const pl = await backend({ exitPollIntervalMs: 50 })
    const h = await pl.setRunState(
      await pl.setEntryPoint(await pl.createContainer('polled'), '/', '/bin/sleep', '0.3'),
      'running',
    )
    const id = await track(pl, pl.commit(h))
    const vm = await vmOf(vcsim.gateway, id)
    let power = ''
    for (let i = 0; i < 60 && power !== 'poweredOff'; i++) {
      await pause(50)
      power = String(
        (await vmProperties(vcsim.gateway, vm, ['runtime.powerState'])).get('runtime.powerState'),
      )
    }
    expect(power).toBe('poweredOff')
    const recorded = JSON.parse(
      (await extraConfigOf(vcsim.gateway, vm)).get('guestinfo.portlayer.main.state') ?? '{}',
    )
    expect(recorded).toMatchObject({ phase: 'exited', exitCode: 0, exitMsg: '' })
    expect(await pl.listContainers('stopped')).toContain(id)
  })

  it('without the poll, the exit is noticed by the next read of that container', async () => {
    const pl = await backend({ exitPollIntervalMs: 0 })
    const h = await pl.setRunState(
      await pl.setEntryPoint(await pl.createContainer('lazy'), '/', '/bin/sh', '-c "exit 7"'),
      'running',
    )
    const id = await track(pl, pl.commit(h))
    expect(await pl.listContainers('running')).toContain(id) // nobody looked at the guest yet
    const state = await pl.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 7 })
    expect(await pl.listContainers('stopped')).toContain(id)
  })
})

describe('exits nobody observed yet', () => {
  it('limits committed after the main process exited unobserved apply: the container is stopped, not running', async () => {
    const pl = await backend()
    const h0 = await pl.setEntryPoint(await pl.createContainer('exited-unseen'), '/', '/bin/sleep', '3600')
    const id = await track(pl, pl.commit(await pl.setRunState(h0, 'running')))
    const h = await pl.setLimits(await pl.getHandle(id), 333, 777)
    // The main process dies; nothing records it (signal only sends it through the guest).
    await pl.signal(id, 9)
    await pl.commit(h)
    expect((await pl.getContainerConfig(id)).limits).toEqual({ memoryMb: 333, cpuMhz: 777 })
    const state = await pl.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess).toMatchObject({ status: 'exited', exitCode: 137 })
  })
})

describe('extensions on vSphere', () => {
  it('fold their extraConfig and device changes into the commit’s one reconfiguration', async () => {
    const counting = new CountingGateway(vcsim.gateway)
    const pl = await backend({}, counting)
    const nic: CommitExtension<{ nic: boolean }, { nic: boolean }> = {
      namespace: 'test.nic',
      prepare: ({ pending }) => ({
        applied: pending,
        reconfigure: {
          extraConfig: { 'guestinfo.test.nic': pending.nic ? 'yes' : '' },
          deviceChange: pending.nic
            ? [
                {
                  operation: 'add',
                  device: {
                    _type: 'VirtualE1000',
                    key: -1,
                    backing: { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'VM Network' },
                  },
                },
              ]
            : [],
        },
      }),
    }
    pl.registerExtension(nic)
    const id = await track(pl, pl.commit(await pl.createContainer('with-nic')))
    let h = await pl.setLimits(await pl.getHandle(id), 256, 512)
    h = { ...h, pending: { ...h.pending, extensions: { 'test.nic': { nic: true } } } }
    counting.reset()
    await pl.commit(h)
    // One reconfiguration, on the read the handle was just made from.
    expect(counting.snapshot()).toEqual({ ReconfigVM_Task: 1, waitForTask: 1 })
    const vm = await vmOf(vcsim.gateway, id)
    const extra = await extraConfigOf(vcsim.gateway, vm)
    expect(extra.get('guestinfo.test.nic')).toBe('yes')
    expect(JSON.parse(extra.get('guestinfo.portlayer.ext.test.nic') ?? '')).toEqual({ nic: true })
    expect(await pl.getExtensionState(id, 'test.nic')).toEqual({ nic: true })
    const devices = JSON.stringify(
      (await vmProperties(vcsim.gateway, vm, ['config.hardware.device'])).get('config.hardware.device'),
    )
    expect(devices).toContain('VirtualE1000')
  })

  it('may not write portlayer’s own keys', async () => {
    const pl = await backend()
    let rolledBack = 0
    pl.registerExtension({
      namespace: 'test.sneaky',
      prepare: () => ({
        applied: 1,
        reconfigure: { extraConfig: { 'guestinfo.portlayer.name': 'hijacked' } },
        rollback: () => {
          rolledBack++
        },
      }),
    })
    const id = await track(pl, pl.commit(await pl.createContainer('guarded')))
    let h = await pl.getHandle(id)
    h = { ...h, pending: { ...h.pending, extensions: { 'test.sneaky': true } } }
    await expect(pl.commit(h)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', backend: 'vsphere' })
    expect(rolledBack).toBe(1)
    expect((await pl.getContainerConfig(id)).name).toBe('guarded')
  })

  it('an extension that throws is reported on vsphere for the container, with its code (INVALID_ARGUMENT for a plain error)', async () => {
    const pl = await backend()
    const id = await track(pl, pl.commit(await pl.createContainer('refused')))
    const throwing = (namespace: string, error: unknown) =>
      pl.registerExtension({
        namespace,
        prepare: () => {
          throw error
        },
      })
    throwing('test.plain', new Error('no addresses left'))
    throwing('test.bare', new PortLayerError('CONFLICT', 'pool changed'))
    const withSlot = async (namespace: string) => {
      const h = await pl.getHandle(id)
      return { ...h, pending: { ...h.pending, extensions: { [namespace]: 1 } } }
    }
    const plain = await pl.commit(await withSlot('test.plain')).catch((e: PortLayerError) => e)
    expect(plain).toMatchObject({ code: 'INVALID_ARGUMENT', backend: 'vsphere', target: id })
    expect(PortLayerError.isInstance(plain) && plain.message).toContain('no addresses left')
    const bare = await pl.commit(await withSlot('test.bare')).catch((e: PortLayerError) => e)
    expect(bare).toMatchObject({ code: 'CONFLICT', backend: 'vsphere', target: id })
    expect(PortLayerError.isInstance(bare) && bare.message).toContain(id)
  })

  it('an applied value that is not JSON data refuses the commit as INVALID_ARGUMENT and rolls the plan back', async () => {
    const pl = await backend()
    let rolledBack = 0
    pl.registerExtension({
      namespace: 'test.bigint',
      prepare: () => ({
        applied: 10n,
        rollback: () => {
          rolledBack++
        },
      }),
    })
    const id = await track(pl, pl.commit(await pl.createContainer('not-json')))
    const h = await pl.getHandle(id)
    const e = await pl
      .commit({ ...h, pending: { ...h.pending, extensions: { 'test.bigint': 1 } } })
      .catch((err: PortLayerError) => err)
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', backend: 'vsphere', target: id })
    expect(rolledBack).toBe(1)
    expect(await pl.getExtensionState(id, 'test.bigint')).toBeUndefined()
  })

  it('refuses a handle whose slot has no registered extension', async () => {
    const pl = await backend()
    const id = await track(pl, pl.commit(await pl.createContainer('unregistered')))
    let h = await pl.getHandle(id)
    h = { ...h, pending: { ...h.pending, extensions: { 'nobody.home': 1 } } }
    await expect(pl.commit(h)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', target: id })
  })
})

describe('process output on vSphere', () => {
  const decoder = new TextDecoder()
  async function all(iterable: AsyncIterable<{ stream: string; data: Uint8Array; dropped?: number }>) {
    const out = { stdout: '', stderr: '', dropped: 0 }
    for await (const chunk of iterable) {
      out[chunk.stream as 'stdout' | 'stderr'] += decoder.decode(chunk.data)
      out.dropped += chunk.dropped ?? 0
    }
    return out
  }

  it('a crashed container: its output is kept on the datastore before the read that noticed the exit powers the VM off, and read from there while it is stopped', async () => {
    const pl = await backend()
    let h = await pl.createContainer('crashed')
    h = await pl.setEntryPoint(h, '/tmp', '/bin/sh', '-c "echo it broke >&2; exit 3"')
    const id = await track(pl, pl.commit(await pl.setRunState(h, 'running')))
    const exited = await pl.waitForExit(id)
    expect(exited).toMatchObject({ status: 'exited', exitCode: 3 })
    expect((await pl.getContainerState(id)).status).toBe('stopped')
    const vm = await vmOf(vcsim.gateway, id)
    expect((await vmProperties(vcsim.gateway, vm, ['runtime.powerState'])).get('runtime.powerState')).toBe(
      'poweredOff',
    )
    expect(await all(pl.readOutput(id))).toEqual({ stdout: '', stderr: 'it broke\n', dropped: 0 })
    // Another client reads it too (from the datastore: the VM is off).
    const other = await backend()
    expect((await all(other.readOutput(id))).stderr).toBe('it broke\n')
    await pl.destroyContainer(id)
    await expect(pl.readOutput(id)[Symbol.asyncIterator]().next()).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })

  it('keeps the last outputLimitBytes of a stream and says how many were dropped', async () => {
    const pl = await backend({ outputLimitBytes: 4 })
    let h = await pl.createContainer('limited')
    h = await pl.setEntryPoint(h, '/tmp', '/bin/echo', 'abcdefgh')
    const id = await track(pl, pl.commit(await pl.setRunState(h, 'running')))
    await pl.waitForExit(id)
    expect(await all(pl.readOutput(id))).toEqual({ stdout: 'fgh\n', stderr: '', dropped: 5 })
  })

  it('follows an exec’d process until it exits, binary-safe (bytes that are not UTF-8 come back as written)', async () => {
    const pl = await backend()
    let h = await pl.createContainer('binary')
    h = await pl.setEntryPoint(h, '/tmp', '/bin/sleep', '3600')
    const bytes = new Uint8Array([0, 255, 254, 10, 128, 1])
    h = await pl.copyTo(h, '/tmp', 'blob.bin', 0o644, bytes)
    const id = await track(pl, pl.commit(await pl.setRunState(h, 'running')))
    const pid = await pl.execProcess(id, '/tmp', '/bin/cat', 'blob.bin')
    const chunks: Uint8Array[] = []
    for await (const c of pl.readOutput(pid, { follow: true })) if (c.stream === 'stdout') chunks.push(c.data)
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes))
    expect((await pl.waitForExit(pid)).exitCode).toBe(0)
  })
})

describe('waiting for exits on vSphere', () => {
  it('waiters of one container share their looks: three waiters ask the guest no more often than one', async () => {
    const counting = new CountingGateway(vcsim.gateway)
    const pl = await backend({}, counting)
    let h = await pl.createContainer('shared-wait')
    h = await pl.setEntryPoint(h, '/tmp', '/bin/sleep', '2')
    const id = await track(pl, pl.commit(await pl.setRunState(h, 'running')))
    counting.reset()
    const alone = await pl.waitForExit(id)
    const oneWaiter = counting.snapshot().ListProcessesInGuest ?? 0

    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    counting.reset()
    const three = await Promise.all([pl.waitForExit(id), pl.waitForExit(id), pl.waitForExit(id)])
    const threeWaiters = counting.snapshot().ListProcessesInGuest ?? 0
    expect(alone.exitCode).toBe(0)
    expect(three.map((s) => s.exitCode)).toEqual([0, 0, 0])
    expect(threeWaiters).toBeLessThanOrEqual(oneWaiter + 1)
  })

  it('an aborted waiter rejects CANCELLED and leaves the process and the other waiters alone', async () => {
    const pl = await backend()
    let h = await pl.createContainer('abort-wait')
    h = await pl.setEntryPoint(h, '/tmp', '/bin/sleep', '2')
    const id = await track(pl, pl.commit(await pl.setRunState(h, 'running')))
    const other = pl.waitForExit(id)
    await expect(pl.waitForExit(id, { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({
      code: 'CANCELLED',
      outcome: 'not-applied',
    })
    expect((await pl.getContainerState(id)).mainProcess?.status).toBe('started')
    expect((await other).exitCode).toBe(0)
  })
})

describe('events of containers other clients run', () => {
  it('while someone listens, a container another client started is watched for exits: its exit is recorded and reported', async () => {
    const listener = await backend({ exitPollIntervalMs: 100 })
    const other = await backend({ exitPollIntervalMs: 0 })
    const stream = listener.events({ types: ['started', 'exited'] })
    await stream.ready
    let h = await other.createContainer('others-exit')
    h = await other.setEntryPoint(h, '/tmp', '/bin/sleep', '1')
    const id = await track(other, other.commit(await other.setRunState(h, 'running')))
    const seen: string[] = []
    for await (const e of stream) {
      if (e.type === 'resync' || e.containerId !== id) continue
      seen.push(e.type === 'exited' ? `exited ${e.exitCode}` : e.type)
      if (e.type === 'exited') break
    }
    expect(seen).toEqual(['started', 'exited 0'])
  })
})

describe('the exit poll built on the event stream', () => {
  it('while the event stream watches, a poll round reads no VM properties of its own (only the guests are asked)', async () => {
    const counting = new CountingGateway(vcsim.gateway)
    const pl = await backend({ exitPollIntervalMs: 100 }, counting)
    let h = await pl.createContainer('poll-on-stream')
    h = await pl.setEntryPoint(h, '/tmp', '/bin/sleep', '3600')
    const id = await track(pl, pl.commit(await pl.setRunState(h, 'running')))
    await pl.getContainerState(id) // watched from now on
    const stream = pl.events({ containerId: id })
    await stream.ready
    await pause(300)
    counting.reset()
    await pause(1_000)
    const calls = counting.snapshot()
    await stream.return?.()
    expect(calls.ListProcessesInGuest ?? 0).toBeGreaterThanOrEqual(3)
    expect(calls.RetrievePropertiesEx ?? 0).toBe(0)
  })
})
