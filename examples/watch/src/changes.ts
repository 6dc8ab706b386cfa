import type { ID, Interaction, PortLayer } from '@portlayer/contracts'
import type { Log } from './watch.js'

/** What the changing client needs: the port layer and waiting for exits. */
export type Changer = PortLayer & Pick<Interaction, 'waitForExit'>

/**
 * What "another script" does to the backend: a job that fails, and a server that runs, gets a
 * process exec'd into it, and is stopped; both are destroyed at the end.
 */
export async function makeChanges(pl: Changer, log: Log = console.log): Promise<ID[]> {
  log('create and start a job that prints and exits 3')
  let h = await pl.createContainer('watch-job')
  h = await pl.setEntryPoint(h, '/', '/bin/sh', '-c "echo working; exit 3"')
  const job = await pl.commit(await pl.setRunState(h, 'running'))
  await pl.waitForExit(job)

  log('create a server, then start it')
  h = await pl.createContainer('watch-server')
  h = await pl.setEntryPoint(h, '/', '/bin/sleep', '3600')
  const server = await pl.commit(h)
  await pl.commit(await pl.setRunState(await pl.getHandle(server), 'running'))

  log('exec a process in the server')
  await pl.waitForExit(await pl.execProcess(server, '/tmp', '/bin/echo', 'hello'))

  log('stop the server (SIGTERM)')
  await pl.commit(await pl.setRunState(await pl.getHandle(server), 'stopped'))

  log('destroy both')
  await pl.destroyContainer(job)
  await pl.destroyContainer(server)
  return [job, server]
}
