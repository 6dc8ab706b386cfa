import { type ContainerState, type ID, type ProcessState, ProcessStatus } from '@portlayer/contracts'
import { reconciling } from './call-scope.js'
import { stateOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { invalidState, notFound } from './errors.js'
import { observeShown } from './observe-exits.js'
import { resolveTarget } from './processes.js'

// Waiting for a process to end. vSphere tells a process's end only through the guest's process
// list, so a look is one property read and, while the process runs, one guest process list (the
// look a state read makes, which also records the exit for everyone). The waiters of a container
// share their looks, woken by the event stream (see exit-waits.ts).

/** The state of process (or main process of container) `target` once it has exited. */
export async function waitForExit(ctx: VsphereContext, target: ID): Promise<ProcessState> {
  const { containerId, processId } = await resolveTarget(ctx, target)
  const look = (): Promise<{ state: ContainerState; mainId: ID | undefined }> =>
    reconciling(ctx.settings.reconcileTimeoutMs, async () => {
      const { snap, record, procs } = await observeShown(ctx, containerId)
      const state = stateOf(record, snap.powerState, procs)
      return { state, mainId: record.main?.processId }
    })
  return ctx.exitWaits.wait(containerId, look, ({ state, mainId }) => {
    let process: ProcessState | null
    if (processId === undefined || processId === mainId) {
      process = state.mainProcess
      if (process === null || process.status === ProcessStatus.NotStarted) {
        throw invalidState(`the main process of container ${containerId} was never started`, target)
      }
    } else {
      process = state.execdProcs.find((p) => p.processId === processId) ?? null
      if (process === null) throw notFound(processId)
    }
    return process.status === ProcessStatus.Exited ? process : undefined
  })
}
