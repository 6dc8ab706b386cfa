import { InvalidArgumentError } from './errors.js'
import { type ID, isId } from './ids.js'
import { MAX_SIGNAL, splitExecArgs } from './programs.js'
import { isRunState, type RunState } from './states.js'

// Shared boundary checks, so every backend rejects exactly the same inputs with the same code.
// Each throws InvalidArgumentError naming the argument; `backend` goes onto the error.

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

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL = /[\u0000-\u001f\u007f]/
const UTF8 = new TextEncoder()

function fail(message: string, backend?: string): never {
  throw new InvalidArgumentError(message, { backend })
}

/** A container or process ID: a UUID string. */
export function validateId(value: unknown, what = 'id', backend?: string): ID {
  if (typeof value !== 'string') fail(`${what} must be a UUID string, got ${typeof value}`, backend)
  if (!isId(value))
    fail(`${what} must be a lower-case UUID, got ${JSON.stringify(String(value).slice(0, 64))}`, backend)
  return value
}

/** A container name: 1–128 characters, no control characters, not blank. */
export function validateName(value: unknown, backend?: string): string {
  if (typeof value !== 'string') fail(`name must be a string, got ${typeof value}`, backend)
  if (value.trim().length === 0) fail('name must not be empty', backend)
  if (value.length > MAX_NAME_LENGTH) fail(`name is longer than ${MAX_NAME_LENGTH} characters`, backend)
  if (CONTROL.test(value)) fail('name must not contain control characters', backend)
  return value
}

/**
 * An absolute path: starts with `/`, no `..` segment, no NUL or control characters. Returns it
 * normalised (repeated `/` and `.` segments removed, no trailing `/` except for the root).
 */
export function validateAbsolutePath(value: unknown, what: string, backend?: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string, got ${typeof value}`, backend)
  if (value.length === 0) fail(`${what} must not be empty`, backend)
  if (value.length > MAX_PATH_LENGTH) fail(`${what} is longer than ${MAX_PATH_LENGTH} characters`, backend)
  if (value[0] !== '/') fail(`${what} must be an absolute path, got ${JSON.stringify(value)}`, backend)
  if (CONTROL.test(value)) fail(`${what} must not contain control characters`, backend)
  const segments: string[] = []
  for (const segment of value.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..')
      fail(`${what} must not contain '..' segments, got ${JSON.stringify(value)}`, backend)
    segments.push(segment)
  }
  return `/${segments.join('/')}`
}

/** A file name: one non-empty path segment, not `.` or `..`, at most 255 bytes. */
export function validateFileName(value: unknown, backend?: string): string {
  if (typeof value !== 'string') fail(`fname must be a string, got ${typeof value}`, backend)
  if (value.length === 0) fail('fname must not be empty', backend)
  if (value === '.' || value === '..') fail(`fname must not be ${JSON.stringify(value)}`, backend)
  if (value.includes('/')) fail(`fname must be a single path segment, got ${JSON.stringify(value)}`, backend)
  if (CONTROL.test(value)) fail('fname must not contain control characters', backend)
  if (UTF8.encode(value).byteLength > MAX_FILE_NAME_BYTES)
    fail(`fname is longer than ${MAX_FILE_NAME_BYTES} bytes`, backend)
  return value
}

/** A POSIX mode: an integer 0–0o7777. */
export function validatePerms(value: unknown, backend?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PERMS) {
    fail(`perms must be an integer from 0 to 0o7777, got ${String(value)}`, backend)
  }
  return value
}

/** File contents: a `Uint8Array` of at most 64 MiB. */
export function validateData(value: unknown, backend?: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail('data must be a Uint8Array', backend)
  if (value.byteLength > MAX_FILE_BYTES) fail(`data is larger than ${MAX_FILE_BYTES} bytes`, backend)
  return value
}

/** One limit: `-1` (the backend default) or a positive integer up to `max`. */
export function validateLimit(value: unknown, what: 'memoryMb' | 'cpuMhz', backend?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(`${what} must be an integer, got ${String(value)}`, backend)
  }
  if (value === -1) return value
  if (value <= 0) fail(`${what} must be positive or -1 for the default, got ${value}`, backend)
  if (value > MAX_LIMITS[what]) fail(`${what} must be at most ${MAX_LIMITS[what]}, got ${value}`, backend)
  return value
}

/** `execArgs`: a string of at most 64 KiB whose quotes balance. */
export function validateExecArgs(value: unknown, backend?: string): string {
  if (typeof value !== 'string') fail(`execArgs must be a string, got ${typeof value}`, backend)
  if (value.length > MAX_EXEC_ARGS_LENGTH)
    fail(`execArgs is longer than ${MAX_EXEC_ARGS_LENGTH} characters`, backend)
  if (value.includes('\u0000')) fail('execArgs must not contain NUL', backend)
  try {
    splitExecArgs(value)
  } catch (e) {
    fail((e as Error).message, backend)
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
  if (!isRunState(value)) fail(`runState must be 'running' or 'stopped', got ${String(value)}`, backend)
  if (value === 'created') fail("runState 'created' cannot be requested; use 'running' or 'stopped'", backend)
  return value
}

/** An optional run-state filter for `listContainers`. */
export function validateRunStateFilter(value: unknown, backend?: string): RunState | undefined {
  if (value === undefined) return undefined
  if (!isRunState(value)) fail(`forState must be a run state, got ${String(value)}`, backend)
  return value
}

/** A signal number: an integer 1–64. */
export function validateSignal(value: unknown, backend?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SIGNAL) {
    fail(`signal must be an integer from 1 to ${MAX_SIGNAL}, got ${String(value)}`, backend)
  }
  return value
}

/** An extension namespace: lower-case letters, digits, `-`, dot-separated, at most 64 characters. */
export function validateNamespace(value: unknown, backend?: string): string {
  if (
    typeof value !== 'string' ||
    !/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(value) ||
    value.length > 64
  ) {
    fail(`extension namespace must be lower-case words joined by '.', got ${String(value)}`, backend)
  }
  return value
}
