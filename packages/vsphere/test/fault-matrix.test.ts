import { describeOutcome, outcomeOf, snapshotContainer } from '@portlayer/conformance'
import { type Handle, type ID, PortLayerError } from '@portlayer/contracts'
import type { VimMethodName, VmomiGateway } from '@portlayer/contracts/vmomi'
import { BasicHandleFactory } from '@portlayer/handles'
import { createSoapGateway, type SoapGateway } from '@portlayer/vmomi-soap'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PortLayerVsphere } from '../src/index.js'
import { HookedGateway } from './support/hooked-gateway.js'
import { extraConfigOf, vmsInFolder } from './support/inspect.js'
import { useVcsim, vcsimSettings } from './support/vcsim.js'

// The fault matrix: every vim25 method each PortLayer operation calls on the harness × four
// faults — refused before it applies (failNext), applied with its answer lost (dropResponse),
// applied with its answer later than the deadline (delayResponse), the session expired just
// before it (expireSessions, both ways reads can tell) — each a named test. After each case: the
// result is truthful (success ⇒ the change is visible; an error with outcome not-applied ⇒ the
// container reads exactly as before, version included; 'unknown' only with
// UNAVAILABLE/TIMEOUT/CANCELLED), no VM without its container identity, no two VMs for one
// container, config and state readable, and repeating the operation converges.
//
// METHODS below is the table of which operation calls which method; the first test checks it
// against what the operations call now (by the harness's counters), so it cannot go stale.

const vcsim = useVcsim()
/** The deadline of every call of the gateway under test; delayed answers come later. */
const CALL_TIMEOUT_MS = 1_000
const DELAY_MS = CALL_TIMEOUT_MS + 800
const text = new TextEncoder()

type Kind = 'failNext' | 'dropResponse' | 'delayResponse' | 'expired'
const KINDS: Record<Kind, string> = {
  failNext: 'refused before it applies',
  dropResponse: 'applied, answer lost',
  delayResponse: 'applied, answer after the deadline',
  expired: 'session expired before it',
}

/** What a test container is before the operation runs. */
interface Ctx {
  id: ID
  /** A create-handle (create operations). */
  handle?: Handle
  /** An exec'd process (signal). */
  processId?: ID
}

interface Op {
  /** Makes the container the operation works on (no faults armed). */
  setup(pl: PortLayerVsphere): Promise<Ctx>
  act(pl: PortLayerVsphere, ctx: Ctx): Promise<unknown>
  /** Is the operation's change visible (reads: did the answer make sense)? */
  landed(reader: PortLayerVsphere, ctx: Ctx, result?: unknown): Promise<boolean>
  /** What a caller does again; a refusal that says "already done" is part of converging. */
  repeat?(pl: PortLayerVsphere, ctx: Ctx): Promise<unknown>
  /** True for operations that change nothing (reads): a fault may fail them, nothing more. */
  readonly read?: boolean
  /** The container does not exist before a create. */
  readonly creates?: boolean
}

const entry = (pl: PortLayerVsphere, h: Handle) => pl.setEntryPoint(h, '/', '/bin/sleep', '3600')

async function created(pl: PortLayerVsphere, file = true): Promise<ID> {
  let h = await entry(pl, await pl.createContainer('matrix'))
  if (file) h = await pl.copyTo(h, '/tmp', 'seed.txt', 0o644, text.encode('seed'))
  return pl.commit(h)
}

async function running(pl: PortLayerVsphere): Promise<ID> {
  const id = await created(pl)
  await pl.commit(await pl.setRunState(await pl.getHandle(id), 'running'))
  return id
}

const commitOn = async (pl: PortLayerVsphere, id: ID, change: (h: Handle) => Promise<Handle>) =>
  pl.commit(await change(await pl.getHandle(id)))
const status = async (pl: PortLayerVsphere, id: ID) => (await pl.getContainerState(id)).status
const exists = async (pl: PortLayerVsphere, id: ID) => (await pl.listContainers()).includes(id)

