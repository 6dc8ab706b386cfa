import { format, inspect } from 'node:util'
import { type Handle, type ID, PortLayerError } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { BasicHandleFactory } from '@portlayer/handles'
import { createSoapGateway, type SoapGateway } from '@portlayer/vmomi-soap'
import { afterEach, describe, expect, it } from 'vitest'
import { PortLayerVsphere } from '../src/index.js'
import { failure } from './support/failure.js'
import { HookedGateway, signal } from './support/hooked-gateway.js'
import { vmOf, vmsInFolder } from './support/inspect.js'
import { useVcsim, vcsimSettings } from './support/vcsim.js'

// One regression test per problem of issue 9, as a new user met them on the harness. Each of
// them failed on the code the issue was filed against.

const vcsim = useVcsim()
const text = new TextEncoder()
const closing: Array<{ close(): Promise<void> }> = []
const created: ID[] = []

afterEach(async () => {
  await vcsim.vc.admin.reset()
  const pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 500 })
  for (const id of created.splice(0)) {
    try {
      await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
      await pl.destroyContainer(id)
    } catch {
      // gone already
    }
  }
  await pl.close()
  for (const c of closing.splice(0).reverse()) await c.close()
})

async function backend(gateway?: SoapGateway | HookedGateway): Promise<PortLayerVsphere> {
  const pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 500 }, gateway)
  closing.push(pl)
  return pl
}

/** A gateway of its own, with a short per-call deadline (late answers come after it). */
async function gatewayWithDeadline(timeoutMs: number): Promise<SoapGateway> {
  const gateway = await createSoapGateway({
    url: vcsim.vc.url,
    username: vcsim.vc.username,
    password: vcsim.vc.password,
    timeoutMs,
  })
  closing.push(gateway)
  return gateway
}

const MAIN_ARGS = '4242'

async function createdContainer(pl: PortLayerVsphere, run = false): Promise<ID> {
  let h = await pl.setEntryPoint(await pl.createContainer('regression'), '/', '/bin/sleep', MAIN_ARGS)
  if (run) h = await pl.setRunState(h, 'running')
  const id = await pl.commit(h)
  created.push(id)
  return id
}

const vmsOf = async (id: ID) =>
  (await vmsInFolder(vcsim.gateway)).filter((vm) => vm.name === `portlayer-${id}`).length
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (PortLayerError.isInstance(e) ? e.code : `not a PortLayerError: ${String(e)}`),
  )

/** Guest processes of the container's VM that run the main program and have not ended. */
async function mainProcessesRunning(id: ID): Promise<number> {
  const gw = vcsim.gateway
  const manager = gw.serviceContent.guestOperationsManager as MoRef
  const props = await gw.call('RetrievePropertiesEx', {
    _this: gw.serviceContent.propertyCollector,
    specSet: [
      {
        propSet: [{ type: 'GuestOperationsManager', pathSet: ['processManager'] }],
        objectSet: [{ obj: manager, skip: false }],
      },
    ],
    options: {},
  })
  const processManager = props?.objects[0]?.propSet[0]?.val as MoRef
  const list = await gw.call('ListProcessesInGuest', {
    _this: processManager,
    vm: await vmOf(gw, id),
    auth: { _type: 'NamePasswordAuthentication', interactiveSession: false, ...vcsim.vc.guest },
  })
  return (list ?? []).filter((p) => p.cmdLine.includes(`sleep ${MAIN_ARGS}`) && !p.endTime).length
}

describe('problem 1: session expiry', () => {
  for (const readsAs of ['missingSet', 'fault'] as const) {
    it(`after every session expired (reads answer ${readsAs}), a live container still reads, its handle commits`, async () => {
      const pl = await backend()
      const id = await createdContainer(pl, true)
      await vcsim.vc.admin.expireSessions({ readsAs })
      expect((await pl.getContainerState(id)).status).toBe('running')
      const h = await pl.getHandle(id)
      expect(h.containerId).toBe(id)
      await vcsim.vc.admin.expireSessions({ readsAs })
      await pl.commit(await pl.setRunState(h, 'stopped'))
      expect((await pl.getContainerState(id)).status).toBe('stopped')
    })
  }
})

