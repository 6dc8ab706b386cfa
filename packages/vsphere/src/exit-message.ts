import { EXIT_NOT_FOUND, ExitMessage, Program, SIGNAL_EXIT_BASE, splitExecArgs } from '@portlayer/contracts'

/** Exit code recorded for a process ended by powering its VM off (as SIGKILL would). */
export const POWER_OFF_EXIT_CODE = SIGNAL_EXIT_BASE + 9

/**
 * The exit message of a process. vSphere reports only exit codes, so the message is derived from
 * the program and its code the way the program-semantics table describes: empty for normal exits,
 * "not found" for 127, the missing source for a failed `/bin/cp`, the signal for 128+n.
 */
export function exitMessage(execPath: string, execArgs: string, exitCode: number): string {
  if (exitCode === EXIT_NOT_FOUND) return ExitMessage.notFound(execPath)
  if (exitCode > SIGNAL_EXIT_BASE && exitCode <= SIGNAL_EXIT_BASE + 64) {
    return ExitMessage.signalled(exitCode - SIGNAL_EXIT_BASE)
  }
  if (execPath === Program.Copy && exitCode === 1) {
    let source = ''
    try {
      source = splitExecArgs(execArgs)[0] ?? ''
    } catch {
      // malformed arguments were refused before the process started; keep the generic message
    }
    return ExitMessage.copySourceMissing(source)
  }
  return ''
}
