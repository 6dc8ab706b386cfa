import {
  EXIT_NOT_FOUND,
  ExitMessage,
  MAX_SIGNAL,
  OutputProgram,
  Program,
  splitExecArgs,
} from '@portlayer/contracts'
import { resolvePath } from './fs.js'
import { baseName, FsNode, fsOf, joinPath, ownFs, parentOf } from './fs-tree.js'
import { STDERR, STDOUT, type StreamIndex } from './output.js'
import { type Container, MODE_SLEEP, type Proc, STARTED } from './records.js'

/** What the built-in programs need of the engine that runs them. */
export interface BuiltinHost {
  readonly clock: { nowMs(): number }
  exitProcess(proc: Proc, code: number, message: string): void
  armSleep(proc: Proc, ms: number): void
  deliver(proc: Proc, signal: number): void
  findByPid(c: Container, pid: number): Proc | undefined
  /** Appends to the process's output; `data` is owned by the host from then on. */
  write(proc: Proc, stream: StreamIndex, data: Uint8Array): void
}

const encoder = new TextEncoder()

function writeText(engine: BuiltinHost, proc: Proc, stream: StreamIndex, text: string): void {
  engine.write(proc, stream, encoder.encode(text))
}

/**
 * Runs `proc` if its program is one of the built-ins of the program-semantics table (see
 * `Program` in `@portlayer/contracts`) and returns true; false for any other path.
 */
export function runBuiltin(engine: BuiltinHost, proc: Proc): boolean {
  switch (proc.config.execPath) {
    case Program.True:
      engine.exitProcess(proc, 0, '')
      return true
    case Program.False:
      engine.exitProcess(proc, 1, '')
      return true
    case Program.Sleep:
      sleep(engine, proc, args(engine, proc))
      return true
    case Program.Shell:
      shell(engine, proc, args(engine, proc))
      return true
    case Program.Copy:
      copy(engine, proc, args(engine, proc))
      return true
    case Program.Kill:
      kill(engine, proc, args(engine, proc))
      return true
    case OutputProgram.Echo:
      echo(engine, proc, args(engine, proc))
      return true
    case OutputProgram.Cat:
      cat(engine, proc, args(engine, proc))
      return true
    default:
      return false
  }
}

/** The words of `execArgs`; a process whose arguments cannot be split exits 2 (as a shell would). */
export function args(engine: BuiltinHost, proc: Proc): string[] {
  try {
    return splitExecArgs(proc.config.execArgs)
  } catch (e) {
    engine.exitProcess(proc, 2, (e as Error).message)
    return []
  }
}

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/

function sleep(engine: BuiltinHost, proc: Proc, words: string[]): void {
  if (proc.status !== STARTED) return
  if (words.length === 0) {
    engine.exitProcess(proc, 1, 'sleep: missing operand')
    return
  }
  let seconds = 0
  for (const w of words) {
    if (!DECIMAL.test(w)) {
      engine.exitProcess(proc, 1, `sleep: invalid time interval '${w}'`)
      return
    }
    seconds += Number(w)
  }
  const ms = Math.round(seconds * 1000)
  if (ms === 0) {
    engine.exitProcess(proc, 0, '')
    return
  }
  proc.mode = MODE_SLEEP
  proc.deadline = engine.clock.nowMs() + ms
  engine.armSleep(proc, ms)
}

const EXIT_SCRIPT = /^\s*exit(?:\s+(\d{1,10}))?\s*;?\s*$/
// `echo TEXT; exit N` or `echo TEXT >&2; exit N`, as the emulated guest reads them: the
// redirection stands apart from TEXT (`echo a1>&2` is not `echo a 1>&2`).
const ECHO_SCRIPT = /^\s*echo(?:\s+(.*?))??(?:\s+(1?>&2))?\s*;\s*exit(?:\s+(\d{1,10}))?\s*;?\s*$/
/** Characters that would make TEXT more than plain words to a shell (outside quotes). */
const SHELL_SPECIAL = ';&|<>()$`*?[#~{}'

function shell(engine: BuiltinHost, proc: Proc, words: string[]): void {
  if (proc.status !== STARTED) return
  const script = words[0] === '-c' ? words[1] : undefined
  if (script === undefined) {
    engine.exitProcess(
      proc,
      EXIT_NOT_FOUND,
      'sh: only -c "exit N" and "echo TEXT [>&2]; exit N" scripts are supported: not found',
    )
    return
  }
  const m = EXIT_SCRIPT.exec(script)
  if (m !== null) {
    engine.exitProcess(proc, exitStatus(m[1]), '')
    return
  }
  const e = ECHO_SCRIPT.exec(script)
  const text = e === null ? undefined : echoWords(e[1] ?? '')
  if (e === null || text === undefined) {
    const command = script.trim().split(/\s+/)[0] ?? script
    engine.exitProcess(proc, EXIT_NOT_FOUND, `sh: 1: ${command}: not found`)
    return
  }
  writeText(engine, proc, e[2] === undefined ? STDOUT : STDERR, `${text.join(' ')}\n`)
  engine.exitProcess(proc, exitStatus(e[3]), '')
}

/** The status `exit N` ends a script with: as in sh, N modulo 256 (0 without N). */
function exitStatus(n: string | undefined): number {
  return n === undefined ? 0 : Number(n) % 256
}

/**
 * The words of echo's TEXT as the shell would pass them; `undefined` for text a shell would read
 * as more than plain words (another command, a redirection, an expansion), which this simulator
 * does not run.
 */
