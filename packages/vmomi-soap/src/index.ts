/**
 * `createSoapGateway()`: the node-soap `VmomiGateway` through which `@portlayer/vsphere` reaches
 * vCenter or ESXi (vim25 over SOAP, a bundled WSDL subset, sessions kept alive and restored, TLS
 * verified by default, HTTP file transfers), plus gateways that record a session to a fixture and
 * replay it without a server, and `ForwardingGateway`, the base of gateway wrappers.
 * @module @portlayer/vmomi-soap
 */
export {
  FIXTURE_FORMAT,
  type FixtureEntry,
  type FixtureError,
  type GatewayFixture,
  loadFixture,
  type RecordedTransfer,
} from './fixture.js'
export { ForwardingGateway } from './forwarding.js'
export { createSoapGateway, type SoapGateway, type SoapGatewayStats } from './gateway.js'
export { createRecordingGateway, type RecordingGateway, type RecordingOptions } from './recording.js'
export { createReplayGateway, type ReplayGateway, type ReplayOptions } from './replay.js'
export type { GatewayLogger, SoapGatewaySettings } from './settings.js'
export type { TlsOptions } from './tls.js'
export { vim25Wsdl } from './wsdl.js'
