// What the vSphere benches share: a gateway to the harness (TLS, its thumbprint pinned), the
// backend settings for vcsim's default inventory, and the container lifecycle issue 11 measures.
import type { Vcsim } from '@portlayer/vcsim'
import { createSoapGateway, type SoapGateway, type SoapGatewaySettings } from '@portlayer/vmomi-soap'
import type { PortLayerVsphere, VsphereSettings } from '../src/index.js'
import { vcsimSettings } from '../test/support/vcsim-settings.js'

/** A gateway logged in to the harness, its certificate pinned by thumbprint. */
export function harnessGateway(
  vc: Vcsim,
  extra: Partial<Omit<SoapGatewaySettings, 'url' | 'username' | 'password' | 'tls'>> = {},
): Promise<SoapGateway> {
  return createSoapGateway({
    url: vc.url,
    username: vc.username,
    password: vc.password,
    tls: { thumbprint: vc.thumbprint as string },
    ...extra,
  })
}

/** Backend settings for vcsim's default inventory; the background exit poll off (it would add calls). */
export function harnessSettings(vc: Vcsim): VsphereSettings {
  return vcsimSettings(vc, { exitPollIntervalMs: 0 })
}

const SEED = new TextEncoder().encode('seed')

/** Runs `work` as operation `name` (a hook for timing each operation; by default just runs it). */
export type Timed = <T>(name: string, work: () => Promise<T>) => Promise<T>

/**
 * One container from create to destroy: create with entry point, limits and a file → commit;
 * start → commit; read state; stop → commit; destroy.
 */
export async function lifecycle(pl: PortLayerVsphere, op: Timed = (_name, work) => work()): Promise<void> {
  const id = await op('create + commit', async () => {
    let h = await pl.createContainer('bench')
    h = await pl.setEntryPoint(h, '/', '/bin/sleep', '3600')
    h = await pl.setLimits(h, 256, 500)
    h = await pl.copyTo(h, '/tmp', 'seed.txt', 0o644, SEED)
    return pl.commit(h)
  })
  const stopped = await op('getHandle (stopped)', () => pl.getHandle(id))
  await op('start commit', async () => pl.commit(await pl.setRunState(stopped, 'running')))
  const state = await op('getContainerState', () => pl.getContainerState(id))
  if (state.status !== 'running') throw new Error(`container ${id} reads ${state.status} after its start`)
  const running = await op('getHandle (running)', () => pl.getHandle(id))
  await op('stop commit', async () => pl.commit(await pl.setRunState(running, 'stopped')))
  await op('destroyContainer', () => pl.destroyContainer(id))
}
