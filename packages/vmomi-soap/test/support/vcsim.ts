import { startVcsim, type Vcsim } from '@portlayer/vcsim'
import { afterAll, beforeAll } from 'vitest'
import { createSoapGateway, type SoapGateway, type SoapGatewaySettings } from '../../src/index.js'

/** Starts one harness for the test file (HTTP unless `tls`) and stops it afterwards. */
export function useVcsim(options: { tls?: boolean } = {}): () => Vcsim {
  let vc: Vcsim | undefined
  beforeAll(async () => {
    vc = await startVcsim(options)
  }, 300_000)
  afterAll(async () => {
    await vc?.stop()
  })
  return () => {
    if (!vc) throw new Error('vcsim harness not started')
    return vc
  }
}

/** A gateway logged in to `vc` with its credentials. */
export function connect(vc: Vcsim, extra: Partial<SoapGatewaySettings> = {}): Promise<SoapGateway> {
  return createSoapGateway({ url: vc.url, username: vc.username, password: vc.password, ...extra })
}

export const DATASTORE_QUERY = 'dcPath=DC0&dsName=LocalDS_0'
