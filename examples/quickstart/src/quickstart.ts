import {
  type ContainerConfig,
  type ContainerState,
  type ID,
  type PortLayer,
  PortLayerError,
  type ProcessState,
  RunState,
} from '@portlayer/contracts'

const text = new TextEncoder()
const untext = new TextDecoder()

/** Where the quickstart reports what it does; the default prints to stdout. */
export type Log = (line: string) => void

/**
 * The whole lifecycle of one container, on whatever backend `pl` is: create with an entry point
 * and limits, copy a file in while stopped, start, exec, copy a file out, lose a race on purpose,
 * stop, show config and state, destroy. Returns the container's ID.
 */
export async function runQuickstart(pl: PortLayer, log: Log = console.log): Promise<ID> {
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

  log('3. exec a process inside it: copy the config file to /tmp')
  const pid = await pl.execProcess(id, '/', '/bin/cp', '/etc/web/config.json /tmp/config.copy')
  const copied = await waitForExit(pl, id, pid)
  log(`   process ${pid} exited with code ${copied.exitCode}`)

  log('4. copy the file out')
  const data = await pl.copyFrom(id, '/tmp', 'config.copy')
  log(`   /tmp/config.copy: ${untext.decode(data).trim()}`)

  log('5. two clients edit the same container; the second commit is refused')
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

  log('6. stop it (SIGTERM, then kill after the grace period)')
  await pl.commit(await pl.setRunState(await pl.getHandle(id), RunState.Stopped))

  log('7. config and state')
  for (const line of describe(await pl.getContainerConfig(id), await pl.getContainerState(id)))
    log(`   ${line}`)

  log('8. destroy it')
  await pl.destroyContainer(id)
  log(`   containers left with that ID: ${(await pl.listContainers()).filter((c) => c === id).length}`)
  return id
}

async function waitForExit(pl: PortLayer, id: ID, processId: ID, timeoutMs = 30_000): Promise<ProcessState> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const state = await pl.getContainerState(id)
    const proc = state.execdProcs.find((p) => p.processId === processId)
    if (proc?.status === 'exited') return proc
    if (Date.now() > deadline) throw new Error(`process ${processId} did not exit within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
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
