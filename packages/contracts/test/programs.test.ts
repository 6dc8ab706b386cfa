import { describe, expect, it } from 'vitest'
import { ExitMessage, ignoresSigterm, PortLayerError, splitExecArgs } from '../src/index.js'

describe('splitExecArgs', () => {
  it.each([
    ['', []],
    ['   ', []],
    ['a b  c', ['a', 'b', 'c']],
    ['-c "exit 3"', ['-c', 'exit 3']],
    ["'a b' c", ['a b', 'c']],
    ['a"b c"d', ['ab cd']],
    ["'it''s'", ['its']],
    ['"say \\"hi\\""', ['say "hi"']],
    ["'no \\escape'", ['no \\escape']],
    ['a\\ b', ['a b']],
    ['""', ['']],
    ["x ''", ['x', '']],
    ['\t60\n', ['60']],
  ])('splits %j', (input, expected) => {
    expect(splitExecArgs(input)).toEqual(expected)
  })

  it.each(['"open', "'open", 'trailing\\'])('rejects %j with INVALID_ARGUMENT', (input) => {
    try {
      splitExecArgs(input)
      expect.unreachable()
    } catch (e) {
      expect(PortLayerError.isInstance(e, 'INVALID_ARGUMENT')).toBe(true)
    }
  })
})

describe('ExitMessage', () => {
  it('names signals, missing programs and missing copy sources', () => {
    expect(ExitMessage.signalled(15)).toBe('killed by SIGTERM')
    expect(ExitMessage.signalled(9)).toBe('killed by SIGKILL')
    expect(ExitMessage.signalled(40)).toBe('killed by signal 40')
    expect(ExitMessage.notFound('/opt/app')).toBe('/opt/app: not found')
    expect(ExitMessage.copySourceMissing('a.txt')).toBe("cp: cannot stat 'a.txt': No such file or directory")
  })
})

describe('ignoresSigterm', () => {
  const bytes = (s: string) => new TextEncoder().encode(s)

  it.each([
    "trap '' TERM",
    'trap "" TERM',
    "trap '' SIGTERM",
    "trap '' 15",
    "#!/bin/sh\ntrap '' TERM\nexec server\n",
    "#!/bin/sh\r\n  \ttrap\t''   TERM \r\nwhile :; do sleep 1; done\r\n",
    "\n\ntrap '' 15",
  ])('%j ignores SIGTERM', (content) => {
    expect(ignoresSigterm(bytes(content))).toBe(true)
  })

  it.each([
    '',
    '#!/bin/sh\n',
    "trap '' INT",
    "trap '' TERM INT",
    "trap 'exit 0' TERM",
    'trap - TERM',
    "trap ''TERM",
    "trap'' TERM",
    'trap \'" TERM',
    "trap ' TERM",
    "trap '' term",
    "# trap '' TERM",
    "echo trap '' TERM",
    "trap '' TERMINATE",
    "trap '' 150",
    "trap\n'' TERM",
  ])('%j does not', (content) => {
    expect(ignoresSigterm(bytes(content))).toBe(false)
  })

  it('reads binary content without decoding it', () => {
    const content = new Uint8Array([0xff, 0xfe, 0x0a, ...bytes("trap '' TERM"), 0x0a, 0x00, 0x80])
    expect(ignoresSigterm(content)).toBe(true)
    expect(ignoresSigterm(new Uint8Array(256).fill(7))).toBe(false)
    // A multi-byte character right before the line is not white space.
    expect(ignoresSigterm(bytes("\u00a0trap '' TERM"))).toBe(false)
  })
})