const OPS: Record<string, Op> = {
  create: {
    creates: true,
    setup: async (pl) => {
      const handle = await pl.copyTo(
        await entry(pl, await pl.createContainer('matrix')),
        '/tmp',
        'seed.txt',
        0o644,
        text.encode('seed'),
      )
      return { id: handle.containerId, handle }
    },
    act: (pl, ctx) => pl.commit(ctx.handle as Handle),
    landed: (r, ctx) => exists(r, ctx.id),
    repeat: (pl, ctx) => pl.commit(ctx.handle as Handle).catch(alreadyDone('CONFLICT')),
  },
  'create+start': {
    creates: true,
    setup: async (pl) => {
      const handle = await pl.setRunState(await entry(pl, await pl.createContainer('matrix')), 'running')
      return { id: handle.containerId, handle }
    },
    act: (pl, ctx) => pl.commit(ctx.handle as Handle),
    landed: async (r, ctx) => (await exists(r, ctx.id)) && (await status(r, ctx.id)) === 'running',
    repeat: async (pl, ctx) =>
      (await exists(pl, ctx.id))
        ? commitOn(pl, ctx.id, (h) => pl.setRunState(h, 'running'))
        : pl.commit(ctx.handle as Handle),
  },
  setLimits: {
    setup: async (pl) => ({ id: await created(pl) }),
    act: (pl, ctx) => commitOn(pl, ctx.id, (h) => pl.setLimits(h, 333, 777)),
    landed: async (r, ctx) => {
      const { limits } = await r.getContainerConfig(ctx.id)
      return limits.memoryMb === 333 && limits.cpuMhz === 777
    },
    repeat: (pl, ctx) => commitOn(pl, ctx.id, (h) => pl.setLimits(h, 333, 777)),
  },
  start: {
    setup: async (pl) => ({ id: await created(pl) }),
    act: (pl, ctx) => commitOn(pl, ctx.id, (h) => pl.setRunState(h, 'running')),
    // Started means: running, the main process started, the pending file copied in.
    landed: async (r, ctx) => {
      const st = await r.getContainerState(ctx.id)
      if (st.status !== 'running' || st.mainProcess?.status !== 'started') return false
      return new TextDecoder().decode(await r.copyFrom(ctx.id, '/tmp', 'seed.txt')) === 'seed'
    },
    repeat: (pl, ctx) => commitOn(pl, ctx.id, (h) => pl.setRunState(h, 'running')),
  },
  stop: {
    setup: async (pl) => ({ id: await running(pl) }),
    act: (pl, ctx) => commitOn(pl, ctx.id, (h) => pl.setRunState(h, 'stopped')),
    landed: async (r, ctx) => {
      const st = await r.getContainerState(ctx.id)
      return st.status === 'stopped' && st.mainProcess?.status === 'exited'
    },
    repeat: (pl, ctx) => commitOn(pl, ctx.id, (h) => pl.setRunState(h, 'stopped')),
  },
  'copyTo (running)': {
    setup: async (pl) => ({ id: await running(pl) }),
    act: (pl, ctx) =>
      commitOn(pl, ctx.id, (h) => pl.copyTo(h, '/srv', 'late.txt', 0o644, text.encode('late'))),
    landed: async (r, ctx) =>
      new TextDecoder().decode(await r.copyFrom(ctx.id, '/srv', 'late.txt').catch(() => new Uint8Array())) ===
      'late',
    repeat: (pl, ctx) =>
      commitOn(pl, ctx.id, (h) => pl.copyTo(h, '/srv', 'late.txt', 0o644, text.encode('late'))),
  },
  destroy: {
    setup: async (pl) => ({ id: await created(pl) }),
    act: (pl, ctx) => pl.destroyContainer(ctx.id),
    landed: async (r, ctx) => !(await exists(r, ctx.id)),
    repeat: (pl, ctx) => pl.destroyContainer(ctx.id).catch(alreadyDone('NOT_FOUND')),
  },
  exec: {
    setup: async (pl) => ({ id: await running(pl) }),
    act: (pl, ctx) => pl.execProcess(ctx.id, '/', '/bin/sleep', '3600'),
    landed: async (r, ctx) => (await r.getContainerConfig(ctx.id)).execdProcs.length > 0,
    repeat: (pl, ctx) => pl.execProcess(ctx.id, '/', '/bin/sleep', '3600'),
  },
  signal: {
    setup: async (pl) => {
      const id = await running(pl)
      return { id, processId: await pl.execProcess(id, '/', '/bin/sleep', '3600') }
    },
    act: (pl, ctx) => pl.signal(ctx.processId as ID, 15),
    landed: async (r, ctx) => {
      const p = (await r.getContainerState(ctx.id)).execdProcs.find((x) => x.processId === ctx.processId)
      return p?.status === 'exited' && p.exitCode === 143
    },
    repeat: (pl, ctx) => pl.signal(ctx.processId as ID, 15).catch(alreadyDone('INVALID_STATE')),
  },
  copyFrom: {
    read: true,
    setup: async (pl) => ({ id: await running(pl) }),
    act: (pl, ctx) => pl.copyFrom(ctx.id, '/tmp', 'seed.txt'),
    landed: async (_r, _ctx, result) => new TextDecoder().decode(result as Uint8Array) === 'seed',
  },
  getContainerState: {
    read: true,
    setup: async (pl) => ({ id: await running(pl) }),
    act: (pl, ctx) => pl.getContainerState(ctx.id),
    landed: async (_r, _ctx, result) => (result as { status: string }).status === 'running',
  },
  getContainerConfig: {
    read: true,
    setup: async (pl) => ({ id: await created(pl) }),
    act: (pl, ctx) => pl.getContainerConfig(ctx.id),
    landed: async (_r, ctx, result) => (result as { containerId: string }).containerId === ctx.id,
  },
  getHandle: {
    read: true,
    setup: async (pl) => ({ id: await running(pl) }),
    act: (pl, ctx) => pl.getHandle(ctx.id),
    landed: async (r, ctx, result) =>
      (result as Handle).baseVersion === (await r.getHandle(ctx.id)).baseVersion,
  },
  listContainers: {
    read: true,
    setup: async (pl) => ({ id: await created(pl) }),
    act: (pl) => pl.listContainers(),
    landed: async (_r, ctx, result) => (result as ID[]).includes(ctx.id),
  },
}

