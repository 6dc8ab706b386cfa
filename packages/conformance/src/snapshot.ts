import type { ContainerConfig, ContainerState, ID, PortLayer } from '@portlayer/contracts'

/** Everything observable about one container, for before/after comparisons. */
export interface ContainerSnapshot {
  /** The base version a handle taken now would carry. */
  readonly version: string | null
  readonly config: ContainerConfig
  readonly state: ContainerState
}

/**
 * Reads a container's version, config and state (three calls). Two snapshots compare with
 * `expect(after).toEqual(before)`: an operation that failed must leave them equal.
 */
export async function snapshotContainer(pl: PortLayer, id: ID): Promise<ContainerSnapshot> {
  const handle = await pl.getHandle(id)
  const config = await pl.getContainerConfig(id)
  const state = await pl.getContainerState(id)
  return { version: handle.baseVersion, config, state }
}
