import type { CallOptions } from './call-options.js'
import {
  describeValue,
  isWellFormedString,
  typedArrayBytes,
  typedArrayName,
  unusableBuffer,
} from './describe.js'
import { InvalidArgumentError, PortLayerError } from './errors.js'
import { ContainerEventType } from './events.js'
import { type ID, isId } from './ids.js'
import type { PortLayerEventType } from './interaction.js'
import { MAX_SIGNAL, splitExecArgs } from './programs.js'
import { isRunState, type RunState } from './states.js'

// Shared boundary checks, so every backend rejects exactly the same inputs with the same code.
// Each throws InvalidArgumentError naming the argument; `backend` goes onto the error. They accept
// any JavaScript value: a rejected one is shown through describeValue, which never throws and
// never echoes a long value, and nothing here reads a property of a caller's object.

/** Longest container name accepted. */
export const MAX_NAME_LENGTH = 128
/** Longest path accepted (Linux PATH_MAX). */
export const MAX_PATH_LENGTH = 4096
/** Longest file name accepted (bytes, Linux NAME_MAX). */
export const MAX_FILE_NAME_BYTES = 255
/** Longest `execArgs` accepted. */
export const MAX_EXEC_ARGS_LENGTH = 65536
/** Largest file `copyTo` accepts in one handle. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024
/** Largest limits accepted: 16 TiB of memory, 1 THz of CPU. */
export const MAX_LIMITS = Object.freeze({ memoryMb: 16 * 1024 * 1024, cpuMhz: 1_000_000 })
/** Highest POSIX mode accepted. */
export const MAX_PERMS = 0o7777
/** Most files one handle may carry. */
export const MAX_PENDING_FILES = 10_000

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL = /[\u0000-\u001f\u007f]/
const UTF8 = new TextEncoder()
/** What normalising would change: `//`, a `.` or `..` segment, a trailing `/`. */
const UNNORMALISED = /\/\/|\/\.{1,2}(?:\/|$)|.\/$/

function fail(message: string, backend?: string): never {
  throw new InvalidArgumentError(message, { backend })
}

/** `-0` is an integer to `Number.isInteger`, but no caller means it, and JSON turns it into 0. */
function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && !Object.is(value, -0)
}

function wellFormed(value: string, what: string, backend?: string): void {
  if (!isWellFormedString(value))
    fail(`${what} must be well-formed UTF-16 (it has a lone surrogate), got ${describeValue(value)}`, backend)
}

/** A container or process ID: a UUID string. */
export function validateId(value: unknown, what = 'id', backend?: string): ID {
  if (!isId(value)) fail(`${what} must be a lower-case UUID string, got ${describeValue(value)}`, backend)
  return value
}

/**
 * A container name: 1–128 characters, not blank, no control characters, well-formed UTF-16 (no
 * lone surrogate, which neither UTF-8 nor XML can carry).
 */
export function validateName(value: unknown, backend?: string): string {
  if (typeof value !== 'string') fail(`name must be a string, got ${describeValue(value)}`, backend)
  if (value.length > MAX_NAME_LENGTH)
    fail(`name is longer than ${MAX_NAME_LENGTH} characters, got ${describeValue(value)}`, backend)
  if (value.trim().length === 0) fail(`name must not be empty or blank, got ${describeValue(value)}`, backend)
  if (CONTROL.test(value))
    fail(`name must not contain control characters, got ${describeValue(value)}`, backend)
  wellFormed(value, 'name', backend)
  return value
}

/**
 * An absolute path: starts with `/`, no `..` segment, no NUL or control characters. Returns it
 * normalised (repeated `/` and `.` segments removed, no trailing `/` except for the root).
 */