/** A refusal of a repeat that only says the first attempt had landed. */
function alreadyDone(code: string) {
  return (e: unknown) => {
    if (PortLayerError.isInstance(e) && e.code === code) return undefined
    throw e
  }
}

/**
 * Which vim25 methods each operation calls on the harness (SOAP calls served while it ran); a
 * leading `~` marks a method only the gateway calls on its own (task polls, logins), where the
 * session-expiry case expires the sessions before the operation instead. Checked against the
 * harness by the first test.
 */
const METHODS: Record<string, readonly string[]> = {
  create: ['CreateVM_Task', '~RetrievePropertiesEx'],
  'create+start': [
    'CreateVM_Task',
    'PowerOnVM_Task',
    'ReconfigVM_Task',
    'RetrievePropertiesEx',
    'StartProgramInGuest',
  ],
  setLimits: ['FindByInventoryPath', 'ReconfigVM_Task', 'RetrievePropertiesEx'],
  start: [
    'FindByInventoryPath',
    'InitiateFileTransferToGuest',
    'PowerOnVM_Task',
    'ReconfigVM_Task',
    'RetrievePropertiesEx',
    'StartProgramInGuest',
  ],
  stop: [
    'FindByInventoryPath',
    'InitiateFileTransferFromGuest',
    'ListProcessesInGuest',
    'PowerOffVM_Task',
    'ReconfigVM_Task',
    'RetrievePropertiesEx',
    'StartProgramInGuest',
  ],
  'copyTo (running)': [
    'FindByInventoryPath',
    'InitiateFileTransferToGuest',
    'ListProcessesInGuest',
    'MakeDirectoryInGuest',
    'ReconfigVM_Task',
    'RetrievePropertiesEx',
  ],
  destroy: ['Destroy_Task', 'FindByInventoryPath', 'ReconfigVM_Task', 'RetrievePropertiesEx'],
  exec: [
    'FindByInventoryPath',
    'ListProcessesInGuest',
    'ReconfigVM_Task',
    'RetrievePropertiesEx',
    'StartProgramInGuest',
  ],
  signal: [
    'CreateContainerView',
    'FindByInventoryPath',
    'ListProcessesInGuest',
    'RetrievePropertiesEx',
    'StartProgramInGuest',
  ],
  copyFrom: [
    'FindByInventoryPath',
    'InitiateFileTransferFromGuest',
    'ListProcessesInGuest',
    'RetrievePropertiesEx',
  ],
  getContainerState: ['FindByInventoryPath', 'ListProcessesInGuest', 'RetrievePropertiesEx'],
  getContainerConfig: ['FindByInventoryPath', 'RetrievePropertiesEx'],
  getHandle: ['FindByInventoryPath', 'ListProcessesInGuest', 'RetrievePropertiesEx'],
  listContainers: ['CreateContainerView', 'RetrievePropertiesEx'],
}

