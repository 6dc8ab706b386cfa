import { describe, expect, it } from 'vitest'
import {
  isWellFormedString,
  MAX_MESSAGE_LENGTH,
  PortLayerError,
  validateAbsolutePath,
  validateCallOptions,
  validateData,
  validateExecArgs,
  validateFileName,
  validateId,
  validateLimit,
  validateName,
  validateNamespace,
  validatePendingFiles,
  validatePerms,
  validateProcess,
  validateRunStateFilter,
  validateSignal,
  validateTargetRunState,
} from '../src/index.js'
import { detachedBytes, hostileValues, revokedProxy, shrunkBytes, throwingProxy } from './hostile.js'

/** Runs `fn` and returns what it threw; fails the test when it returns. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  throw new Error('expected a throw, but it returned')
}

/** `fn` must throw INVALID_ARGUMENT with a short, well-formed message naming the backend. */
function expectRefused(fn: () => unknown, label: string): void {
  const e = thrownBy(fn)
  expect(PortLayerError.isInstance(e, 'INVALID_ARGUMENT'), `${label}: ${String(e)}`).toBe(true)
  const { message, backend } = e as PortLayerError
  expect(message.length, label).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH)
  expect(isWellFormedString(message), label).toBe(true)
  expect(backend, label).toBe('test-backend')
}

const B = 'test-backend'
const VALIDATORS: ReadonlyArray<readonly [string, (v: unknown) => unknown]> = [
  ['validateId', (v) => validateId(v, 'id', B)],
  ['validateName', (v) => validateName(v, B)],
  ['validateAbsolutePath', (v) => validateAbsolutePath(v, 'targetDir', B)],
  ['validateFileName', (v) => validateFileName(v, B)],
  ['validatePerms', (v) => validatePerms(v, B)],
  ['validateData', (v) => validateData(v, B)],
  ['validateLimit', (v) => validateLimit(v, 'memoryMb', B)],
  ['validateExecArgs', (v) => validateExecArgs(v, B)],
  ['validateProcess(workDir)', (v) => validateProcess(v, '/bin/true', '', B)],
  ['validateProcess(execPath)', (v) => validateProcess('/', v, '', B)],
  ['validateProcess(execArgs)', (v) => validateProcess('/', '/bin/true', v, B)],
  ['validateTargetRunState', (v) => validateTargetRunState(v, B)],
  ['validateRunStateFilter', (v) => validateRunStateFilter(v, B)],
  ['validateSignal', (v) => validateSignal(v, B)],
  ['validateNamespace', (v) => validateNamespace(v, B)],
  ['validatePendingFiles', (v) => validatePendingFiles(v, B)],
  ['validatePendingFiles(entry)', (v) => validatePendingFiles([v], B)],
]

describe('every validator refuses every hostile value with INVALID_ARGUMENT', () => {
  for (const [name, validate] of VALIDATORS) {
    it(name, () => {
      for (const [label, value] of hostileValues()) expectRefused(() => validate(value), `${name}: ${label}`)
    })
  }

  it('validateCallOptions', () => {
    for (const [label, value] of hostileValues()) {
      // A frozen or sealed object without `signal`, an array, a Date and a Promise are objects
      // with no signal: valid options.
      if (typeof value !== 'object' || value === null) {
        expectRefused(() => validateCallOptions(value, B), label)
      }
      if (label !== 'a Promise')
        expectRefused(() => validateCallOptions({ signal: value }, B), `signal: ${label}`)
    }
    expectRefused(() => validateCallOptions(null, B), 'null')
    expectRefused(() => validateCallOptions(throwingProxy({}), B), 'throwing proxy')
    expectRefused(() => validateCallOptions(revokedProxy({}), B), 'revoked proxy')
    expectRefused(
      () =>
        validateCallOptions(
          Object.defineProperty({}, 'signal', {
            get() {
              throw new Error('no')
            },
          }),
          B,
        ),
      'throwing signal getter',
    )
  })
})

