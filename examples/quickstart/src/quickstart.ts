import {
  type ContainerConfig,
  type ContainerState,
  type ID,
  type Interaction,
  type PortLayer,
  PortLayerError,
  type ProcessState,
  RunState,
} from '@portlayer/contracts'

const text = new TextEncoder()
const untext = new TextDecoder()

/** Where the quickstart reports what it does; the default prints to stdout. */
export type Log = (line: string) => void

/** What the quickstart needs of a backend: the port layer, plus waiting for exits and reading output. */
export type QuickstartBackend = PortLayer & Pick<Interaction, 'waitForExit' | 'readOutput'>

/**
 * The whole lifecycle of one container, on whatever backend `pl` is: create with an entry point
 * and limits, copy a file in while stopped, start, exec and wait for it, read what processes
 * printed, copy a file out, lose a race on purpose, stop, show config and state, destroy.
 * Returns the container's ID.
 */
export async function runQuickstart(pl: QuickstartBackend, log: Log = console.log): Promise<ID> {
  log('1. create a container with an entry point and limits, and copy files in while it is stopped')
  let h = await pl.createContainer('quickstart-web')
  // Any file with an execute bit runs until signalled: our stand-in for a real server binary.
  h = await pl.copyTo(h, '/usr/local/bin', 'web-server', 0o755, text.encode('#!/bin/sh\nexec httpd\n'))
  h = await pl.copyTo(h, '/etc/web', 'config.json', 0o644, text.encode('{"port":8080}\n'))
  h = await pl.setEntryPoint(h, '/srv', '/usr/local/bin/web-server', '--config /etc/web/config.json')
  h = await pl.setLimits(h, 512, 1000)
  const id = await pl.commit(h)
  log(`   committed container ${id}: ${(await pl.getContainerState(id)).status}`)

  log('2. start it (the pending files land before the main process starts)')
  await pl.commit(await pl.setRunState(await pl.getHandle(id), RunState.Running))
  log(`   ${(await pl.getContainerState(id)).status}`)

  log('3. exec a process inside it and wait for it: copy the config file to /tmp')
  const pid = await pl.execProcess(id, '/', '/bin/cp', '/etc/web/config.json /tmp/config.copy')
  const copied = await pl.waitForExit(pid)
  log(`   process ${pid} exited with code ${copied.exitCode}`)

  log('4. read what processes printed: stdout of one, stderr of one that failed')
  const cat = await pl.execProcess(id, '/etc/web', '/bin/cat', 'config.json')
  await pl.waitForExit(cat)
  for (const line of await outputOf(pl, cat)) log(`   ${line}`)
  const failed = await pl.execProcess(id, '/etc/web', '/bin/cat', 'missing.json')
  log(`   exited with code ${(await pl.waitForExit(failed)).exitCode}:`)
  for (const line of await outputOf(pl, failed)) log(`   ${line}`)

  log('5. copy the file out')
  const data = await pl.copyFrom(id, '/tmp', 'config.copy')
  log(`   /tmp/config.copy: ${untext.decode(data).trim()}`)

  log('6. two clients edit the same container; the second commit is refused')
  const first = await pl.getHandle(id)
  const second = await pl.getHandle(id)
  await pl.commit(await pl.copyTo(first, '/etc/web', 'motd', 0o644, text.encode('hello from client 1\n')))
  try {
    await pl.commit(await pl.copyTo(second, '/etc/web', 'motd', 0o644, text.encode('hello from client 2\n')))
    throw new Error('the stale commit was accepted')
  } catch (e) {
    if (!PortLayerError.isInstance(e, 'CONFLICT')) throw e
    log(`   refused: ${e.code}: ${e.message}`)
  }

  log('7. stop it (SIGTERM, then kill after the grace period)')
  await pl.commit(await pl.setRunState(await pl.getHandle(id), RunState.Stopped))

  log('8. config and state')
  for (const line of describe(await pl.getContainerConfig(id), await pl.getContainerState(id)))
    log(`   ${line}`)

  log('9. destroy it')
  await pl.destroyContainer(id)
  log(`   containers left with that ID: ${(await pl.listContainers()).filter((c) => c === id).length}`)
  return id
}

/** What a process wrote, as lines prefixed with their stream (`docker logs`). */
async function outputOf(pl: QuickstartBackend, processId: ID): Promise<string[]> {
  const lines: string[] = []
  for await (const chunk of pl.readOutput(processId)) {
    for (const line of untext.decode(chunk.data).split('\n'))
      if (line !== '') lines.push(`${chunk.stream}: ${line}`)
  }
  return lines
}

function time(d: Date | null): string {
  return d ? d.toISOString() : '-'
}

function processLine(label: string, command: string, p: ProcessState | undefined): string {
  if (!p) return `${label}: ${command} (no state)`
  const exit = p.status === 'exited' ? ` with code ${p.exitCode}${p.exitMsg ? ` (${p.exitMsg})` : ''}` : ''
  return `${label}: ${command}: ${p.status}${exit}; pid ${p.guestPid}, started ${time(p.startedAt)}, finished ${time(p.finishedAt)}`
}

/** Config and state as lines a person reads. */
export function describe(config: ContainerConfig, state: ContainerState): string[] {
  const lines = [
    `container ${config.containerId} "${config.name}", created ${config.created.toISOString()}`,
    `status ${state.status}; limits ${config.limits.memoryMb} MiB, ${config.limits.cpuMhz} MHz`,
  ]
  if (config.mainProcess) {
    const m = config.mainProcess
    lines.push(
      processLine('main', `${m.execPath} ${m.execArgs} (in ${m.workDir})`, state.mainProcess ?? undefined),
    )
  }
  for (const p of config.execdProcs) {
    const s = state.execdProcs.find((x) => x.processId === p.processId)
    lines.push(processLine(`exec ${p.processId.slice(0, 8)}`, `${p.execPath} ${p.execArgs}`, s))
  }
  return lines
}