// ---- the fixture ---------------------------------------------------------------------------

let actorGateway: SoapGateway
let hooked: HookedGateway
/** Methods the backend itself called (not the gateway's own task polls and logins). */
const calledByBackend = new Set<string>()
let spy: VmomiGateway
let reader: PortLayerVsphere
const made: ID[] = []

beforeAll(async () => {
  actorGateway = await createSoapGateway({
    url: vcsim.vc.url,
    username: vcsim.vc.username,
    password: vcsim.vc.password,
    timeoutMs: CALL_TIMEOUT_MS,
    retryDelayMs: 10,
  })
  hooked = new HookedGateway(actorGateway)
  spy = {
    get serviceContent() {
      return hooked.serviceContent
    },
    call: (method, args, options) => {
      calledByBackend.add(method)
      return hooked.call(method, args, options)
    },
    waitForTask: (task, options) => hooked.waitForTask(task, options),
    transfer: (request, options) => hooked.transfer(request, options),
    close: () => hooked.close(),
  }
  reader = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 500 })
}, 60_000)

afterAll(async () => {
  await vcsim.vc.admin.reset()
  await reader?.close()
  await actorGateway?.close()
})

/**
 * A new backend on the gateway under test, as a second process would be: nothing cached, so
 * every case sees the same calls (e.g. the container view made by the first list).
 */
function freshActor(): Promise<PortLayerVsphere> {
  return new PortLayerVsphere(
    vcsimSettings(vcsim.vc, { exitPollIntervalMs: 0, stopGracePeriodMs: 500 }),
  ).init(spy, new BasicHandleFactory())
}

async function cleanUp(): Promise<void> {
  for (const id of made.splice(0)) {
    try {
      await reader.commit(await reader.setRunState(await reader.getHandle(id), 'stopped'))
      await reader.destroyContainer(id)
    } catch {
      // gone already
    }
  }
}

/** VMs named like containers without their identity, and containers with two VMs. */
async function auditFolder(): Promise<string[]> {
  const problems: string[] = []
  const owners = new Map<string, number>()
  for (const vm of await vmsInFolder(vcsim.gateway)) {
    if (!vm.name.startsWith('portlayer-')) continue
    const id = (await extraConfigOf(vcsim.gateway, vm.ref)).get('guestinfo.portlayer.id')
    if (!id) problems.push(`VM ${vm.name} has no portlayer identity`)
    else {
      if (vm.name !== `portlayer-${id}`) problems.push(`VM ${vm.name} carries container ID ${id}`)
      owners.set(id, (owners.get(id) ?? 0) + 1)
    }
  }
  for (const [id, n] of owners) if (n > 1) problems.push(`${n} VMs carry container ID ${id}`)
  return problems
}

/** Arms one fault for the next call of `method`; returns how to disarm it. */
async function arm(
  kind: Kind,
  method: string,
  readsAs: 'missingSet' | 'fault',
  internal: boolean,
): Promise<() => void> {
  const admin = vcsim.vc.admin
  switch (kind) {
    case 'failNext':
      await admin.failNext(method, 'HostCommunication')
      return () => {}
    case 'dropResponse':
      await admin.dropResponse(method)
      return () => {}
    case 'delayResponse':
      await admin.delayResponse(method, DELAY_MS)
      return () => {}
    case 'expired': {
      if (internal) {
        await admin.expireSessions({ readsAs })
        return () => {}
      }
      let done = false
      return hooked.intercept(method as VimMethodName, async (_args, forward) => {
        if (!done) {
          done = true
          await admin.expireSessions({ readsAs })
        }
        return forward()
      })
    }
  }
}

