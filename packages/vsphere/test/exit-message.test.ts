import { describe, expect, it } from 'vitest'
import { exitMessage } from '../src/exit-message.js'

describe('exitMessage', () => {
  it('is empty for normal exits, whatever the code', () => {
    expect(exitMessage('/bin/true', '', 0)).toBe('')
    expect(exitMessage('/bin/false', '', 1)).toBe('')
    expect(exitMessage('/bin/sh', '-c "exit 3"', 3)).toBe('')
  })

  it('says "not found" for 127', () => {
    expect(exitMessage('/no/such', '', 127)).toContain('not found')
  })

  it('names the missing source of a failed /bin/cp', () => {
    expect(exitMessage('/bin/cp', "'/tmp/missing file' /tmp/b", 1)).toBe(
      "cp: cannot stat '/tmp/missing file': No such file or directory",
    )
  })

  it('names the signal of 128+n', () => {
    expect(exitMessage('/bin/sleep', '9', 143)).toContain('SIGTERM')
    expect(exitMessage('/bin/sleep', '9', 137)).toContain('SIGKILL')
    expect(exitMessage('/bin/sleep', '9', 128 + 40)).toBe('killed by signal 40')
  })
})
