export {
  DEFAULT_MAX_QUEUED,
  DEFAULT_MAX_WAIT_SECONDS,
  EventHub,
  type EventHubDeps,
  type EventHubOptions,
  type EventSink,
} from './event-hub.js'
export { type EventSource, openEventStream } from './event-stream.js'
