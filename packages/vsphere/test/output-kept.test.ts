import type { ID } from '@portlayer/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PortLayerVsphere } from '../src/index.js'
import { keptPath } from '../src/output-collection.js'
import { datastoreUrl } from '../src/pending-file-rules.js'
import { useVcsim } from './support/vcsim.js'

// What a container's processes wrote is copied to the datastore before its VM is powered off, and
// deleted with the container. Read here straight from the datastore, through the gateway, at the
// URL the backend writes it to; the harness deletes datastore files on DELETE as vCenter does.

const vcsim = useVcsim()
const decoder = new TextDecoder()

let pl: PortLayerVsphere
const created: ID[] = []

beforeEach(async () => {
  pl = await vcsim.backend({ exitPollIntervalMs: 0, stopGracePeriodMs: 2_000 })
})

afterEach(async () => {
  for (const id of created.splice(0)) await pl.destroyContainer(id).catch(() => {})
  await pl.close()
})

/** The kept output of one stream, as text; NOT_FOUND when none is kept. */
async function kept(id: ID, processId: ID, stream: 'stdout' | 'stderr'): Promise<string> {
  const url = datastoreUrl('DC0', 'LocalDS_0', keptPath(id, processId, stream))
  return decoder.decode((await vcsim.gateway.transfer({ method: 'GET', url })).body)
}

async function started(execPath: string, execArgs: string): Promise<ID> {
  const h = await pl.setEntryPoint(await pl.createContainer('output-kept'), '/tmp', execPath, execArgs)
  const id = await pl.commit(await pl.setRunState(h, 'running'))
  created.push(id)
  return id
}

async function stop(id: ID): Promise<void> {
  await pl.commit(await pl.setRunState(await pl.getHandle(id), 'stopped'))
  expect((await pl.getContainerState(id)).status).toBe('stopped')
}

describe('output kept on the datastore', () => {
  it('a main process that wrote and ended: its output stays after the stop, and goes with the container', async () => {
    const id = await started('/bin/sh', '-c "echo hello from main; exit 3"')
    await stop(id)
    const main = (await pl.getContainerState(id)).mainProcess
    expect(main).toMatchObject({ status: 'exited', exitCode: 3 })
    const processId = main?.processId ?? ''

    expect(await kept(id, processId, 'stdout')).toBe('hello from main\n')
    // Nothing written to stderr: nothing kept.
    await expect(kept(id, processId, 'stderr')).rejects.toMatchObject({ code: 'NOT_FOUND' })

    await pl.destroyContainer(id)
    await expect(kept(id, processId, 'stdout')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      detail: { httpStatus: 404 },
    })
  })

  it('a running main process and exec’d ones: all their output is kept at the stop (143), and deleted with the container', async () => {
    const id = await started('/bin/sleep', '3600')
    const echo = await pl.execProcess(id, '/tmp', '/bin/echo', 'from   exec')
    const oops = await pl.execProcess(id, '/tmp', '/bin/sh', '-c "echo oops >&2; exit 1"')
    await stop(id)
    expect((await pl.getContainerState(id)).mainProcess).toMatchObject({ status: 'exited', exitCode: 143 })

    expect(await kept(id, echo, 'stdout')).toBe('from exec\n')
    expect(await kept(id, oops, 'stderr')).toBe('oops\n')
    await expect(kept(id, oops, 'stdout')).rejects.toMatchObject({ code: 'NOT_FOUND' })

    await pl.destroyContainer(id)
    for (const [processId, stream] of [
      [echo, 'stdout'],
      [oops, 'stderr'],
    ] as const)
      await expect(kept(id, processId, stream)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
