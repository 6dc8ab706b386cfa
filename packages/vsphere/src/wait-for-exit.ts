import { type ID, type ProcessState, ProcessStatus } from '@portlayer/contracts'
import { pause } from './call-scope.js'
import { stateOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { invalidState, notFound } from './errors.js'
import type { ContainerRecord } from './extra-config.js'
import { observe } from './observe-exits.js'
import { resolveTarget } from './processes.js'
import { visibleOf } from './vm-snapshot.js'

// Waiting for a process to end. vSphere tells a process's end only through the guest's process
// list, so each look is one property read and, while the process runs, one guest process list
// (the same look a state read makes, which also records the exit for everyone).

/** The state of process (or main process of container) `target` once it has exited. */
export async function waitForExit(ctx: VsphereContext, target: ID): Promise<ProcessState> {
  const { containerId, processId } = await resolveTarget(ctx, target)
  let delay = 50
  for (;;) {
    const { snap, procs } = await observe(ctx, containerId, await ctx.directory.read(containerId))
    const shown = visibleOf(snap)
    const record = shown.record as ContainerRecord
    const state = stateOf(record, shown.powerState, shown === snap ? procs : undefined)
    let process: ProcessState | null
    if (processId === undefined || processId === record.main?.processId) {
      process = state.mainProcess
      if (process === null || process.status === ProcessStatus.NotStarted) {
        throw invalidState(`the main process of container ${containerId} was never started`, target)
      }
    } else {
      process = state.execdProcs.find((p) => p.processId === processId) ?? null
      if (process === null) throw notFound(processId)
    }
    if (process.status === ProcessStatus.Exited) return process
    await pause(delay)
    delay = Math.min(delay * 2, 1_000)
  }
}
