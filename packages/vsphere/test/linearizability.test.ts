import {
  checkHistory,
  runWorkload,
  saveHistory,
  seededRandom,
  seedFromEnv,
} from '@portlayer/conformance/reliability'
import type { ID } from '@portlayer/contracts'
import type { VmomiGateway } from '@portlayer/contracts/vmomi'
import { BasicHandleFactory } from '@portlayer/handles'
import type { VcsimAdmin } from '@portlayer/vcsim'
import { createSoapGateway, type SoapGateway } from '@portlayer/vmomi-soap'
import { afterEach, describe, expect, it } from 'vitest'
import { PortLayerVsphere } from '../src/index.js'
import { extraConfigOf, vmsInFolder } from './support/inspect.js'
import { useVcsim, vcsimSettings } from './support/vcsim.js'

// Recorded concurrent histories on the harness: 16 clients over two PortLayerVsphere instances,
// each with its own gateway (as two processes would be), checked against the sequential container
// model; then the folder is audited (no VM without identity, no two VMs for one container).

const vcsim = useVcsim()
const CLIENTS = 16
const RUN_MS = 3_000
/** The gateways' per-call deadline; delayed answers come later than this. */
const CALL_TIMEOUT_MS = 1_500
const opened: Array<{ pl: PortLayerVsphere; gateway: SoapGateway }> = []

async function instance(): Promise<PortLayerVsphere> {
  const gateway = await createSoapGateway({
    url: vcsim.vc.url,
    username: vcsim.vc.username,
    password: vcsim.vc.password,
    timeoutMs: CALL_TIMEOUT_MS,
    retryDelayMs: 20,
  })
  const pl = await new PortLayerVsphere(
    vcsimSettings(vcsim.vc, {
      exitPollIntervalMs: 0,
      stopGracePeriodMs: 1_000,
      // Bounded, so a run stays a few seconds even when a reconciliation cannot finish.
      reconcileTimeoutMs: 3_000,
      callTimeoutMs: 15_000,
    }),
  ).init(gateway, new BasicHandleFactory())
  opened.push({ pl, gateway })
  return pl
}

afterEach(async () => {
  await vcsim.vc.admin.reset()
  for (const { pl, gateway } of opened.splice(0)) {
    await pl.close()
    await gateway.close()
  }
})

/** Stops and destroys what a run left, so the next run's folder audit starts clean. */
async function cleanUp(ids: readonly ID[]): Promise<void> {
  const pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 1_000 })
  try {
    for (const id of ids) {
      try {
        await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
        await pl.destroyContainer(id)
      } catch {
        // already gone
      }
    }
  } finally {
    await pl.close()
  }
}

/** VMs named like containers without the identity that names them, and containers with two VMs. */
async function auditFolder(gateway: VmomiGateway): Promise<string[]> {
  const problems: string[] = []
  const owners = new Map<string, number>()
  for (const vm of await vmsInFolder(gateway)) {
    const id = (await extraConfigOf(gateway, vm.ref)).get('guestinfo.portlayer.id')
    if (id === undefined || id === '') {
      if (vm.name.startsWith('portlayer-')) problems.push(`VM ${vm.name} has no portlayer identity`)
      continue
    }
    if (vm.name !== `portlayer-${id}`) problems.push(`VM ${vm.name} carries container ID ${id}`)
    owners.set(id, (owners.get(id) ?? 0) + 1)
  }
  for (const [id, n] of owners) if (n > 1) problems.push(`${n} VMs carry container ID ${id}`)
  return problems
}

const FAULTY_METHODS = [
  'ReconfigVM_Task',
  'PowerOnVM_Task',
  'PowerOffVM_Task',
  'CreateVM_Task',
  'Destroy_Task',
  'RetrievePropertiesEx',
  'StartProgramInGuest',
  'ListProcessesInGuest',
  'TerminateProcessInGuest',
  'FindByInventoryPath',
]

/** Injects one random fault every 150–400 ms until `stop()`; says which injections the harness refused. */
function chaos(admin: VcsimAdmin, seed: number): { stop(): Promise<string[]>; injected: string[] } {
  const random = seededRandom(seed ^ 0xc4a05)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
  const injected: string[] = []
  const missing = new Set<string>()
  let running = true
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, 150 + random() * 250))
      if (!running) break
      const method = pick(FAULTY_METHODS)
      const kind = pick(['failNext', 'failTask', 'dropResponse', 'delayResponse', 'expireSessions'] as const)
      try {
        switch (kind) {
          case 'failNext':
            await admin.failNext(method, 'HostCommunication')
            break
          case 'failTask':
            if (method.endsWith('_Task')) await admin.failTask(method, 'HostCommunication')
            break
          case 'dropResponse':
            await admin.dropResponse(method)
            break
          case 'delayResponse':
            await admin.delayResponse(method, CALL_TIMEOUT_MS + 1_000)
            break
          case 'expireSessions':
            await admin.expireSessions({ readsAs: random() < 0.5 ? 'missingSet' : 'fault' })
            break
        }
        injected.push(`${kind}(${kind === 'expireSessions' ? '' : method})`)
      } catch (e) {
        missing.add(`${kind}: ${(e as Error).message}`)
      }
    }
  })()
  return {
    injected,
    async stop() {
      running = false
      await loop
      return [...missing]
    },
  }
}

describe('linearizable histories on the harness: two instances, 16 clients', () => {
  for (const faults of [false, true]) {
    const runs = faults ? 2 : 1
    it(`${runs} run(s) of ${RUN_MS / 1000} s ${faults ? 'with injected faults (failNext, failTask, dropResponse, delayResponse, expireSessions)' : 'without faults'}`, async () => {
      const base = seedFromEnv()
      for (let r = 0; r < runs; r++) {
        const seed = base + r
        // Printed first, so a run that hangs can be replayed too (PORTLAYER_SEED=…).
        console.log(`linearizability run: PORTLAYER_SEED=${seed} (faults: ${faults})`)
        const a = await instance()
        const b = await instance()
        const noise = faults ? chaos(vcsim.vc.admin, seed) : undefined
        let result: Awaited<ReturnType<typeof runWorkload>>
        try {
          result = await runWorkload({
            instances: [a, b],
            clients: CLIENTS,
            containers: 3,
            durationMs: RUN_MS,
            seed,
            // The quiet reads at the end must see no more faults.
          })
        } finally {
          const missing = (await noise?.stop()) ?? []
          await vcsim.vc.admin.reset()
          expect(missing, 'faults the harness refused to inject').toEqual([])
        }
        const { history, ids, counts } = result
        const check = checkHistory(history)
        const context = `seed ${seed} (rerun with PORTLAYER_SEED=${seed}); ${JSON.stringify(counts)}; faults: ${noise?.injected.join(' ') ?? 'none'}`
        if (process.env.PORTLAYER_RELIABILITY_REPORT)
          console.info(`vsphere linearizability (faults: ${faults}) ${check.operations} calls: ${context}`)
        const saved = check.ok ? '' : `; history in ${await saveHistory(`vsphere-seed-${seed}`, history)}`
        expect(check.failures, context + saved).toEqual([])
        expect(await auditFolder(vcsim.gateway), context).toEqual([])
        expect(counts['commit:ok'] ?? 0, 'commits landed').toBeGreaterThan(5)
        expect(
          Object.keys(counts).filter((k) => k.includes('NOT_A_PORTLAYER_ERROR')),
          context,
        ).toEqual([])
        await cleanUp(ids)
      }
    }, 120_000)
  }
})
