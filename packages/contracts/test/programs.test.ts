import { describe, expect, it } from 'vitest'
import { ExitMessage, PortLayerError, splitExecArgs } from '../src/index.js'

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
