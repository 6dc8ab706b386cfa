import { type ErrorCode, PortLayerError } from '@portlayer/contracts'
import { expect } from 'vitest'
import { createSimulator, type Simulator, type SimulatorOptions } from '../src/index.js'

export function virtualSim(options: SimulatorOptions = {}): Simulator {
  return createSimulator({ clock: 'virtual', startTime: 1_000_000, ...options })
}

/** Asserts that `work` fails with a simulator PortLayerError of `code`; returns the error. */
export async function expectCode(
  work: Promise<unknown> | (() => unknown),
  code: ErrorCode,
): Promise<PortLayerError> {
  try {
    await (typeof work === 'function' ? work() : work)
  } catch (e) {
    if (!PortLayerError.isInstance(e)) throw e
    expect(e.code).toBe(code)
    return e
  }
  throw new Error(`expected ${code}, but it succeeded`)
}

/** Commits a container with `execPath` as entry point and starts it. */
export async function startContainer(
  sim: Simulator,
  execPath = '/usr/local/bin/app',
  execArgs = '',
  workDir = '/',
): Promise<string> {
  let h = await sim.createContainer('test')
  h = await sim.setEntryPoint(h, workDir, execPath, execArgs)
  if (execPath === '/usr/local/bin/app')
    h = await sim.copyTo(h, '/usr/local/bin', 'app', 0o755, new Uint8Array([1]))
  h = await sim.setRunState(h, 'running')
  return sim.commit(h)
}

export async function stop(sim: Simulator, id: string): Promise<void> {
  await sim.commit(await sim.setRunState(await sim.getHandle(id), 'stopped'))
}
