import {
  MAX_EXEC_ARGS_LENGTH,
  MAX_PATH_LENGTH,
  validateAbsolutePath,
  validateExecArgs,
  validateFileName,
  validateId,
} from '@portlayer/contracts'

// Handle derivation sits in a backend's hot path, and the same few values (paths such as
// /usr/local/bin, the container's ID) are checked again and again. Each check here accepts the
// common, already-clean case with a cheap scan and defers everything else — normalising and
// error messages included — to the shared validator, so the accepted set is exactly the same.

const SLASH = 47
const DOT = 46

/** A UTF-16 surrogate, paired or not: the validator decides whether it is well-formed. */
function isSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdfff
}

/** True for a path `validateAbsolutePath` would return unchanged. */
function isCleanAbsolute(s: string): boolean {
  const n = s.length
  if (n === 0 || n > MAX_PATH_LENGTH || s.charCodeAt(0) !== SLASH) return false
  if (n === 1) return true
  if (s.charCodeAt(n - 1) === SLASH) return false
  let start = 1
  for (let i = 1; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : SLASH
    if (c < 32 || c === 127 || isSurrogate(c)) return false
    if (c === SLASH) {
      const len = i - start
      if (len === 0) return false
      if (s.charCodeAt(start) === DOT && (len === 1 || (len === 2 && s.charCodeAt(start + 1) === DOT)))
        return false
      start = i + 1
    }
  }
  return true
}

export function checkAbsolutePath(value: unknown, what: string): string {
  if (typeof value === 'string' && isCleanAbsolute(value)) return value
  return validateAbsolutePath(value, what)
}

export function checkFileName(value: unknown): string {
  // 85 UTF-16 units are at most 255 UTF-8 bytes, so the byte count needs no encoding.
  if (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= 85 &&
    value !== '.' &&
    value !== '..'
  ) {
    let clean = true
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      if (c < 32 || c === 127 || c === SLASH || isSurrogate(c)) {
        clean = false
        break
      }
    }
    if (clean) return value
  }
  return validateFileName(value)
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the characters it looks for
const NEEDS_SPLIT = /['"\\\u0000\uD800-\uDFFF]/

export function checkExecArgs(value: unknown): string {
  // Without quotes, backslashes, NUL or surrogates there is nothing that could be unbalanced or
  // ill-formed.
  if (typeof value === 'string' && value.length <= MAX_EXEC_ARGS_LENGTH && !NEEDS_SPLIT.test(value))
    return value
  return validateExecArgs(value)
}

let lastId: string | undefined

export function checkId(value: unknown, what: string): string {
  if (value === lastId && lastId !== undefined) return lastId
  const id = validateId(value, what)
  lastId = id
  return id
}
