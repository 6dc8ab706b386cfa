import {
  describeValue,
  InvalidArgumentError,
  isLogger,
  type Logger,
  validateCallOptions,
} from '@portlayer/contracts'

/** Checked and copied options; each is read once, so a getter cannot answer differently later. */
export interface CheckedBuildOptions {
  sourceDir?: string
  gopath?: string
  cacheDir?: string
  logger?: Logger
  signal?: AbortSignal
}

export interface CheckedStartOptions extends CheckedBuildOptions {
  tls: boolean
  exitedProcessRetentionMs?: number
  timeoutMs: number
}

/** setTimeout's longest delay. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1

function bad(message: string, cause?: unknown): never {
  throw new InvalidArgumentError(message, { backend: 'vcsim', ...(cause === undefined ? {} : { cause }) })
}

function read(options: object, key: string): unknown {
  try {
    return (options as Record<string, unknown>)[key]
  } catch (cause) {
    return bad(`options.${key} could not be read (a getter or proxy trap threw)`, cause)
  }
}

function path(options: object, key: string): string | undefined {
  const value = read(options, key)
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0'))
    bad(`options.${key} must be a non-empty path, got ${describeValue(value)}`)
  return value
}

function logger(options: object): Logger | undefined {
  const value = read(options, 'logger')
  if (value === undefined) return undefined
  if (!isLogger(value))
    bad(
      `options.logger must have debug, info, warn and error methods (console or pino), got ${describeValue(value)}`,
    )
  return value
}

function object(options: unknown): object {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null)
    bad(`options must be an object or undefined, got ${describeValue(options)}`)
  return options
}

/** Options of `buildVcsim` and `vcsimAvailable`. */
export function buildOptions(options: unknown): CheckedBuildOptions {
  const o = object(options)
  const checked: CheckedBuildOptions = {}
  const sourceDir = path(o, 'sourceDir')
  const gopath = path(o, 'gopath')
  const cacheDir = path(o, 'cacheDir')
  const log = logger(o)
  const signal = validateCallOptions({ signal: read(o, 'signal') }, 'vcsim')?.signal
  if (sourceDir !== undefined) checked.sourceDir = sourceDir
  if (gopath !== undefined) checked.gopath = gopath
  if (cacheDir !== undefined) checked.cacheDir = cacheDir
  if (log !== undefined) checked.logger = log
  if (signal !== undefined) checked.signal = signal
  return checked
}

/** Options of `startVcsim`. */
export function startOptions(options: unknown): CheckedStartOptions {
  const o = object(options)
  const tls = read(o, 'tls')
  if (tls !== undefined && typeof tls !== 'boolean')
    bad(`options.tls must be a boolean, got ${describeValue(tls)}`)
  const retention = read(o, 'exitedProcessRetentionMs')
  if (
    retention !== undefined &&
    (typeof retention !== 'number' || !Number.isFinite(retention) || retention < 0)
  )
    bad(`options.exitedProcessRetentionMs must be a number ≥ 0, got ${describeValue(retention)}`)
  const timeout = read(o, 'timeoutMs')
  if (
    timeout !== undefined &&
    (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_MS)
  )
    bad(`options.timeoutMs must be a number from 1 to ${MAX_TIMEOUT_MS}, got ${describeValue(timeout)}`)
  const checked: CheckedStartOptions = {
    ...buildOptions(o),
    tls: tls === true,
    timeoutMs: timeout === undefined ? 300_000 : Math.ceil(timeout as number),
  }
  if (retention !== undefined) checked.exitedProcessRetentionMs = Math.floor(retention as number)
  return checked
}
