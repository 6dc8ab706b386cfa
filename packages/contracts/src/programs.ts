import { InvalidArgumentError } from './errors.js'

/**
 * The built-in programs every backend's guest understands, with the same behaviour in the
 * simulator and in the vcsim harness's emulated guest:
 *
 * | path | behaviour |
 * |---|---|
 * | `/bin/true` | exits 0 at once |
 * | `/bin/false` | exits 1 at once |
 * | `/bin/sleep N` | exits 0 after N seconds (N a non-negative decimal; otherwise exits 1) |
 * | `/bin/sh -c "exit N"` | exits N (0–255) at once; any other script exits 127 |
 * | `/bin/cp SRC DST` | copies a file (paths relative to the working directory), exits 0; exits 1 with a message when SRC is missing |
 * | `/bin/kill -N PID` | sends signal N to guest process PID, exits 0; exits 1 when there is no such process |
 * | a file in the container with an execute bit | runs until signalled |
 * | such a file with a line `trap '' TERM` | runs until signalled; ignores SIGTERM (see {@link ignoresSigterm}) |
 * | anything else | exits 127, "program not found" |
 */
export const Program = {
  True: '/bin/true',
  False: '/bin/false',
  Sleep: '/bin/sleep',
  Shell: '/bin/sh',
  Copy: '/bin/cp',
  Kill: '/bin/kill',
} as const
export type Program = (typeof Program)[keyof typeof Program]

/** Exit code of a program that does not exist. */
export const EXIT_NOT_FOUND = 127
/** A process ended by signal `n` exits with `SIGNAL_EXIT_BASE + n`. */
export const SIGNAL_EXIT_BASE = 128

/** The signals the conformance suite and the stop sequence use. */
export const Signal = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGTERM: 15,
} as const

/** Highest signal number accepted (Linux real-time signals end at 64). */
export const MAX_SIGNAL = 64

/**
 * Whether an executable file's content makes it ignore SIGTERM, as a shell script that traps it
 * with an empty action would: one of its lines is `trap '' TERM` or `trap "" TERM`, with `SIGTERM`
 * or `15` accepted for `TERM`, blanks (spaces, tabs) between the words, and white space (also a
 * carriage return) before and after them. Such a file still ends with 128 + n on any other
 * signal, and SIGKILL always ends it; a stop therefore waits its grace period and then kills it.
 *
 * Backends call this once, when the process starts. It reads the bytes as they are (no decoding),
 * so binary content costs one pass and never matches by accident of an encoding.
 */
export function ignoresSigterm(content: Uint8Array): boolean {
  const n = content.length
  let start = 0
  while (start < n) {
    let end = content.indexOf(NEWLINE, start)
    if (end < 0) end = n
    if (lineTrapsTerm(content, start, end)) return true
    start = end + 1
  }
  return false
}

const NEWLINE = 0x0a
const QUOTES = [0x27, 0x22] // ' "
const TERM_NAMES = ['TERM', 'SIGTERM', '15'].map((w) => Array.from(w, (c) => c.charCodeAt(0)))
const TRAP = Array.from('trap', (c) => c.charCodeAt(0))

const isBlank = (b: number | undefined): boolean => b === 0x20 || b === 0x09
// Around the words a line may also carry a carriage return (CRLF files), form feed or vertical tab.
const isSpace = (b: number | undefined): boolean =>
  b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0c || b === 0x0b

function wordAt(content: Uint8Array, i: number, end: number, word: readonly number[]): boolean {
  if (i + word.length > end) return false
  for (let k = 0; k < word.length; k++) if (content[i + k] !== word[k]) return false
  return true
}

/** `[space]trap<blanks>''<blanks>TERM[space]` on content[start, end). */
function lineTrapsTerm(content: Uint8Array, start: number, end: number): boolean {
  let i = start
  while (i < end && isSpace(content[i])) i++
  if (!wordAt(content, i, end, TRAP)) return false
  i += TRAP.length
  const afterTrap = i
  while (i < end && isBlank(content[i])) i++
  if (i === afterTrap) return false
  const q = content[i]
  if (q === undefined || !QUOTES.includes(q) || i + 1 >= end || content[i + 1] !== q) return false
  i += 2
  const afterAction = i
  while (i < end && isBlank(content[i])) i++
  if (i === afterAction) return false
  for (const name of TERM_NAMES) {
    if (!wordAt(content, i, end, name)) continue
    let j = i + name.length
    while (j < end && isSpace(content[j])) j++
    if (j === end) return true
  }
  return false
}

/** Directories a new container's file system already has. */
export const DEFAULT_DIRECTORIES: readonly string[] = Object.freeze([
  '/bin',
  '/etc',
  '/tmp',
  '/usr/local/bin',
])

/**
 * Splits `execArgs` the way a POSIX shell splits words: on white space, with single quotes
 * (literal) and double quotes (backslash escapes `"`, `\`, `$` and `` ` ``), and backslash
 * escapes outside quotes.
 * @throws InvalidArgumentError on an unterminated quote or a trailing backslash.
 */
export function splitExecArgs(execArgs: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  const n = execArgs.length
  while (i < n) {
    const c = execArgs[i] as string
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      if (inWord) {
        words.push(word)
        word = ''
        inWord = false
      }
      i++
    } else if (c === "'") {
      const end = execArgs.indexOf("'", i + 1)
      if (end < 0) throw new InvalidArgumentError(`execArgs has an unterminated single quote: ${execArgs}`)
      word += execArgs.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      i++
      let closed = false
      while (i < n) {
        const d = execArgs[i] as string
        if (d === '"') {
          closed = true
          i++
          break
        }
        if (d === '\\' && i + 1 < n && '"\\$`'.includes(execArgs[i + 1] as string)) {
          word += execArgs[i + 1]
          i += 2
        } else {
          word += d
          i++
        }
      }
      if (!closed) throw new InvalidArgumentError(`execArgs has an unterminated double quote: ${execArgs}`)
      inWord = true
    } else if (c === '\\') {
      if (i + 1 >= n) throw new InvalidArgumentError(`execArgs ends with a backslash: ${execArgs}`)
      word += execArgs[i + 1]
      inWord = true
      i += 2
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}

const SIGNAL_NAMES: Readonly<Record<number, string>> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
}

/**
 * The exit messages (`ProcessState.exitMsg`) every backend reports, so a message reads the same
 * whatever ran the process.
 */
export const ExitMessage = {
  /** A process ended by signal `n`: `killed by SIGTERM` (or `killed by signal 40`). */
  signalled: (n: number): string => `killed by ${SIGNAL_NAMES[n] ?? `signal ${n}`}`,
  /** A program that does not exist (exit 127). */
  notFound: (execPath: string): string => `${execPath}: not found`,
  /** `/bin/cp` whose source is missing (exit 1). */
  copySourceMissing: (source: string): string => `cp: cannot stat '${source}': No such file or directory`,
} as const