describe('problem 2: one create-handle committed concurrently', () => {
  it('four concurrent commits in one process: one lands, three are CONFLICT, one VM', async () => {
    const pl = await backend()
    const h = await pl.setEntryPoint(await pl.createContainer('once'), '/', '/bin/sleep', MAIN_ARGS)
    created.push(h.containerId)
    const codes = await Promise.all([1, 2, 3, 4].map(() => codeOf(pl.commit(h))))
    expect(codes.sort()).toEqual(['CONFLICT', 'CONFLICT', 'CONFLICT', 'ok'])
    expect(await vmsOf(h.containerId)).toBe(1)
  })

  it('the backend guards it itself: four concurrent commits in one process ask vSphere for one VM, not four', async () => {
    // vCenter (and the harness) refuse a second VM of one name; the backend must not rely on that.
    const pl = await backend()
    const h = await pl.setEntryPoint(await pl.createContainer('once'), '/', '/bin/sleep', MAIN_ARGS)
    created.push(h.containerId)
    await vcsim.vc.admin.reset()
    await Promise.all([1, 2, 3, 4].map(() => codeOf(pl.commit(h))))
    expect((await vcsim.vc.admin.calls()).CreateVM_Task).toBe(1)
  })

  it('passed to a second client, concurrently and then serially: CONFLICT, still one VM', async () => {
    const [a, b] = [await backend(), await backend()]
    const h = await a.setEntryPoint(await a.createContainer('once'), '/', '/bin/sleep', MAIN_ARGS)
    created.push(h.containerId)
    const codes = await Promise.all([codeOf(a.commit(h)), codeOf(b.commit(h))])
    expect(codes.sort()).toEqual(['CONFLICT', 'ok'])
    expect(await codeOf(b.commit(h))).toBe('CONFLICT')
    expect(await codeOf(a.commit(h))).toBe('CONFLICT')
    expect(await vmsOf(h.containerId)).toBe(1)
  })
})

describe('problem 3: lost answers', () => {
  it('a destroy whose answer is lost resolves: the container is gone', async () => {
    const pl = await backend()
    const id = await createdContainer(pl)
    await vcsim.vc.admin.dropResponse('Destroy_Task')
    await pl.destroyContainer(id)
    expect(await vmsOf(id)).toBe(0)
    expect((await failure(pl.getContainerState(id))).code).toBe('NOT_FOUND')
  })

  it('a read-modify-commit counter under lost answers and refused calls: every commit reported as it happened', async () => {
    const pl = await backend()
    const id = await createdContainer(pl)
    const start = (await pl.getContainerConfig(id)).limits.memoryMb
    let landed = 0
    const faults: Array<() => Promise<void>> = [
      () => vcsim.vc.admin.dropResponse('ReconfigVM_Task'),
      () => vcsim.vc.admin.failNext('ReconfigVM_Task', 'HostCommunication'),
      () => vcsim.vc.admin.failTask('ReconfigVM_Task', 'HostCommunication'),
      () => vcsim.vc.admin.dropResponse('RetrievePropertiesEx'),
      async () => {},
    ]
    for (let i = 0; i < 15; i++) {
      const h = await pl.getHandle(id)
      const { memoryMb, cpuMhz } = (await pl.getContainerConfig(id)).limits
      await (faults[i % faults.length] as () => Promise<void>)()
      try {
        await pl.commit(await pl.setLimits(h, memoryMb + 1, cpuMhz))
        landed++
      } catch (e) {
        if (!PortLayerError.isInstance(e)) throw e
        // vSphere answers again at once: the backend can find out, so nothing is 'unknown'.
        expect(e.outcome, `commit ${i}: ${e.code} ${e.message}`).toBe('not-applied')
      }
      await vcsim.vc.admin.reset()
    }
    expect((await pl.getContainerConfig(id)).limits.memoryMb).toBe(start + landed)
    expect(landed).toBeGreaterThan(0)
  })
})

