import { type ID, type PortLayer, PortLayerError, RunState } from '@portlayer/contracts'

// "Your code": a tiny deployer that a team might write on top of the port layer. It is what the
// tests in ../test exercise against the simulator.

export interface ServiceSpec {
  readonly name: string
  readonly port: number
  readonly memoryMb?: number
}

const encode = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value)}\n`)

/**
 * Creates and starts a service. A commit that fails with UNAVAILABLE may still have landed (the
 * answer was lost), so the retry first asks whether the container exists: the ID is fixed when
 * the handle is made, which makes that question cheap.
 */
export async function deploy(pl: PortLayer, spec: ServiceSpec, retries = 3): Promise<ID> {
  let h = await pl.createContainer(spec.name)
  h = await pl.copyTo(h, '/usr/local/bin', 'service', 0o755, encode({ binary: spec.name }))
  h = await pl.copyTo(h, '/etc/service', 'config.json', 0o644, encode({ port: spec.port }))
  h = await pl.setEntryPoint(h, '/', '/usr/local/bin/service', '--config /etc/service/config.json')
  h = await pl.setLimits(h, spec.memoryMb ?? -1, -1)
  h = await pl.setRunState(h, RunState.Running)
  for (let attempt = 0; ; attempt++) {
    try {
      return await pl.commit(h)
    } catch (e) {
      if (!PortLayerError.isInstance(e, 'UNAVAILABLE') || attempt >= retries) throw e
      const landed = await pl.getContainerConfig(h.containerId).then(
        () => true,
        (err: unknown) => (PortLayerError.isInstance(err, 'NOT_FOUND') ? false : Promise.reject(err)),
      )
      if (landed) return h.containerId
    }
  }
}

/**
 * Rewrites a running service's config file. Read-modify-commit: on CONFLICT (another client
 * committed first) take a fresh handle and try again.
 */
export async function updatePort(pl: PortLayer, id: ID, port: number, retries = 10): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const h = await pl.getHandle(id)
    try {
      await pl.commit(await pl.copyTo(h, '/etc/service', 'config.json', 0o644, encode({ port })))
      return
    } catch (e) {
      if (!PortLayerError.isInstance(e, 'CONFLICT') || attempt >= retries) throw e
    }
  }
}

/** Reads the port a running service is configured with. */
export async function currentPort(pl: PortLayer, id: ID): Promise<number> {
  const data = await pl.copyFrom(id, '/etc/service', 'config.json')
  return (JSON.parse(new TextDecoder().decode(data)) as { port: number }).port
}
