export {
  FIXTURE_FORMAT,
  type FixtureEntry,
  type FixtureError,
  type GatewayFixture,
  loadFixture,
} from './fixture.js'
export { ForwardingGateway } from './forwarding.js'
export { createSoapGateway, type SoapGateway, type SoapGatewayStats } from './gateway.js'
export { createRecordingGateway, type RecordingGateway, type RecordingOptions } from './recording.js'
export { createReplayGateway, type ReplayGateway, type ReplayOptions } from './replay.js'
export type { GatewayLogger, SoapGatewaySettings } from './settings.js'
export type { TlsOptions } from './tls.js'
export { vim25Wsdl } from './wsdl.js'