export function validateAbsolutePath(value: unknown, what: string, backend?: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string, got ${describeValue(value)}`, backend)
  if (value.length === 0) fail(`${what} must not be empty`, backend)
  if (value.length > MAX_PATH_LENGTH)
    fail(`${what} is longer than ${MAX_PATH_LENGTH} characters, got ${describeValue(value)}`, backend)
  if (value[0] !== '/') fail(`${what} must be an absolute path, got ${describeValue(value)}`, backend)
  if (CONTROL.test(value))
    fail(`${what} must not contain control characters, got ${describeValue(value)}`, backend)
  wellFormed(value, what, backend)
  if (!UNNORMALISED.test(value)) return value
  const segments: string[] = []
  for (const segment of value.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') fail(`${what} must not contain '..' segments, got ${describeValue(value)}`, backend)
    segments.push(segment)
  }
  return `/${segments.join('/')}`
}

/** A file name: one non-empty path segment, not `.` or `..`, at most 255 bytes, well-formed UTF-16. */
export function validateFileName(value: unknown, backend?: string): string {
  if (typeof value !== 'string') fail(`fname must be a string, got ${describeValue(value)}`, backend)
  if (value.length === 0) fail('fname must not be empty', backend)
  // No UTF-16 unit encodes to more than 3 UTF-8 bytes, so this bounds the encoding below.
  if (value.length > MAX_FILE_NAME_BYTES)
    fail(`fname is longer than ${MAX_FILE_NAME_BYTES} bytes, got ${describeValue(value)}`, backend)
  if (value === '.' || value === '..') fail(`fname must not be ${JSON.stringify(value)}`, backend)
  if (value.includes('/')) fail(`fname must be a single path segment, got ${describeValue(value)}`, backend)
  if (CONTROL.test(value))
    fail(`fname must not contain control characters, got ${describeValue(value)}`, backend)
  wellFormed(value, 'fname', backend)
  if (value.length * 3 > MAX_FILE_NAME_BYTES && UTF8.encode(value).byteLength > MAX_FILE_NAME_BYTES)
    fail(`fname is longer than ${MAX_FILE_NAME_BYTES} bytes, got ${describeValue(value)}`, backend)
  return value
}

/** A POSIX mode: an integer 0–0o7777. */
export function validatePerms(value: unknown, backend?: string): number {
  if (!isWholeNumber(value) || value < 0 || value > MAX_PERMS) {
    fail(`perms must be an integer from 0 to 0o7777, got ${describeValue(value)}`, backend)
  }
  return value
}

/**
 * File contents: a `Uint8Array` (a `Buffer` is one) of at most 64 MiB whose buffer is neither
 * detached nor shared. Other typed arrays, DataViews, ArrayBuffers, proxies and objects that only
 * inherit from `Uint8Array.prototype` are refused: the checks read internal slots, not properties.
 */
export function validateData(value: unknown, backend?: string): Uint8Array {
  if (typedArrayName(value) !== 'Uint8Array')
    fail(`data must be a Uint8Array, got ${describeValue(value)}`, backend)
  const view = value as Uint8Array
  const problem = unusableBuffer(view)
  if (problem === 'detached')
    fail('data is a Uint8Array whose buffer was detached (transferred) or shrunk below it', backend)
  if (problem === 'shared')
    fail('data must not be a view of a SharedArrayBuffer, which may change while it is copied', backend)
  const bytes = typedArrayBytes(view)
  if (bytes > MAX_FILE_BYTES) fail(`data is larger than ${MAX_FILE_BYTES} bytes, got ${bytes}`, backend)
  return view
}

/** One limit: `-1` (the backend default) or a positive integer up to `max`. */
export function validateLimit(value: unknown, what: 'memoryMb' | 'cpuMhz', backend?: string): number {
  if (!isWholeNumber(value)) fail(`${what} must be an integer, got ${describeValue(value)}`, backend)
  if (value === -1) return value
  if (value <= 0) fail(`${what} must be positive or -1 for the default, got ${describeValue(value)}`, backend)
  if (value > MAX_LIMITS[what])
    fail(`${what} must be at most ${MAX_LIMITS[what]}, got ${describeValue(value)}`, backend)
  return value
}

/** `execArgs`: a string of at most 64 KiB, no NUL, well-formed UTF-16, whose quotes balance. */
export function validateExecArgs(value: unknown, backend?: string): string {
  if (typeof value !== 'string') fail(`execArgs must be a string, got ${describeValue(value)}`, backend)
  if (value.length > MAX_EXEC_ARGS_LENGTH)
    fail(`execArgs is longer than ${MAX_EXEC_ARGS_LENGTH} characters, got ${describeValue(value)}`, backend)
  if (value.includes('\u0000')) fail(`execArgs must not contain NUL, got ${describeValue(value)}`, backend)
  wellFormed(value, 'execArgs', backend)
  try {
    splitExecArgs(value)
  } catch (e) {
    // splitExecArgs quotes the whole value; the reason is the part before it.
    const reason = PortLayerError.isInstance(e)
      ? e.message.split(':')[0]
      : 'execArgs cannot be split into words'
    fail(`${reason}, got ${describeValue(value)}`, backend)
  }
  return value
}

/** A process to run: absolute working directory and program path, balanced arguments. */
export function validateProcess(
  workDir: unknown,
  execPath: unknown,
  execArgs: unknown,
  backend?: string,
): { workDir: string; execPath: string; execArgs: string } {
  return {
    workDir: validateAbsolutePath(workDir, 'workDir', backend),
    execPath: validateAbsolutePath(execPath, 'execPath', backend),
    execArgs: validateExecArgs(execArgs, backend),
  }
}

/** A run state a handle may ask for: `running` or `stopped` (not `created`). */
export function validateTargetRunState(value: unknown, backend?: string): RunState {
  if (!isRunState(value))
    fail(`runState must be 'running' or 'stopped', got ${describeValue(value)}`, backend)
  if (value === 'created') fail("runState 'created' cannot be requested; use 'running' or 'stopped'", backend)
  return value
}

/** An optional run-state filter for `listContainers`. */
export function validateRunStateFilter(value: unknown, backend?: string): RunState | undefined {
  if (value === undefined) return undefined
  if (!isRunState(value))
    fail(
      `forState must be 'created', 'running', 'stopped' or undefined, got ${describeValue(value)}`,
      backend,
    )
  return value
}

/** A signal number: an integer 1–64. */
export function validateSignal(value: unknown, backend?: string): number {
  if (!isWholeNumber(value) || value < 1 || value > MAX_SIGNAL) {
    fail(`signal must be an integer from 1 to ${MAX_SIGNAL}, got ${describeValue(value)}`, backend)
  }
  return value
}

/** An extension namespace: lower-case letters, digits, `-`, dot-separated, at most 64 characters. */
export function validateNamespace(value: unknown, backend?: string): string {
  if (
    typeof value !== 'string' ||
    value.length > 64 ||
    !/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(value)
  ) {
    fail(`extension namespace must be lower-case words joined by '.', got ${describeValue(value)}`, backend)
  }
  return value
}

const abortedGetter = (() => {
  if (typeof AbortSignal !== 'function') return undefined
  const g = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get
  return typeof g === 'function' ? (g as (this: unknown) => unknown) : undefined
})()

/**
 * The optional last argument of every `PortLayer` method: `undefined`, or an object whose
 * `signal` is `undefined` or an `AbortSignal`. Reads `signal` once and returns a fresh object, so
 * a getter cannot answer differently later; a getter or proxy trap that throws is refused like
 * any other bad value.
 */
export function validateCallOptions(value: unknown, backend?: string): CallOptions | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null)
    fail(`options must be an object or undefined, got ${describeValue(value)}`, backend)
  let signal: unknown
  try {
    signal = (value as { signal?: unknown }).signal
  } catch (e) {
    throw new InvalidArgumentError('options could not be read (a getter or proxy trap threw)', {
      backend,
      cause: e,
    })
  }
  if (signal === undefined) return {}
  let isSignal = false
  if (typeof signal === 'object' && signal !== null && abortedGetter) {
    try {
      isSignal = typeof abortedGetter.call(signal) === 'boolean'
    } catch {
      isSignal = false
    }
  }
  if (!isSignal) fail(`options.signal must be an AbortSignal, got ${describeValue(signal)}`, backend)
  return { signal: signal as AbortSignal }
}

/** Every type of event `events()` can yield, `resync` included. */
export const PORTLAYER_EVENT_TYPES: ReadonlySet<PortLayerEventType> = new Set<PortLayerEventType>([
  ...Object.values(ContainerEventType),
  'resync',
])

/** An event filter as read once: the types asked for (`null`: all) and the one container, if any. */
export interface CheckedEventFilter {
  readonly types: ReadonlySet<PortLayerEventType> | null
  readonly containerId: ID | undefined
}

/**
 * The filter of `events()`, read once (a getter cannot answer differently later): `undefined`, or
 * an object whose `types` is an array of known event types and whose `containerId` is an ID (of a
 * container that may not exist yet). Anything else, or a getter that throws, is `INVALID_ARGUMENT`.
 */
export function validateEventFilter(filter: unknown, backend?: string): CheckedEventFilter {
  if (filter === undefined) return { types: null, containerId: undefined }
  if (typeof filter !== 'object' || filter === null)
    fail(`an event filter must be an object, got ${describeValue(filter)}`, backend)
  let types: unknown
  let containerId: unknown
  let list: unknown[] | undefined
  try {
    ;({ types, containerId } = filter as { types?: unknown; containerId?: unknown })
    if (Array.isArray(types)) list = Array.from(types as unknown[])
  } catch (e) {
    throw new InvalidArgumentError('the event filter could not be read (a getter or proxy trap threw)', {
      backend,
      cause: e,
    })
  }
  if (types !== undefined) {
    if (list === undefined)
      fail(`filter.types must be an array of event types, got ${describeValue(types)}`, backend)
    for (const t of list) {
      if (typeof t !== 'string' || !PORTLAYER_EVENT_TYPES.has(t as PortLayerEventType))
        fail(
          `filter.types: unknown event type ${describeValue(t)}; one of ${[...PORTLAYER_EVENT_TYPES].join(', ')}`,
          backend,
        )
    }
  }
  return {
    types: list === undefined ? null : new Set(list as PortLayerEventType[]),
    containerId:
      containerId === undefined ? undefined : validateId(containerId, 'filter.containerId', backend),
  }
}
