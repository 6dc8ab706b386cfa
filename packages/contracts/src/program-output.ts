/**
 * The built-in programs that write output, with the same behaviour in the simulator and in the
 * vcsim harness's emulated guest (arguments split as `splitExecArgs` does):
 *
 * | path | behaviour |
 * |---|---|
 * | `/bin/echo ARGS…` | writes its arguments joined by one space and a newline to stdout, exits 0 |
 * | `/bin/cat FILE…` | writes each file (relative to the working directory) to stdout in order; for one that is missing writes `cat: FILE: No such file or directory` and a newline to stderr; exits 1 if any was missing, else 0 |
 * | `/bin/sh -c "echo TEXT; exit N"` | writes TEXT and a newline to stdout, exits N |
 * | `/bin/sh -c "echo TEXT >&2; exit N"` | writes TEXT and a newline to stderr, exits N |
 * | a program not found | writes `EXECPATH: not found` and a newline to stderr, exits 127 |
 *
 * {@link PROGRAM_OUTPUT_CASES} pins them; both backends' suites run it.
 */
export const OutputProgram = {
  Echo: '/bin/echo',
  Cat: '/bin/cat',
} as const
export type OutputProgram = (typeof OutputProgram)[keyof typeof OutputProgram]

/** One run of a built-in program and exactly what it writes and how it ends. */
export interface ProgramOutputCase {
  readonly name: string
  readonly execPath: string
  readonly execArgs: string
  /** Files (name → text) in the working directory `/tmp` before the program runs. */
  readonly files?: Readonly<Record<string, string>>
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

/** The table both backends' suites run (working directory `/tmp`). */
export const PROGRAM_OUTPUT_CASES: readonly ProgramOutputCase[] = Object.freeze<ProgramOutputCase[]>([
  {
    name: 'echo',
    execPath: '/bin/echo',
    execArgs: 'hello   world',
    stdout: 'hello world\n',
    stderr: '',
    exitCode: 0,
  },
  {
    name: 'echo without arguments',
    execPath: '/bin/echo',
    execArgs: '',
    stdout: '\n',
    stderr: '',
    exitCode: 0,
  },
  {
    name: 'echo with quotes',
    execPath: '/bin/echo',
    execArgs: `'a  b' "c d"`,
    stdout: 'a  b c d\n',
    stderr: '',
    exitCode: 0,
  },
  {
    name: 'cat',
    execPath: '/bin/cat',
    execArgs: 'a.txt b.txt',
    files: { 'a.txt': 'one\n', 'b.txt': 'two\n' },
    stdout: 'one\ntwo\n',
    stderr: '',
    exitCode: 0,
  },
  {
    name: 'cat of a missing file',
    execPath: '/bin/cat',
    execArgs: 'a.txt nope.txt',
    files: { 'a.txt': 'one\n' },
    stdout: 'one\n',
    stderr: 'cat: nope.txt: No such file or directory\n',
    exitCode: 1,
  },
  {
    name: 'sh echo; exit',
    execPath: '/bin/sh',
    execArgs: '-c "echo hi there; exit 3"',
    stdout: 'hi there\n',
    stderr: '',
    exitCode: 3,
  },
  {
    name: 'sh echo >&2; exit',
    execPath: '/bin/sh',
    execArgs: '-c "echo oops >&2; exit 2"',
    stdout: '',
    stderr: 'oops\n',
    exitCode: 2,
  },
  { name: 'sh exit', execPath: '/bin/sh', execArgs: '-c "exit 4"', stdout: '', stderr: '', exitCode: 4 },
  {
    name: 'not found',
    execPath: '/bin/nope',
    execArgs: '',
    stdout: '',
    stderr: '/bin/nope: not found\n',
    exitCode: 127,
  },
])
