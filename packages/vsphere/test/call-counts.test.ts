import type { Handle, ID } from '@portlayer/contracts'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PortLayerVsphere } from '../src/index.js'
import { CountingGateway } from './support/counting-gateway.js'
import { useVcsim } from './support/vcsim.js'

// Round trips per operation, counted at the gateway (each `call` is one SOAP request; a task
// wait is counted once; transfers by verb). A change that adds a round trip fails here.
// The background exit poll is off so nothing but the operation under test talks to vSphere.

const vcsim = useVcsim()
const text = new TextEncoder()

let counting: CountingGateway
let pl: PortLayerVsphere
const created: ID[] = []

beforeEach(async () => {
  counting = new CountingGateway(vcsim.gateway)
  pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 2_000 }, counting)
})

afterEach(async () => {
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

async function newContainer(configure: (h: Handle) => Promise<Handle> = async (h) => h): Promise<ID> {
  const id = await pl.commit(await configure(await pl.createContainer('counted')))
  created.push(id)
  return id
}

const withEntry = async (h: Handle) =>
  pl.copyTo(
    await pl.setLimits(await pl.setEntryPoint(h, '/', '/bin/sleep', '3600'), 256, 500),
    '/tmp',
    'seed.txt',
    0o644,
    text.encode('seed'),
  )

describe('SOAP round trips per operation', () => {
  it('create + commit (name, entry point, limits, a pending file): one CreateVM_Task, no lookup first (vSphere refuses a duplicate)', async () => {
    const h = await withEntry(await pl.createContainer('counted'))
    const counts = await counting.measure(async () => {
      created.push(await pl.commit(h))
    })
    expect(counts).toEqual({ CreateVM_Task: 1, waitForTask: 1 })
  })

  it('create + commit with Running: the create, then power-on, file copy and program start', async () => {
    const h = await pl.setRunState(await withEntry(await pl.createContainer('counted')), 'running')
    const counts = await counting.measure(async () => {
      created.push(await pl.commit(h))
    })
    expect(counts).toEqual({
      CreateVM_Task: 1,
      InitiateFileTransferToGuest: 1,
      PowerOnVM_Task: 1,
      ReconfigVM_Task: 1,
      RetrievePropertiesEx: 1,
      StartProgramInGuest: 1,
      'transfer:PUT': 1,
      // The power-on's end is read with the tools' state, in one call.
      waitForTask: 2,
    })
  })

  it('a handle that changes nothing: one read, no reconfigure', async () => {
    const id = await newContainer(withEntry)
    const h = await pl.getHandle(id)
    expect(await counting.measure(() => pl.commit(h))).toEqual({ RetrievePropertiesEx: 1 })
  })

  it('a handle that asks for the state the container already has is a commit (as on every backend): one reconfigure, on the read the handle was made from', async () => {
    const id = await newContainer(withEntry)
    const stopped = await pl.setRunState(await pl.getHandle(id), 'stopped')
    expect(await counting.measure(() => pl.commit(stopped))).toEqual({
      ReconfigVM_Task: 1,
      waitForTask: 1,
    })
    await expect(pl.commit(stopped)).rejects.toMatchObject({ code: 'CONFLICT' })
  })

  it('a stale handle that changes nothing: one read, then CONFLICT', async () => {
    const id = await newContainer(withEntry)
    const stale = await pl.getHandle(id)
    await pl.commit(await pl.setLimits(await pl.getHandle(id), 300, 600))
    counting.reset()
    await expect(pl.commit(stale)).rejects.toMatchObject({ code: 'CONFLICT' })
    expect(counting.snapshot()).toEqual({ RetrievePropertiesEx: 1 })
  })

  it('limits, entry point and files on a stopped container, committed right after getHandle: one reconfigure, guarded by the version the handle was read at', async () => {
    const id = await newContainer(withEntry)
    let h = await pl.getHandle(id)
    h = await pl.setLimits(h, 300, 600)
    h = await pl.setEntryPoint(h, '/srv', '/bin/sleep', '60')
    h = await pl.copyTo(h, '/etc/app', 'a.conf', 0o600, text.encode('a=1'))
    expect(await counting.measure(() => pl.commit(h))).toEqual({
      ReconfigVM_Task: 1,
      waitForTask: 1,
    })
  })

  it('start: one guarded reconfigure (on the handle’s read), power-on read with the tools check, file copy, program start, record', async () => {
    const id = await newContainer(withEntry)
    const h = await pl.setRunState(await pl.getHandle(id), 'running')
    expect(await counting.measure(() => pl.commit(h))).toEqual({
      InitiateFileTransferToGuest: 1,
      PowerOnVM_Task: 1,
      ReconfigVM_Task: 2,
      RetrievePropertiesEx: 1,
      StartProgramInGuest: 1,
      'transfer:PUT': 1,
      waitForTask: 2,
    })
  })

  it('reads: config is one call; state of a running container, and a handle for it, add one guest process list', async () => {
    const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
    expect(await counting.measure(() => pl.getContainerConfig(id))).toEqual({ RetrievePropertiesEx: 1 })
    expect(await counting.measure(() => pl.getContainerState(id))).toEqual({
      ListProcessesInGuest: 1,
      RetrievePropertiesEx: 1,
    })
    expect(await counting.measure(() => pl.getHandle(id))).toEqual({
      ListProcessesInGuest: 1,
      RetrievePropertiesEx: 1,
    })
  })

  it('exec, copyFrom and signal through the guest', async () => {
    const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
    // Each first asks the guest whether the main process still runs (a container whose main
    // process ended unnoticed is stopped).
    expect(await counting.measure(() => pl.execProcess(id, '/', '/bin/sleep', '100'))).toEqual({
      ListProcessesInGuest: 1,
      ReconfigVM_Task: 1,
      RetrievePropertiesEx: 1,
      StartProgramInGuest: 1,
      waitForTask: 1,
    })
    expect(await counting.measure(() => pl.copyFrom(id, '/tmp', 'seed.txt'))).toEqual({
      InitiateFileTransferFromGuest: 1,
      ListProcessesInGuest: 1,
      RetrievePropertiesEx: 1,
      'transfer:GET': 1,
    })
    expect(await counting.measure(() => pl.signal(id, 10))).toEqual({
      ListProcessesInGuest: 1,
      RetrievePropertiesEx: 1,
      StartProgramInGuest: 1,
    })
  })

  it('signal to an exec’d process this backend started: no lookup by name first', async () => {
    const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
    const processId = await pl.execProcess(id, '/', '/bin/sleep', '100')
    expect(await counting.measure(() => pl.signal(processId, 15))).toEqual({
      ListProcessesInGuest: 1,
      RetrievePropertiesEx: 1,
      StartProgramInGuest: 1,
    })
  })

  it('files into a running container: one look at the guest (is the run still going?), one guarded reconfigure, then the copy', async () => {
    const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
    const h = await pl.copyTo(await pl.getHandle(id), '/var/data', 'x.bin', 0o644, text.encode('x'))
    expect(await counting.measure(() => pl.commit(h))).toEqual({
      InitiateFileTransferToGuest: 1,
      ListProcessesInGuest: 1,
      MakeDirectoryInGuest: 1,
      ReconfigVM_Task: 1,
      'transfer:PUT': 1,
      waitForTask: 1,
    })
  })

  it('stop: guarded reconfigure (on the handle’s read), SIGTERM, one look at the guest, a fresh read, the output kept on the datastore, power-off, the record guarded by the read and read back', async () => {
    const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
    const h = await pl.setRunState(await pl.getHandle(id), 'stopped')
    expect(await counting.measure(() => pl.commit(h))).toEqual({
      // stdout and stderr looked at; both empty, so nothing is fetched or kept.
      InitiateFileTransferFromGuest: 2,
      ListProcessesInGuest: 1,
      PowerOffVM_Task: 1,
      ReconfigVM_Task: 2,
      RetrievePropertiesEx: 2,
      StartProgramInGuest: 1,
      waitForTask: 2,
    })
    expect((await pl.getContainerState(id)).mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })
  })

  it('stop of a main process that ignores SIGTERM: the same calls, the guest polled through the whole grace period, then 137', async () => {
    const script = text.encode("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")
    const id = await newContainer(async (h) =>
      pl.setRunState(
        await pl.copyTo(
          await pl.setEntryPoint(h, '/', '/usr/local/bin/ignores-term', ''),
          '/usr/local/bin',
          'ignores-term',
          0o755,
          script,
        ),
        'running',
      ),
    )
    const h = await pl.setRunState(await pl.getHandle(id), 'stopped')
    const began = Date.now()
    const counts = await counting.measure(() => pl.commit(h))
    const took = Date.now() - began
    const { ListProcessesInGuest: lists = 0, ...rest } = counts
    expect(rest).toEqual({
      // stdout and stderr looked at; both empty, so nothing is fetched or kept.
      InitiateFileTransferFromGuest: 2,
      PowerOffVM_Task: 1,
      ReconfigVM_Task: 2,
      RetrievePropertiesEx: 2,
      StartProgramInGuest: 1,
      waitForTask: 2,
    })
    // Polled every 100 ms (a twentieth of the 2 s grace period), the last look once the whole
    // period has passed since the SIGTERM: the process is given all of it, and no busy loop.
    expect(lists).toBeGreaterThanOrEqual(5)
    expect(lists).toBeLessThanOrEqual(22)
    expect(took).toBeGreaterThanOrEqual(2_000)
    expect((await pl.getContainerState(id)).mainProcess).toMatchObject({
      status: 'exited',
      exitCode: 137,
      exitMsg: 'killed by SIGKILL',
    })
  })

  it('destroy of a stopped container: read, the guarded claim, Destroy_Task', async () => {
    const id = await newContainer(withEntry)
    expect(await counting.measure(() => pl.destroyContainer(id))).toEqual({
      Destroy_Task: 1,
      ReconfigVM_Task: 1,
      RetrievePropertiesEx: 1,
      // The main process's output kept on the datastore goes with the container.
      'transfer:DELETE': 2,
      waitForTask: 2,
    })
  })

  it('destroy right after a stop: the stop’s record was read back, so the claim needs no read of its own', async () => {
    const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
    expect(await counting.measure(() => pl.destroyContainer(id))).toEqual({
      Destroy_Task: 1,
      ReconfigVM_Task: 1,
      'transfer:DELETE': 2,
      waitForTask: 2,
    })
  })

  it('a read more than a moment old is no base: the commit reads again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const id = await newContainer(withEntry)
      const h = await pl.setLimits(await pl.getHandle(id), 300, 600)
      vi.setSystemTime(Date.now() + 60_000)
      expect(await counting.measure(() => pl.commit(h))).toEqual({
        ReconfigVM_Task: 1,
        RetrievePropertiesEx: 1,
        waitForTask: 1,
      })
    } finally {
      vi.useRealTimers()
    }
  })

  it('the VM changed by another client between getHandle and commit (a fact, not a commit): the guarded reconfigure is refused, the commit reads again and lands', async () => {
    const other = await vcsim.backend({ exitPollIntervalMs: 0 })
    try {
      const id = await newContainer(async (h) => pl.setRunState(await withEntry(h), 'running'))
      const h = await pl.setRunState(await pl.getHandle(id), 'stopped')
      // An exec is recorded on the VM: its changeVersion moves, the container's version does not.
      await other.execProcess(id, '/', '/bin/sleep', '100')
      const counts = await counting.measure(() => pl.commit(h))
      expect(counts.ReconfigVM_Task).toBe(3) // refused, then the stop's claim and its record
      expect((await pl.getContainerState(id)).status).toBe('stopped')
    } finally {
      await other.close()
    }
  })

  it('another client committed between getHandle and commit: the refused reconfigure is followed by a read, then CONFLICT, and nothing of the handle lands', async () => {
    const other = await vcsim.backend({ exitPollIntervalMs: 0 })
    try {
      const id = await newContainer(withEntry)
      const h = await pl.setLimits(await pl.getHandle(id), 300, 600)
      await other.commit(await other.setLimits(await other.getHandle(id), 400, 700))
      counting.reset()
      await expect(pl.commit(h)).rejects.toMatchObject({ code: 'CONFLICT' })
      expect(counting.snapshot()).toEqual({ ReconfigVM_Task: 1, RetrievePropertiesEx: 1, waitForTask: 1 })
      expect((await pl.getContainerConfig(id)).limits).toMatchObject({ memoryMb: 400, cpuMhz: 700 })
    } finally {
      await other.close()
    }
  })

  it('listContainers stays one property read however many containers there are', async () => {
    await newContainer()
    await pl.listContainers() // creates the container view once
    const one = await counting.measure(() => pl.listContainers())
    for (let i = 0; i < 12; i++) await newContainer()
    const many = await counting.measure(() => pl.listContainers('created'))
    expect(one).toEqual({ RetrievePropertiesEx: 1 })
    expect(many).toEqual({ RetrievePropertiesEx: 1 })
  })

  it('the first listing creates its container view once, then reuses it', async () => {
    const first = await counting.measure(() => pl.listContainers())
    expect(first).toEqual({ CreateContainerView: 1, RetrievePropertiesEx: 1 })
    expect(await counting.measure(() => pl.listContainers())).toEqual({ RetrievePropertiesEx: 1 })
  })

  it('an unknown container costs one lookup by name', async () => {
    const unknown = '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f'
    await expect(pl.getContainerConfig(unknown)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(await counting.measure(() => pl.getContainerConfig(unknown).catch(() => {}))).toEqual({
      FindByInventoryPath: 1,
    })
  })
})

describe('SOAP requests the server sees', () => {
  it('a whole lifecycle costs the same at the server as at the gateway (a task wait is one poll on vcsim)', async () => {
    await pl.listContainers()
    await vcsim.vc.admin.reset()
    counting.reset()
    let h = await withEntry(await pl.createContainer('lifecycle'))
    const id = await pl.commit(await pl.setRunState(h, 'running'))
    await pl.execProcess(id, '/', '/bin/true', '')
    await pl.copyFrom(id, '/tmp', 'seed.txt')
    h = await pl.setRunState(await pl.getHandle(id), 'stopped')
    await pl.commit(h)
    await pl.destroyContainer(id)
    await pl.listContainers()
    const atGateway = counting.snapshot()
    const atServer = await vcsim.vc.admin.calls()
    const expected: Record<string, number> = {}
    for (const [name, n] of Object.entries(atGateway)) {
      if (name.startsWith('transfer:')) continue
      const method = name === 'waitForTask' ? 'RetrievePropertiesEx' : name
      expected[method] = (expected[method] ?? 0) + n
    }
    expect(atServer).toEqual(expected)
    expect(Object.values(atServer).reduce((a, b) => a + b, 0)).toBe(38)
  })
})
