import type { MoRef, ObjectContent, PropertyFilterSpec } from '@portlayer/contracts/vmomi'
import { afterEach, describe, expect, it } from 'vitest'
import type { SoapGateway } from '../../src/index.js'
import { failure } from '../support/failure.js'
import { createVm, find, property, run, SERVICE_INSTANCE } from '../support/inventory.js'
import { connect, useVcsim } from '../support/vcsim.js'

// vCenter ends idle sessions; what a client then meets depends on the call: a NotAuthenticated
// SOAP fault, a property read answered "normally" with NotAuthenticated in missingSet for every
// object, or a task that ends with NotAuthenticated. Each must lead to one shared Login and a
// retry of whatever certainly did not happen.

const READS_AS = ['missingSet', 'fault'] as const

async function logins(gwCalls: () => Promise<Record<string, number>>): Promise<number> {
  return (await gwCalls()).Login ?? 0
}

describe('expired sessions', () => {
  const vcsim = useVcsim()
  afterEach(async () => {
    await vcsim().admin.reset()
  })

  const withGateway = async (fn: (gw: SoapGateway) => Promise<void>, pageSize?: number) => {
    const gw = await connect(vcsim(), { keepAliveMs: 0, ...(pageSize ? { pageSize } : {}) })
    try {
      await fn(gw)
    } finally {
      await gw.close()
    }
  }

  it.each(READS_AS)('a property read after expiry (%s) logs in once and reads the live object', (readsAs) =>
    withGateway(async (gw) => {
      const vc = vcsim()
      const vm = await createVm(gw, `expiry-read-${readsAs}`, 48)
      const before = await logins(vc.admin.calls)
      await vc.admin.expireSessions({ readsAs })
      // Before the fix, a missingSet answer read as "no such property": the backend said NOT_FOUND.
      expect(await property(gw, vm, 'config.hardware.memoryMB')).toBe(48)
      expect(await logins(vc.admin.calls)).toBe(before + 1)
      expect(gw.stats().logins).toBe(2)
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    }),
  )

  it.each(READS_AS)(
    'many concurrent calls meeting an expired session (%s) share exactly one Login',
    (readsAs) =>
      withGateway(async (gw) => {
        const vc = vcsim()
        const vm = await createVm(gw, `expiry-many-${readsAs}`)
        const before = await logins(vc.admin.calls)
        await vc.admin.expireSessions({ readsAs })
        const results = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            i % 3 === 0
              ? property(gw, vm, 'name')
              : i % 3 === 1
                ? gw.call('CurrentTime', { _this: SERVICE_INSTANCE })
                : find(gw, 'DC0/vm'),
          ),
        )
        expect(results.filter((r) => r === `expiry-many-${readsAs}`)).toHaveLength(8)
        expect(results.filter((r) => r instanceof Date)).toHaveLength(8)
        expect(await logins(vc.admin.calls)).toBe(before + 1)
        await run(gw, gw.call('Destroy_Task', { _this: vm }))
      }),
  )

  it.each(READS_AS)('a task wait whose polls meet an expired session (%s) logs in and finishes', (readsAs) =>
    withGateway(async (gw) => {
      const vc = vcsim()
      const vm = await createVm(gw, `expiry-wait-${readsAs}`)
      const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'waited' } })
      const before = await logins(vc.admin.calls)
      await vc.admin.expireSessions({ readsAs })
      // Before the fix, a missingSet answer made the task "not found".
      expect(await gw.waitForTask(task)).toMatchObject({ state: 'success', task })
      expect(await logins(vc.admin.calls)).toBe(before + 1)
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    }),
  )

  it('a change refused with NotAuthenticated is sent again after the Login and applied once', () =>
    withGateway(async (gw) => {
      const vc = vcsim()
      const vm = await createVm(gw, 'expiry-change')
      await vc.admin.reset()
      await vc.admin.expireSessions({ readsAs: 'fault' })
      const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'after login' } })
      await gw.waitForTask(task)
      const calls = await vc.admin.calls()
      expect(calls.ReconfigVM_Task).toBe(2)
      expect(calls.Login).toBe(1)
      expect(await property(gw, vm, 'config.annotation')).toBe('after login')
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    }))

  it('a task that fails with NotAuthenticated is started again after one Login', () =>
    withGateway(async (gw) => {
      const vc = vcsim()
      const vm = await createVm(gw, 'expiry-task')
      await vc.admin.reset()
      await vc.admin.failTask('ReconfigVM_Task', 'NotAuthenticated')
      const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'second task' } })
      const info = await gw.waitForTask(task)
      expect(info.state).toBe('success')
      // The info is that of the task that ran.
      expect(info.task).not.toEqual(task)
      const calls = await vc.admin.calls()
      expect(calls.ReconfigVM_Task).toBe(2)
      expect(calls.Login).toBe(1)
      expect(await property(gw, vm, 'config.annotation')).toBe('second task')
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    }))

  it('concurrent tasks failing with NotAuthenticated share one Login', () =>
    withGateway(async (gw) => {
      const vc = vcsim()
      const vms = await Promise.all(Array.from({ length: 6 }, (_, i) => createVm(gw, `expiry-tasks-${i}`)))
      await vc.admin.reset()
      await vc.admin.failTask('ReconfigVM_Task', 'NotAuthenticated', 6)
      const tasks = await Promise.all(
        vms.map((vm, i) => gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: `t${i}` } })),
      )
      const infos = await Promise.all(tasks.map((t) => gw.waitForTask(t)))
      expect(infos.every((i) => i.state === 'success')).toBe(true)
      const calls = await vc.admin.calls()
      expect(calls.Login).toBe(1)
      expect(calls.ReconfigVM_Task).toBe(12)
      for (const [i, vm] of vms.entries()) {
        expect(await property(gw, vm, 'config.annotation')).toBe(`t${i}`)
        await run(gw, gw.call('Destroy_Task', { _this: vm }))
      }
    }))

  it('a task that fails with NotAuthenticated twice is UNAVAILABLE, not-applied, after one Login', () =>
    withGateway(async (gw) => {
      const vc = vcsim()
      const vm = await createVm(gw, 'expiry-task-twice')
      await vc.admin.reset()
      await vc.admin.failTask('ReconfigVM_Task', 'NotAuthenticated', 2)
      const task = await gw.call('ReconfigVM_Task', { _this: vm, spec: { annotation: 'never' } })
      const error = await failure(gw.waitForTask(task))
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        outcome: 'not-applied',
        detail: { fault: 'NotAuthenticated' },
      })
      const calls = await vc.admin.calls()
      expect(calls.ReconfigVM_Task).toBe(2)
      expect(calls.Login).toBe(1)
      expect(await property(gw, vm, 'config.annotation')).not.toBe('never')
      await run(gw, gw.call('Destroy_Task', { _this: vm }))
    }))

  describe('paged reads', () => {
    const VMS = 13
    const PAGE = 4

    const viewSpec = async (gw: SoapGateway): Promise<PropertyFilterSpec> => {
      const view = await gw.call('CreateContainerView', {
        _this: gw.serviceContent.viewManager as MoRef,
        container: await find(gw, 'DC0/vm'),
        type: ['VirtualMachine'],
        recursive: true,
      })
      return {
        propSet: [{ type: 'VirtualMachine', pathSet: ['name'] }],
        objectSet: [
          {
            obj: view,
            skip: true,
            selectSet: [{ _type: 'TraversalSpec', type: 'ContainerView', path: 'view', skip: false }],
          },
        ],
      }
    }

    // Objects named directly: nothing in the read belongs to the session.
    const directSpec = (vms: MoRef[]): PropertyFilterSpec => ({
      propSet: [{ type: 'VirtualMachine', pathSet: ['name'] }],
      objectSet: vms.map((obj) => ({ obj })),
    })

    const names = (objects: ObjectContent[]) =>
      objects
        .map((o) => o.propSet.find((p) => p.name === 'name')?.val as string)
        .filter((n) => n?.startsWith('paged-'))

    it.each(READS_AS)('a continuation after expiry (%s) resumes: every object once, one Login', (readsAs) =>
      withGateway(async (gw) => {
        const vc = vcsim()
        const vms = await Promise.all(
          Array.from({ length: VMS }, (_, i) =>
            createVm(gw, `paged-${readsAs}-${String(i).padStart(2, '0')}`),
          ),
        )
        const spec = directSpec(vms)
        const pc = gw.serviceContent.propertyCollector
        const first = await gw.call('RetrievePropertiesEx', { _this: pc, specSet: [spec], options: {} })
        const seen = [...(first?.objects ?? [])]
        expect(seen.length).toBe(PAGE)
        const before = await logins(vc.admin.calls)
        await vc.admin.expireSessions({ readsAs })
        let token = first?.token
        let pages = 0
        while (token) {
          const next = await gw.call('ContinueRetrievePropertiesEx', { _this: pc, token })
          expect(next.objects.every((o) => (o.missingSet ?? []).length === 0)).toBe(true)
          seen.push(...next.objects)
          token = next.token
          pages++
        }
        const mine = names(seen).filter((n) => n.startsWith(`paged-${readsAs}-`))
        expect(mine.sort()).toEqual(vms.map((_, i) => `paged-${readsAs}-${String(i).padStart(2, '0')}`))
        expect(new Set(seen.map((o) => o.obj.value)).size).toBe(seen.length)
        expect(pages).toBeGreaterThan(1)
        expect(await logins(vc.admin.calls)).toBe(before + 1)
        for (const vm of vms) await run(gw, gw.call('Destroy_Task', { _this: vm }))
      }, PAGE),
    )

    it('a paged read through a view of the lost session fails NOT_FOUND after the one Login (views belong to a session)', () =>
      withGateway(async (gw) => {
        const vc = vcsim()
        const vms = await Promise.all(Array.from({ length: 6 }, (_, i) => createVm(gw, `paged-view-${i}`)))
        const spec = await viewSpec(gw)
        const pc = gw.serviceContent.propertyCollector
        const first = await gw.call('RetrievePropertiesEx', { _this: pc, specSet: [spec], options: {} })
        const before = await logins(vc.admin.calls)
        await vc.admin.expireSessions({ readsAs: 'missingSet' })
        const error = await failure(
          gw.call('ContinueRetrievePropertiesEx', { _this: pc, token: first?.token as string }),
        )
        expect(error).toMatchObject({ code: 'NOT_FOUND', detail: { fault: 'ManagedObjectNotFound' } })
        expect(await logins(vc.admin.calls)).toBe(before + 1)
        // A new view in the new session reads them all.
        const again: ObjectContent[] = []
        let page = await gw.call('RetrievePropertiesEx', {
          _this: pc,
          specSet: [await viewSpec(gw)],
          options: {},
        })
        again.push(...(page?.objects ?? []))
        while (page?.token) {
          page = await gw.call('ContinueRetrievePropertiesEx', { _this: pc, token: page.token })
          again.push(...page.objects)
        }
        expect(names(again).filter((n) => n.startsWith('paged-view-'))).toHaveLength(6)
        for (const vm of vms) await run(gw, gw.call('Destroy_Task', { _this: vm }))
      }, PAGE))

    it('a continuation whose answer was lost resumes without repeating objects', () =>
      withGateway(async (gw) => {
        const vc = vcsim()
        const vms = await Promise.all(
          Array.from({ length: VMS }, (_, i) => createVm(gw, `paged-lost-${String(i).padStart(2, '0')}`)),
        )
        const spec = directSpec(vms)
        const pc = gw.serviceContent.propertyCollector
        const first = await gw.call('RetrievePropertiesEx', { _this: pc, specSet: [spec], options: {} })
        const seen = [...(first?.objects ?? [])]
        await vc.admin.dropResponse('ContinueRetrievePropertiesEx')
        let token = first?.token
        while (token) {
          const next = await gw.call('ContinueRetrievePropertiesEx', { _this: pc, token })
          seen.push(...next.objects)
          token = next.token
        }
        expect(names(seen).filter((n) => n.startsWith('paged-lost-'))).toHaveLength(VMS)
        expect(new Set(seen.map((o) => o.obj.value)).size).toBe(seen.length)
        for (const vm of vms) await run(gw, gw.call('Destroy_Task', { _this: vm }))
      }, PAGE))

    it('a token cannot be used twice; cancelling one after expiry has nothing left to cancel', () =>
      withGateway(async (gw) => {
        const vc = vcsim()
        const vms = await Promise.all(Array.from({ length: 6 }, (_, i) => createVm(gw, `paged-cancel-${i}`)))
        const spec = directSpec(vms)
        const pc = gw.serviceContent.propertyCollector
        const first = await gw.call('RetrievePropertiesEx', { _this: pc, specSet: [spec], options: {} })
        const token = first?.token as string
        await gw.call('ContinueRetrievePropertiesEx', { _this: pc, token })
        await expect(gw.call('ContinueRetrievePropertiesEx', { _this: pc, token })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        })
        const second = await gw.call('RetrievePropertiesEx', { _this: pc, specSet: [spec], options: {} })
        await vc.admin.expireSessions({ readsAs: 'missingSet' })
        const before = await logins(vc.admin.calls)
        // The retrieval ended with its session: the cancel succeeds, after the one Login.
        await gw.call('CancelRetrievePropertiesEx', { _this: pc, token: second?.token as string })
        expect(await logins(vc.admin.calls)).toBe(before + 1)
        // A cancelled token is gone.
        const third = await gw.call('RetrievePropertiesEx', { _this: pc, specSet: [spec], options: {} })
        await gw.call('CancelRetrievePropertiesEx', { _this: pc, token: third?.token as string })
        await expect(
          gw.call('ContinueRetrievePropertiesEx', { _this: pc, token: third?.token as string }),
        ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
        for (const vm of vms) await run(gw, gw.call('Destroy_Task', { _this: vm }))
      }, PAGE))
  })
})