describe('problem 4: a start race across clients', () => {
  it('two clients start one container, the second while the first one’s start is under way: one start, one main process', async () => {
    const hooked = new HookedGateway(vcsim.gateway)
    const a = await backend(hooked)
    const bHooked = new HookedGateway(vcsim.gateway)
    const b = await backend(bHooked)
    const id = await createdContainer(a)
    const aPowering = signal()
    const bWaiting = signal()
    // A is held just before its power-on, after its own reconfigure; B then reads the container
    // and commits running too. A goes on once B has read the container twice (B is waiting).
    const remove = hooked.intercept('PowerOnVM_Task', async (_args, forward) => {
      aPowering.resolve()
      await bWaiting.promise
      return forward()
    })
    const startA = codeOf(a.commit(await a.setRunState(await a.getHandle(id), 'running')))
    await aPowering.promise
    const hb = await b.setRunState(await b.getHandle(id), 'running')
    let reads = 0
    bHooked.intercept('RetrievePropertiesEx', (_args, forward) => {
      if (++reads === 2) bWaiting.resolve()
      return forward()
    })
    const bCode = await codeOf(b.commit(hb))
    const aCode = await startA
    remove()
    // B read the container before A's start took effect: B waited for it, then was refused.
    expect({ aCode, bCode }).toEqual({ aCode: 'ok', bCode: 'CONFLICT' })
    expect(await mainProcessesRunning(id), `A: ${aCode}, B: ${bCode}`).toBe(1)
    const state = await b.getContainerState(id)
    expect(state.status).toBe('running')
  })

  it('two clients at one base version commit running at once, ten times: never two main processes', async () => {
    const a = await backend()
    const b = await backend()
    for (let i = 0; i < 10; i++) {
      const id = await createdContainer(a)
      const [ha, hb] = [await a.getHandle(id), await b.getHandle(id)]
      const codes = await Promise.all([
        codeOf(a.commit(await a.setRunState(ha, 'running'))),
        codeOf(b.commit(await b.setRunState(hb, 'running'))),
      ])
      expect(codes.sort()).toEqual(['CONFLICT', 'ok'])
      expect(await mainProcessesRunning(id)).toBe(1)
    }
  })
})

describe('problem 5: answers after the deadline (the change landed at once)', () => {
  it('a power-on answered after the deadline: retrying the start ends with the main process running, once', async () => {
    const pl = await backend(await gatewayWithDeadline(800))
    const id = await createdContainer(pl)
    await vcsim.vc.admin.delayResponse('PowerOnVM_Task', 2_000)
    const first = await codeOf(pl.commit(await pl.setRunState(await pl.getHandle(id), 'running')))
    await vcsim.vc.admin.reset()
    if (first !== 'ok') await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    const state = await pl.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
    expect(await mainProcessesRunning(id)).toBe(1)
  })

  it('a create answered after the deadline leaves a complete container or none, and its retry converges', async () => {
    const pl = await backend(await gatewayWithDeadline(800))
    const h = await pl.setEntryPoint(await pl.createContainer('late'), '/', '/bin/sleep', MAIN_ARGS)
    created.push(h.containerId)
    await vcsim.vc.admin.delayResponse('CreateVM_Task', 2_000)
    const first = await codeOf(pl.commit(h))
    await vcsim.vc.admin.reset()
    if (first !== 'ok') expect(['ok', 'CONFLICT']).toContain(await codeOf(pl.commit(h)))
    expect(await vmsOf(h.containerId)).toBe(1)
    expect((await pl.getContainerConfig(h.containerId)).mainProcess?.execPath).toBe('/bin/sleep')
    await pl.commit(await pl.setRunState(await pl.getHandle(h.containerId), 'running'))
    expect(await mainProcessesRunning(h.containerId)).toBe(1)
  })
})

