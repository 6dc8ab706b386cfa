import { checkArgument } from '@portlayer/backend-kit'
import { type HandleFactory, InvalidArgumentError } from '@portlayer/contracts'
import type { VmomiGateway } from '@portlayer/contracts/vmomi'
import { BACKEND } from './errors.js'
import { PortLayerVsphere } from './port-layer-vsphere.js'
import type { VsphereSettings } from './settings.js'

/** What {@link createVsphere} needs: the connection to vSphere and the settings. */
export interface CreateVsphereOptions extends VsphereSettings {
  /** Any connection to vSphere; it stays the caller's (`close()` does not close it). */
  readonly gateway: VmomiGateway
  /** The handle machinery; `BasicHandleFactory` when omitted. */
  readonly handleFactory?: HandleFactory
}

/**
 * A connected vSphere backend in one call, as `createSimulator(options)` makes a simulator: the
 * settings are checked first (nothing reaches vSphere when they are malformed), then the
 * inventory paths are resolved. The same as `await new PortLayerVsphere(settings).init(gateway, handleFactory)`.
 * @throws InvalidArgumentError for malformed options or settings; NotFoundError naming the setting
 * whose inventory path does not resolve; errors of the gateway when vSphere fails.
 */
export async function createVsphere(options: CreateVsphereOptions): Promise<PortLayerVsphere> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('createVsphere needs an options object', { backend: BACKEND })
  }
  // A hostile object (a proxy, a throwing getter) is refused as an argument, never a TypeError.
  const { gateway, handleFactory, settings } = checkArgument(BACKEND, () => {
    const { gateway, handleFactory, ...settings } = options
    return { gateway, handleFactory, settings }
  })
  const backend = new PortLayerVsphere(settings)
  return backend.init(gateway, handleFactory)
}