function echoWords(text: string): string[] | undefined {
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (quote === "'") {
      if (c === "'") quote = ''
    } else if (c === '\\') {
      i++
    } else if (quote === '"') {
      if (c === '"') quote = ''
      else if (c === '$' || c === '`') return undefined
    } else if (c === "'" || c === '"') {
      quote = c
    } else if (SHELL_SPECIAL.includes(c)) {
      return undefined
    }
  }
  try {
    return splitExecArgs(text)
  } catch {
    return undefined
  }
}

/** `/bin/echo ARGS…`: the arguments joined by one space and a newline, on stdout. */
function echo(engine: BuiltinHost, proc: Proc, words: string[]): void {
  if (proc.status !== STARTED) return
  writeText(engine, proc, STDOUT, `${words.join(' ')}\n`)
  engine.exitProcess(proc, 0, '')
}

/**
 * `/bin/cat FILE…`: each file (relative to the working directory) to stdout in order; one that
 * cannot be read is reported on stderr in GNU cat's words and makes it exit 1.
 */
function cat(engine: BuiltinHost, proc: Proc, words: string[]): void {
  if (proc.status !== STARTED) return
  const fs = fsOf(proc.container)
  let code = 0
  for (const name of words) {
    let path: string | undefined
    try {
      path = resolvePath(proc.config.workDir, name)
    } catch {
      // An empty operand names no file.
      path = undefined
    }
    const node = path === undefined ? undefined : fs.get(path)
    let reason = ''
    if (node === undefined) {
      reason = path !== undefined && underFile(fs, path) ? 'Not a directory' : 'No such file or directory'
    } else if (node.dir) {
      reason = 'Is a directory'
    }
    if (reason !== '') {
      writeText(engine, proc, STDERR, `cat: ${name}: ${reason}\n`)
      code = 1
      continue
    }
    // Shared, not copied: file bytes and kept output are never changed in place.
    const data = (node as FsNode).data
    if (data !== null) engine.write(proc, STDOUT, data)
  }
  engine.exitProcess(proc, code, '')
}

/** True when some directory on the way to `path` is a file. */
function underFile(fs: ReadonlyMap<string, FsNode>, path: string): boolean {
  for (let p = parentOf(path); p !== '/'; p = parentOf(p)) {
    const node = fs.get(p)
    if (node !== undefined) return !node.dir
  }
  return false
}

function copy(engine: BuiltinHost, proc: Proc, words: string[]): void {
  if (proc.status !== STARTED) return
  if (words.length !== 2 || words.some((w) => w.startsWith('-'))) {
    engine.exitProcess(proc, 1, 'cp: usage: cp SRC DST')
    return
  }
  const [srcWord, dstWord] = words as [string, string]
  // An empty operand names no file (resolvePath refuses it): as with cp, an error of this process.
  if (srcWord === '') {
    engine.exitProcess(proc, 1, ExitMessage.copySourceMissing(''))
    return
  }
  if (dstWord === '') {
    engine.exitProcess(proc, 1, "cp: cannot create regular file '': No such file or directory")
    return
  }
  const c = proc.container
  const cwd = proc.config.workDir
  const src = resolvePath(cwd, srcWord)
  let dst = resolvePath(cwd, dstWord)
  const fs = fsOf(c)
  const from = fs.get(src)
  if (from === undefined) {
    writeText(engine, proc, STDERR, `${ExitMessage.copySourceMissing(srcWord)}\n`)
    engine.exitProcess(proc, 1, ExitMessage.copySourceMissing(srcWord))
    return
  }
  if (from.dir) {
    engine.exitProcess(proc, 1, `cp: -r not specified; omitting directory '${srcWord}'`)
    return
  }
  const target = fs.get(dst)
  if (target?.dir) dst = joinPath(dst, baseName(src))
  if (dst === src) {
    engine.exitProcess(proc, 1, `cp: '${srcWord}' and '${dstWord}' are the same file`)
    return
  }
  const existing = fs.get(dst)
  if (existing?.dir) {
    engine.exitProcess(proc, 1, `cp: cannot overwrite directory '${dst}' with non-directory`)
    return
  }
  const parent = fs.get(parentOf(dst))
  if (parent === undefined || !parent.dir) {
    engine.exitProcess(proc, 1, `cp: cannot create regular file '${dstWord}': No such file or directory`)
    return
  }
  // Bytes are shared: nodes are immutable. An existing destination keeps its mode, as with cp.
  ownFs(c).set(dst, new FsNode(false, existing?.perms ?? from.perms, from.data))
  engine.exitProcess(proc, 0, '')
}

function kill(engine: BuiltinHost, proc: Proc, words: string[]): void {
  if (proc.status !== STARTED) return
  let signal = 15
  let rest = words
  if (words[0] === '-s' && words.length >= 2) {
    signal = Number(words[1])
    rest = words.slice(2)
  } else if (words[0]?.startsWith('-')) {
    signal = Number(words[0].slice(1))
    rest = words.slice(1)
  }
  if (!Number.isInteger(signal) || signal < 1 || signal > MAX_SIGNAL) {
    engine.exitProcess(proc, 1, `kill: invalid signal '${words[0]}'`)
    return
  }
  if (rest.length !== 1 || !/^\d+$/.test(rest[0] as string)) {
    engine.exitProcess(proc, 1, 'kill: usage: kill [-N] PID')
    return
  }
  const pid = Number(rest[0])
  const target = engine.findByPid(proc.container, pid)
  if (target === undefined || target.status !== STARTED) {
    engine.exitProcess(proc, 1, `kill: (${pid}) - No such process`)
    return
  }
  // kill finishes before its signal lands, so it exits 0 even when it ends the container.
  if (target !== proc) engine.exitProcess(proc, 0, '')
  engine.deliver(target, signal)
  if (target === proc && proc.status === STARTED) engine.exitProcess(proc, 0, '')
}