describe('problem 5: changes that land after the deadline', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('a power-on that lands after the client gave up: the container reads coherently and a retried start runs the main process once', async () => {
    const pl = await backend(await gatewayWithDeadline(800))
    const id = await createdContainer(pl)
    await vcsim.vc.admin.delay('PowerOnVM_Task', 1_600)
    const failed = await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running')).then(
      () => undefined,
      (e: unknown) => e as PortLayerError,
    )
    const first = failed ? `${failed.code} (${failed.outcome})` : 'ok'
    await sleep(2_000) // the power-on has landed by now
    await vcsim.vc.admin.reset()
    const seen = await pl.getContainerState(id)
    // A start that could not find out whether its power-on will land says so (outcome unknown);
    // its run then reads as cut off: running, main process not started, until a start redoes it.
    if (seen.status === 'running' && seen.mainProcess?.status !== 'started') {
      expect(failed?.outcome, `first start: ${first}`).toBe('unknown')
    }
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    const state = await pl.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.mainProcess?.status).toBe('started')
    expect(await mainProcessesRunning(id), `first start: ${first}`).toBe(1)
  })

  it('a create that lands after the client gave up: a complete container or none, and the retried commit converges', async () => {
    const pl = await backend(await gatewayWithDeadline(800))
    const h = await pl.setEntryPoint(await pl.createContainer('late'), '/', '/bin/sleep', MAIN_ARGS)
    created.push(h.containerId)
    await vcsim.vc.admin.delay('CreateVM_Task', 1_600)
    const first = await codeOf(pl.commit(h))
    await sleep(2_000)
    await vcsim.vc.admin.reset()
    if (first !== 'ok') expect(['ok', 'CONFLICT']).toContain(await codeOf(pl.commit(h)))
    expect(await vmsOf(h.containerId)).toBe(1)
    expect((await pl.getContainerConfig(h.containerId)).mainProcess?.execPath, `first: ${first}`).toBe(
      '/bin/sleep',
    )
    expect(await pl.listContainers()).toContain(h.containerId)
    await pl.commit(await pl.setRunState(await pl.getHandle(h.containerId), 'running'))
    expect(await mainProcessesRunning(h.containerId)).toBe(1)
  })
})

describe('problem 6: a rejected commit moves no version', () => {
  it('conflicting files in one handle are refused before any change: a handle taken before still commits', async () => {
    const pl = await backend()
    const id = await createdContainer(pl)
    const before = await pl.getHandle(id)
    const e = await failure(
      (async () => {
        let h: Handle = await pl.getHandle(id)
        h = await pl.copyTo(h, '/a', 'b', 0o644, text.encode('file'))
        h = await pl.copyTo(h, '/a/b', 'c', 0o644, text.encode('inside'))
        return pl.commit(h)
      })(),
    )
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect((await pl.getHandle(id)).baseVersion).toBe(before.baseVersion)
    await pl.commit(await pl.setLimits(before, 300, 300))
  })

  it('a file that conflicts with a pending file of an earlier commit is refused before any change', async () => {
    const pl = await backend()
    const id = await createdContainer(pl)
    await pl.commit(await pl.copyTo(await pl.getHandle(id), '/a', 'b', 0o644, text.encode('file')))
    const before = await pl.getHandle(id)
    const e = await failure(pl.commit(await pl.copyTo(before, '/a/b', 'c', 0o644, text.encode('inside'))))
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect((await pl.getHandle(id)).baseVersion).toBe(before.baseVersion)
    await pl.commit(await pl.setLimits(before, 300, 300))
  })
})

