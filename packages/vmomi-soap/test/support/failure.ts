import { PortLayerError } from '@portlayer/contracts'

/** The PortLayerError `p` rejects with; anything else (or success) fails the test. */
export async function failure(p: Promise<unknown>): Promise<PortLayerError> {
  try {
    await p
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e
    throw e
  }
  throw new Error('the operation succeeded')
}
