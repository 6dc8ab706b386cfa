import { EXIT_NOT_FOUND, Program, SIGNAL_EXIT_BASE, splitExecArgs } from '@portlayer/contracts'

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

/** Exit code recorded for a process ended by powering its VM off (as SIGKILL would). */
export const POWER_OFF_EXIT_CODE = SIGNAL_EXIT_BASE + 9

/**
 * The exit message of a process. vSphere reports only exit codes, so the message is derived from
 * the program and its code the way the program-semantics table describes: empty for normal exits,
 * "not found" for 127, the missing source for a failed `/bin/cp`, the signal for 128+n.
 */
export function exitMessage(execPath: string, execArgs: string, exitCode: number): string {
  if (exitCode === EXIT_NOT_FOUND) return `${execPath}: not found`
  if (exitCode > SIGNAL_EXIT_BASE && exitCode <= SIGNAL_EXIT_BASE + 64) {
    const n = exitCode - SIGNAL_EXIT_BASE
    return `killed by ${SIGNAL_NAMES[n] ?? `signal ${n}`}`
  }
  if (execPath === Program.Copy && exitCode === 1) {
    let source = ''
    try {
      source = splitExecArgs(execArgs)[0] ?? ''
    } catch {
      // malformed arguments were refused before the process started; keep the generic message
    }
    return `cp: cannot stat '${source}': No such file or directory`
  }
  return ''
}
