import type { ID } from '@portlayer/contracts'

// Every main and exec'd process is started through `/bin/sh` so that its stdout and stderr go
// to files in the guest, named for its portlayer process ID. The same command works on the
// harness's emulated guest and on a real Linux guest with open-vm-tools (`exec` keeps the pid,
// so signals and the process list see the program itself).

/** Where the guest keeps the output of the processes portlayer started. */
export const OUTPUT_DIR = '/var/log/portlayer'

export type OutputStreamName = 'stdout' | 'stderr'
export const OUTPUT_STREAMS: readonly OutputStreamName[] = ['stdout', 'stderr']

/** The guest file holding stream `stream` of process `processId`. */
export function outputPath(processId: ID, stream: OutputStreamName): string {
  return `${OUTPUT_DIR}/${processId}.${stream}`
}

/** The `programPath` and `arguments` that run `execPath execArgs` with its output captured. */
export function captureCommand(
  processId: ID,
  execPath: string,
  execArgs: string,
): { programPath: string; args: string } {
  const program = execArgs === '' ? execPath : `${execPath} ${execArgs}`
  const script =
    `mkdir -p ${OUTPUT_DIR} && exec ${program}` +
    ` >${outputPath(processId, 'stdout')} 2>${outputPath(processId, 'stderr')}`
  return { programPath: '/bin/sh', args: `-c '${script.replaceAll("'", `'\\''`)}'` }
}

/** The command line the guest reports for a process started with {@link captureCommand}. */
export function capturedCommandLine(processId: ID, execPath: string, execArgs: string): string {
  const { programPath, args } = captureCommand(processId, execPath, execArgs)
  return `${programPath} ${args}`
}
