import { PortLayerError } from '@portlayer/contracts'
import { invalidArgument } from './errors.js'
import { MAX_TIMER_MS } from './scope.js'
import type { TlsOptions } from './tls.js'

/**
 * Receives the gateway's log lines; every method is optional. Contracts'
 * {@link @portlayer/contracts!"@portlayer/contracts".Logger | Logger} (`console`, a pino logger)
 * fits as it is. Lines never hold credentials, cookies or session keys.
 */
export interface GatewayLogger {
  /** Routine steps, e.g. a keepalive sent. */
  debug?(message: string): void
  /** Events worth knowing: connected, session restored, a paged read resumed, a task cancelled. */
  info?(message: string): void
  /**
   * Failures no caller sees or that a caller's call survived: a keepalive, `Logout` or `CancelTask`
   * that failed, a request sent again, credentials refused when a lost session is renewed.
   */
  warn?(message: string): void
}

/** What {@link createSoapGateway} needs: the endpoint and credentials, and optional tuning. */
export interface SoapGatewaySettings {
  /** The SDK endpoint, e.g. `https://vcenter.example.com/sdk` (a bare host gets `/sdk`). */
  readonly url: string | URL
  readonly username: string
  readonly password: string
  /** Certificate checking; verification against Node's CA store by default. */
  readonly tls?: TlsOptions
  /** Default deadline of a call in ms (60 000). */
  readonly timeoutMs?: number
  /** Default deadline of `waitForTask` in ms (3 600 000). */
  readonly taskTimeoutMs?: number
  /** Default deadline of `transfer` in ms (300 000). */
  readonly transferTimeoutMs?: number
  /** A keepalive call is made after this many idle ms (600 000); 0 turns it off. */
  readonly keepAliveMs?: number
  /**
   * After the server refuses the credentials when a lost session is renewed (`InvalidLogin`), no
   * `Login` is sent for this many ms (60 000), so a caller polling the gateway cannot lock the
   * account; calls in that time fail at once. 0 lets the next call try again at once.
   */
  readonly loginRetryBackoffMs?: number
  /**
   * Upper bound of `maxObjects` for one page of `RetrievePropertiesEx` (5 000). Parsing an answer
   * holds the event loop (~0.1–0.2 s per MB), so a page bounds how long one answer can.
   */
  readonly pageSize?: number
  /** Extra attempts of an idempotent read after a transient network error (2). */
  readonly retries?: number
  /** First retry delay in ms, doubled each attempt (100). */
  readonly retryDelayMs?: number
  /**
   * First and longest pause between task polls in ms (25 and 1 000). Polls are the fallback: a task
   * still running at its first look is followed through the gateway's long-lived property collector.
   */
  readonly taskPollMs?: { readonly initial?: number; readonly max?: number }
  /** vim25 API version sent as SOAPAction `urn:vim25/<version>` ("6.5"). */
  readonly apiVersion?: string
  /** Locale passed to `Login`. */
  readonly locale?: string
  /** Sockets per host (8). */
  readonly maxSockets?: number
  /**
   * Where log lines go (without one, `warn` lines go to `console.warn` and nothing else is logged).
   * A logger that is not an object, or whose
   * `debug`, `info` or `warn` is given but not a function, is `INVALID_ARGUMENT`. A logger that
   * throws is ignored.
   */
  readonly logger?: GatewayLogger
}

export interface ResolvedSettings {
  readonly url: URL
  readonly username: string
  readonly password: string
  readonly tls: TlsOptions | undefined
  readonly timeoutMs: number
  readonly taskTimeoutMs: number
  readonly transferTimeoutMs: number
  readonly keepAliveMs: number
  readonly loginRetryBackoffMs: number
  readonly pageSize: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly taskPollInitialMs: number
  readonly taskPollMaxMs: number
  readonly apiVersion: string
  readonly locale: string | undefined
  readonly maxSockets: number
  readonly logger: GatewayLogger
}

function count(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalidArgument(`settings.${name} must be an integer ≥ ${min}`)
  }
  return value
}

