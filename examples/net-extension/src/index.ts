export { formatIpv4, hostRange, parseIpv4 } from './ipv4.js'
export {
  NET_NAMESPACE,
  type NetAttachment,
  NetExtension,
  type NetExtensionOptions,
  type NetRequest,
} from './net-extension.js'