describe('the rules the hostile values probe', () => {
  it('names, paths, file names and execArgs must be well-formed UTF-16', () => {
    for (const lone of ['\ud800', 'a\udc00', '\ude00\ud83d']) {
      expectRefused(() => validateName(lone, B), `name ${JSON.stringify(lone)}`)
      expectRefused(() => validateAbsolutePath(`/${lone}`, 'targetDir', B), `path ${JSON.stringify(lone)}`)
      expectRefused(() => validateFileName(lone, B), `fname ${JSON.stringify(lone)}`)
      expectRefused(() => validateExecArgs(lone, B), `execArgs ${JSON.stringify(lone)}`)
    }
    expect(validateName('smile 😀', B)).toBe('smile 😀')
    expect(validateAbsolutePath('/😀/x', 'd', B)).toBe('/😀/x')
    expect(validateFileName('😀.txt', B)).toBe('😀.txt')
    expect(validateExecArgs('"😀"', B)).toBe('"😀"')
  })

  it('-0 is no integer argument', () => {
    expectRefused(() => validatePerms(-0, B), 'perms')
    expectRefused(() => validateLimit(-0, 'cpuMhz', B), 'limit')
    expectRefused(() => validateSignal(-0, B), 'signal')
    expect(validatePerms(0, B)).toBe(0)
  })

  it('data must be a usable Uint8Array; a Buffer and an empty array are', () => {
    expect(validateData(Buffer.from('x'), B)).toHaveLength(1)
    expect(validateData(new Uint8Array(0), B)).toHaveLength(0)
    expect(validateData(new Uint8Array(8).subarray(2, 4), B)).toHaveLength(2)
    for (const [label, value] of [
      ['detached', detachedBytes()],
      ['shrunk', shrunkBytes()],
      ['shared', new Uint8Array(new SharedArrayBuffer(1))],
      ['Int8Array', new Int8Array(1)],
      ['proxy of a Uint8Array', new Proxy(new Uint8Array(1), {})],
    ] as const) {
      expectRefused(() => validateData(value, B), label)
    }
  })

  it('messages describe the value briefly and never echo a long one', () => {
    const long = 'y'.repeat(1_000_000)
    for (const fn of [
      () => validateName(long, B),
      () => validateAbsolutePath(long, 'targetDir', B),
      () => validateAbsolutePath(`/${'z'.repeat(4000)}/..`, 'targetDir', B),
      () => validateFileName(long, B),
      () => validateExecArgs(`"${'q'.repeat(60_000)}`, B),
      () => validateId(long, 'id', B),
      () => validateNamespace(long, B),
    ]) {
      const e = thrownBy(fn) as PortLayerError
      expect(e.code).toBe('INVALID_ARGUMENT')
      expect(e.message.length).toBeLessThan(300)
    }
    expect((thrownBy(() => validateExecArgs('"open', B)) as Error).message).toMatch(
      /unterminated double quote, got "\\"open"/,
    )
    expect((thrownBy(() => validatePerms(Symbol('p'), B)) as Error).message).toMatch(/got a symbol \("p"\)/)
  })

  it('validateCallOptions keeps the signal, reads it once and returns a fresh object', () => {
    const signal = new AbortController().signal
    let reads = 0
    const options = {
      get signal() {
        reads++
        return signal
      },
    }
    const checked = validateCallOptions(options, B)
    expect(reads).toBe(1)
    expect(checked?.signal).toBe(signal)
    expect(checked === (options as unknown)).toBe(false)
    expect(validateCallOptions(undefined, B)).toBeUndefined()
    expect(validateCallOptions({}, B)).toEqual({})
    expect(validateCallOptions({ signal: undefined }, B)).toEqual({})
    expect(validateCallOptions({ signal: AbortSignal.abort() }, B)?.signal?.aborted).toBe(true)
  })
})
