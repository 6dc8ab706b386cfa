import { BasicHandleFactory } from '@portlayer/handles'
import { startVcsim, type Vcsim } from '@portlayer/vcsim'
import { createSoapGateway, type SoapGateway } from '@portlayer/vmomi-soap'
import { afterAll, beforeAll } from 'vitest'
import { PortLayerVsphere, type VsphereSettings } from '../../src/index.js'
import { vcsimSettings } from './vcsim-settings.js'

export { vcsimSettings }

/** One vcsim harness and one logged-in gateway for the whole test file. */
export interface VcsimFixture {
  readonly vc: Vcsim
  readonly gateway: SoapGateway
  /** A new, initialised backend on the shared gateway (or `gateway` when given). */
  backend(
    overrides?: Partial<VsphereSettings>,
    gateway?: SoapGateway | import('@portlayer/contracts/vmomi').VmomiGateway,
  ): Promise<PortLayerVsphere>
}

/**
 * Starts a harness before the file's tests and stops it after them. The returned object is
 * filled in by `beforeAll`; use it inside tests and hooks only.
 */
export function useVcsim(): VcsimFixture {
  const state: { vc?: Vcsim; gateway?: SoapGateway } = {}
  beforeAll(async () => {
    state.vc = await startVcsim()
    state.gateway = await createSoapGateway({
      url: state.vc.url,
      username: state.vc.username,
      password: state.vc.password,
    })
  }, 300_000)
  afterAll(async () => {
    await state.gateway?.close()
    await state.vc?.stop()
  })
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`the vcsim harness is not running (${what})`)
    return v
  }
  return {
    get vc() {
      return need(state.vc, 'vc')
    },
    get gateway() {
      return need(state.gateway, 'gateway')
    },
    async backend(overrides = {}, gateway) {
      const vc = need(state.vc, 'vc')
      return new PortLayerVsphere(vcsimSettings(vc, overrides)).init(
        gateway ?? need(state.gateway, 'gateway'),
        new BasicHandleFactory(),
      )
    },
  }
}