/** A duration in ms; Node timers cannot wait longer than {@link MAX_TIMER_MS}. */
function millis(value: unknown, name: string, fallback: number, min: number): number {
  const ms = count(value, name, fallback, min)
  if (ms > MAX_TIMER_MS) throw invalidArgument(`settings.${name} must be at most ${MAX_TIMER_MS} ms`)
  return ms
}

const LOG_LEVELS = ['debug', 'info', 'warn'] as const
const CONSOLE_WARNINGS: GatewayLogger = Object.freeze({ warn: (message: string) => console.warn(message) })

/** The logger as given, once each method it has is known to be callable. */
function checkLogger(value: unknown): GatewayLogger {
  // Failures no caller sees never go nowhere: without a logger, warnings reach the console.
  if (value === undefined) return CONSOLE_WARNINGS
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    throw invalidArgument('settings.logger must be an object with debug, info and warn methods')
  }
  try {
    for (const level of LOG_LEVELS) {
      const method = (value as Record<string, unknown>)[level]
      if (method !== undefined && typeof method !== 'function') {
        throw invalidArgument(`settings.logger.${level} must be a function`)
      }
    }
  } catch (error) {
    if (PortLayerError.isInstance(error)) throw error
    // A proxy that throws when read.
    throw invalidArgument('settings.logger could not be read')
  }
  return value as GatewayLogger
}

/** Checks settings; errors never repeat the credentials. */
export function resolveSettings(settings: SoapGatewaySettings): ResolvedSettings {
  if (typeof settings !== 'object' || settings === null) throw invalidArgument('settings must be an object')
  let url: URL
  try {
    url = new URL(String(settings.url))
  } catch {
    throw invalidArgument('settings.url is not a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidArgument('settings.url must be an http or https URL')
  }
  // Like govc: a bare host means its SDK endpoint.
  if (url.pathname === '/') url.pathname = '/sdk'
  if (url.username !== '' || url.password !== '') {
    throw invalidArgument('settings.url must not carry credentials; pass username and password')
  }
  if (typeof settings.username !== 'string' || settings.username === '') {
    throw invalidArgument('settings.username must be a non-empty string')
  }
  if (typeof settings.password !== 'string') throw invalidArgument('settings.password must be a string')
  if (url.protocol === 'http:' && settings.tls !== undefined && Object.keys(settings.tls).length > 0) {
    throw invalidArgument('settings.tls applies to https URLs only')
  }
  if (settings.apiVersion !== undefined && !/^\d+(\.\d+)*$/.test(settings.apiVersion)) {
    throw invalidArgument('settings.apiVersion must look like "6.5"')
  }
  const taskPollInitialMs = millis(settings.taskPollMs?.initial, 'taskPollMs.initial', 25, 1)
  return {
    url,
    username: settings.username,
    password: settings.password,
    tls: settings.tls,
    timeoutMs: millis(settings.timeoutMs, 'timeoutMs', 60_000, 1),
    taskTimeoutMs: millis(settings.taskTimeoutMs, 'taskTimeoutMs', 3_600_000, 1),
    transferTimeoutMs: millis(settings.transferTimeoutMs, 'transferTimeoutMs', 300_000, 1),
    keepAliveMs: millis(settings.keepAliveMs, 'keepAliveMs', 600_000, 0),
    loginRetryBackoffMs: millis(settings.loginRetryBackoffMs, 'loginRetryBackoffMs', 60_000, 0),
    pageSize: count(settings.pageSize, 'pageSize', 5_000, 1),
    retries: count(settings.retries, 'retries', 2, 0),
    retryDelayMs: millis(settings.retryDelayMs, 'retryDelayMs', 100, 0),
    taskPollInitialMs,
    taskPollMaxMs: Math.max(taskPollInitialMs, millis(settings.taskPollMs?.max, 'taskPollMs.max', 1_000, 1)),
    apiVersion: settings.apiVersion ?? '6.5',
    locale: settings.locale,
    maxSockets: count(settings.maxSockets, 'maxSockets', 8, 1),
    logger: checkLogger(settings.logger),
  }
}