async function runCase(
  opName: string,
  entry: string,
  kind: Kind,
  readsAs: 'missingSet' | 'fault' = 'missingSet',
) {
  const op = OPS[opName] as Op
  const internal = entry.startsWith('~')
  const method = internal ? entry.slice(1) : entry
  await vcsim.vc.admin.reset()
  const ctx = await op.setup(reader)
  made.push(ctx.id)
  const before = op.creates ? undefined : await snapshotContainer(reader, ctx.id)
  const actor = await freshActor()
  await vcsim.vc.admin.reset() // zero the counters: the case must see its method called
  const disarm = await arm(kind, method, readsAs, internal)
  const outcome = await outcomeOf(() => op.act(actor, ctx))
  disarm()
  const calls = await vcsim.vc.admin.calls()
  await vcsim.vc.admin.reset()
  const what = `${opName} with ${method} ${KINDS[kind]}: it ${describeOutcome(outcome)}`
  expect(calls[method] ?? 0, `${opName} no longer calls ${method}: update METHODS`).toBeGreaterThan(0)
  if (process.env.PORTLAYER_RELIABILITY_REPORT) console.info(`matrix| ${what.slice(0, 160)}`)

  // The result is truthful.
  if (outcome.kind === 'threw') throw new Error(`${what} (synchronously)`)
  if (outcome.kind === 'rejected') {
    const e = outcome.error
    expect(PortLayerError.isInstance(e), `${what}: not a PortLayerError`).toBe(true)
    const err = e as PortLayerError
    if (err.outcome === 'unknown') expect(['UNAVAILABLE', 'TIMEOUT', 'CANCELLED'], what).toContain(err.code)
    // One fault, then vSphere answers again at once: a backend that can find out what happened
    // must (DESIGN, "What a failed change tells its caller"); 'unknown' is for when it cannot.
    if (!op.read) expect(err.outcome, `${what}: vSphere was reachable to find out`).toBe('not-applied')
    // A session that expired is renewed and the call goes on: nothing for the caller to see.
    expect(kind, `${what}: an expired session must be renewed transparently`).not.toBe('expired')
    if (err.outcome === 'not-applied' && !op.read) {
      if (op.creates) expect(await exists(reader, ctx.id), `${what}, yet the container exists`).toBe(false)
      else
        expect(await snapshotContainer(reader, ctx.id), `${what}, yet the container changed`).toEqual(before)
    }
  } else {
    expect(await op.landed(reader, ctx, outcome.value), `${what}, but the change is not visible`).toBe(true)
  }

  // vSphere is left coherent.
  expect(await auditFolder(), what).toEqual([])
  if (await exists(reader, ctx.id)) {
    await reader.getContainerConfig(ctx.id)
    await reader.getContainerState(ctx.id)
  }
  // Doing it again converges.
  if (op.repeat) {
    await op.repeat(actor, ctx)
    expect(await op.landed(reader, ctx), `${what}; repeated, it still has not landed`).toBe(true)
    expect(await auditFolder(), `${what}; after the repeat`).toEqual([])
  }
  await actor.close()
  await cleanUp()
}

describe('the fault matrix covers what the operations call', () => {
  it('every method each operation calls on the harness is in METHODS, and nothing else', async () => {
    const found: Record<string, string[]> = {}
    for (const [name, op] of Object.entries(OPS)) {
      await vcsim.vc.admin.reset()
      const ctx = await op.setup(reader)
      made.push(ctx.id)
      const actor = await freshActor()
      await vcsim.vc.admin.reset()
      calledByBackend.clear()
      await op.act(actor, ctx)
      found[name] = Object.keys(await vcsim.vc.admin.calls())
        .map((m) => (calledByBackend.has(m) ? m : `~${m}`))
        .sort()
      await actor.close()
      await cleanUp()
    }
    if (process.env.PORTLAYER_RELIABILITY_REPORT) console.info(JSON.stringify(found, null, 2))
    expect(found).toEqual(Object.fromEntries(Object.entries(METHODS).map(([k, v]) => [k, [...v].sort()])))
  }, 60_000)
})

for (const [opName, methods] of Object.entries(METHODS)) {
  describe(`fault matrix: ${opName}`, () => {
    for (const method of methods) {
      for (const kind of Object.keys(KINDS) as Kind[]) {
        if (kind === 'expired') {
          for (const readsAs of ['missingSet', 'fault'] as const) {
            it(
              `${method}: ${KINDS[kind]} (reads answer ${readsAs})`,
              () => runCase(opName, method, kind, readsAs),
              30_000,
            )
          }
        } else {
          it(`${method}: ${KINDS[kind]}`, () => runCase(opName, method, kind), 30_000)
        }
      }
    }
  })
}
