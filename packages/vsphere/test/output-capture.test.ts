import { describe, expect, it } from 'vitest'
import { captureCommand, capturedCommandLine, OUTPUT_DIR, outputPath } from '../src/output-capture.js'
import { nextChunk } from '../src/process-output.js'

const ID = '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f'
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined)

/** What a POSIX shell makes of `-c '…'`: the script between the outer quotes, `'\''` undone. */
function scriptOf(args: string): string {
  expect(args.startsWith("-c '") && args.endsWith("'")).toBe(true)
  return args.slice(4, -1).replaceAll(`'\\''`, "'")
}

describe('captureCommand', () => {
  it('runs the program through /bin/sh with exec, its streams to files named for the process', () => {
    const { programPath, args } = captureCommand(ID, '/bin/echo', 'hello world')
    expect(programPath).toBe('/bin/sh')
    expect(scriptOf(args)).toBe(
      `mkdir -p ${OUTPUT_DIR} && exec /bin/echo hello world >${outputPath(ID, 'stdout')} 2>${outputPath(ID, 'stderr')}`,
    )
  })

  it("keeps the user's quoting: single quotes in the arguments survive the outer quoting", () => {
    const { args } = captureCommand(ID, '/bin/echo', `'it''s' "a  b"`)
    expect(scriptOf(args)).toContain(`exec /bin/echo 'it''s' "a  b" >`)
  })

  it('a program without arguments has no trailing space', () => {
    expect(scriptOf(captureCommand(ID, '/bin/true', '').args)).toContain('exec /bin/true >')
  })

  it('the reported command line is the program path and the arguments', () => {
    const { args } = captureCommand(ID, '/bin/sleep', '5')
    expect(capturedCommandLine(ID, '/bin/sleep', '5')).toBe(`/bin/sh ${args}`)
  })
})

describe('nextChunk', () => {
  it('gives what is new past the offset', () => {
    expect(nextChunk(bytes('abc'), 0, 100)).toMatchObject({ dropped: 0, offset: 3 })
    expect(text(nextChunk(bytes('abcdef'), 3, 100)?.chunk)).toBe('def')
    expect(nextChunk(bytes('abc'), 3, 100)).toBeUndefined()
  })

  it('keeps the last `limit` bytes and counts what fell out', () => {
    const next = nextChunk(bytes('0123456789'), 0, 4)
    expect(text(next?.chunk)).toBe('6789')
    expect(next?.dropped).toBe(6)
    const later = nextChunk(bytes('0123456789abc'), 10, 2)
    expect(text(later?.chunk)).toBe('bc')
    expect(later?.dropped).toBe(1)
  })

  it('a stream that shrank (a new run truncated it) is read from its start', () => {
    expect(text(nextChunk(bytes('new'), 10, 100)?.chunk)).toBe('new')
  })

  it('copies what it keeps (no view of the whole answer)', () => {
    const whole = bytes('0123456789')
    const next = nextChunk(whole, 0, 3)
    expect(next?.chunk.buffer).not.toBe(whole.buffer)
  })
})