describe('problem 7: hostile arguments', () => {
  const detached = () => {
    const bytes = new Uint8Array(4)
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
    return bytes
  }
  const throwing = new Proxy(
    {},
    {
      get() {
        throw new Error('proxy trap')
      },
    },
  )
  const cases: Array<[string, (pl: PortLayerVsphere, h: Handle) => Promise<unknown>]> = [
    ['a symbol as name', (pl) => pl.createContainer(Symbol('x') as unknown as string)],
    ['a null-prototype object as name', (pl) => pl.createContainer(Object.create(null))],
    ['a 10 MB name', (pl) => pl.createContainer('x'.repeat(10 * 1024 * 1024))],
    ['a name with a lone surrogate', (pl) => pl.createContainer('bad\ud800name')],
    ['a detached Uint8Array in copyTo', (pl, h) => pl.copyTo(h, '/tmp', 'f', 0o644, detached())],
    ['a throwing proxy as memoryMb', (pl, h) => pl.setLimits(h, throwing as number, 100)],
    ['a bigint as cpuMhz', (pl, h) => pl.setLimits(h, 100, 10n as unknown as number)],
    ['a symbol as an ID', (pl) => pl.getContainerState(Symbol('id') as unknown as ID)],
    ['a null-prototype object as a run state', (pl, h) => pl.setRunState(h, Object.create(null))],
    [
      'a 10 MB exec path',
      (pl) => pl.execProcess(crypto.randomUUID(), '/', `/${'x'.repeat(10 * 1024 * 1024)}`, ''),
    ],
  ]
  for (const [what, call] of cases) {
    it(`${what}: INVALID_ARGUMENT with a short message`, async () => {
      const pl = await backend()
      const h = await pl.createContainer('hostile')
      let error: unknown
      try {
        await call(pl, h)
      } catch (e) {
        error = e
      }
      expect(PortLayerError.isInstance(error), `not a PortLayerError: ${String(error)}`).toBe(true)
      expect((error as PortLayerError).code).toBe('INVALID_ARGUMENT')
      expect((error as PortLayerError).message.length).toBeLessThanOrEqual(1_000)
    })
  }
})

describe('problem 8: secrets', () => {
  it('util.inspect (any options), %o, JSON and errors never show the guest password', async () => {
    const secret = 'guest-secret-7f3e9a1c'
    const pl = await new PortLayerVsphere(
      vcsimSettings(vcsim.vc, { guest: { username: vcsim.vc.guest.username, password: secret } }),
    ).init(vcsim.gateway, new BasicHandleFactory())
    closing.push(pl)
    const views = [
      inspect(pl, { showHidden: true, depth: null }),
      inspect(pl, { showHidden: true, depth: null, getters: true }),
      inspect(pl, { depth: Number.POSITIVE_INFINITY, customInspect: false, showHidden: true }),
      format('%o', pl),
      format('%O', pl),
      (() => {
        try {
          return JSON.stringify(pl)
        } catch (e) {
          return String(e)
        }
      })(),
    ]
    for (const view of views) expect(view).not.toContain(secret)
    // A guest operation refused for the (wrong) password says nothing of it either.
    const id = await createdContainer(pl)
    const e = await failure(pl.commit(await pl.setRunState(await pl.getHandle(id), 'running')))
    expect(inspect(e, { showHidden: true, depth: null })).not.toContain(secret)
    expect(JSON.stringify(e.toJSON())).not.toContain(secret)
  })
})

describe('a read that comes back without the VM decides nothing', () => {
  it('a reconfigure whose answer comes late and whose first look-up read is empty is still found landed (the VM is read again)', async () => {
    const hooked = new HookedGateway(await gatewayWithDeadline(800))
    const pl = await backend(hooked)
    const id = await createdContainer(pl)
    const h = await pl.setLimits(await pl.getHandle(id), 333, 1333)
    await vcsim.vc.admin.delayResponse('ReconfigVM_Task', 1_500)
    let timedOut = false
    let emptied = false
    hooked.intercept('ReconfigVM_Task', async (_args, forward) => {
      try {
        return await forward()
      } catch (e) {
        timedOut = true
        throw e
      }
    })
    // The first property read after the late answer comes back without any object, as an answer
    // can under a lost session; only a second read shows the VM.
    hooked.intercept('RetrievePropertiesEx', async (args, forward) => {
      const answer = await forward()
      if (!timedOut || emptied || args.specSet[0]?.propSet[0]?.type !== 'VirtualMachine') return answer
      emptied = true
      return answer ? { ...answer, objects: [] } : answer
    })
    const result = await codeOf(pl.commit(h))
    await vcsim.vc.admin.reset()
    expect(emptied).toBe(true)
    const limits = (await pl.getContainerConfig(id)).limits
    // Landed, so the commit succeeded (it must never say not-applied for a change that landed).
    expect(limits).toEqual({ memoryMb: 333, cpuMhz: 1333 })
    expect(result).toBe('ok')
  })
})

describe('a commit on a container whose main process ended unnoticed', () => {
  it('files of the commit wait for the next start (the run is over), and the container is not running', async () => {
    const pl = await backend()
    const id = await createdContainer(pl, true)
    const h = await pl.copyTo(
      await pl.getHandle(id),
      '/srv',
      'late.txt',
      0o644,
      new TextEncoder().encode('x'),
    )
    // The main process dies; nothing records it yet.
    await pl.signal(id, 9)
    expect(await codeOf(pl.commit(h))).toBe('ok')
    // No read in between: the commit itself must have noticed the end.
    expect(await codeOf(pl.execProcess(id, '/', '/bin/true', ''))).toBe('INVALID_STATE')
    expect((await pl.getContainerState(id)).status).toBe('stopped')
    await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
    expect(new TextDecoder().decode(await pl.copyFrom(id, '/srv', 'late.txt'))).toBe('x')
  })
})

describe('exec and copyFrom on a container whose main process ended unnoticed (fuzzer, seed 1116446219)', () => {
  it('exec is refused with INVALID_STATE: the container is stopped, though nothing recorded the end yet', async () => {
    const pl = await backend()
    const id = await createdContainer(pl, true)
    // The main process dies; nothing records it yet (the background poll is off).
    await pl.signal(id, 9)
    expect(await codeOf(pl.execProcess(id, '/', '/bin/sleep', '100'))).toBe('INVALID_STATE')
    expect((await pl.getContainerState(id)).status).toBe('stopped')
  })

  it('copyFrom is refused with INVALID_STATE likewise', async () => {
    const pl = await backend()
    const id = await createdContainer(pl, true)
    await pl.signal(id, 9)
    expect(await codeOf(pl.copyFrom(id, '/tmp', 'seed.txt'))).toBe('INVALID_STATE')
    expect((await pl.getContainerState(id)).status).toBe('stopped')
  })
})

describe('a refusal is never decided on a read made before the call', () => {
  // A commit or destroy right after a read of this process builds on that read (takeRecent); a
  // refusal must still reflect the container as it is during the call.
  it('a start of a handle without entry point, after another client gave the container one: CONFLICT (the handle is stale), not INVALID_STATE', async () => {
    const pl = await backend()
    const other = await backend()
    const id = await pl.commit(await pl.createContainer('no-entry-yet'))
    created.push(id)
    const h = await pl.setRunState(await pl.getHandle(id), 'running')
    await other.commit(await other.setEntryPoint(await other.getHandle(id), '/', '/bin/sleep', MAIN_ARGS))
    expect(await codeOf(pl.commit(h))).toBe('CONFLICT')
  })

  it('a destroy right after a read that showed the container running, stopped since by another client: it is destroyed', async () => {
    const pl = await backend()
    const other = await backend()
    const id = await createdContainer(pl, true)
    expect((await pl.getContainerState(id)).status).toBe('running')
    await other.commit(await other.setRunState(await other.getHandle(id), 'stopped'))
    expect(await codeOf(pl.destroyContainer(id))).toBe('ok')
    expect(await vmsOf(id)).toBe(0)
  })
})
