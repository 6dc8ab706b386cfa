import type { ID } from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import type { VsphereContext } from './context.js'
import { isCode } from './errors.js'
import type { ContainerRecord } from './extra-config.js'
import { OUTPUT_STREAMS, type OutputStreamName, outputPath } from './output-capture.js'
import { datastoreUrl } from './pending-file-rules.js'

// A process's output lives in files in the guest (output-capture.ts) while its VM runs. Before the
// backend powers a VM off it copies the output of the run's processes to the datastore, so what a
// crashed container wrote stays readable while it is stopped; it is deleted with the container.

/** The datastore folder the collected output of container `id` is kept in. */
export const OUTPUT_FOLDER = 'portlayer-output'

/** Output files copied at the same time before a power-off. */
const PARALLEL_COPIES = 8

export function keptPath(containerId: ID, processId: ID, stream: OutputStreamName): string {
  return `${OUTPUT_FOLDER}/${containerId}/${processId}.${stream}`
}

/** The processes of the container's current run that were started in the guest. */
function runProcesses(record: ContainerRecord): ID[] {
  const state = record.mainState
  const ids: ID[] = []
  if (record.main && state && state.pid > 0 && state.phase !== 'starting') ids.push(record.main.processId)
  for (const exec of record.execs)
    if (exec.pid > 0 && exec.run === (state?.run ?? '')) ids.push(exec.processId)
  return ids
}

/** Whether process `processId` belongs to the run now in the guest of a powered-on VM. */
export function inGuest(record: ContainerRecord, powerState: string, processId: ID): boolean {
  return powerState === 'poweredOn' && runProcesses(record).includes(processId)
}

/**
 * Copies the output of the current run's processes from the guest to the datastore, just before
 * the VM is powered off. Best effort: a failure is reported and the power-off goes on.
 */
export async function collectOutput(
  ctx: VsphereContext,
  id: ID,
  ref: MoRef,
  record: ContainerRecord,
): Promise<void> {
  const copies = runProcesses(record).flatMap((processId) =>
    OUTPUT_STREAMS.map((stream) => ({ processId, stream })),
  )
  // Several at once: the copies are independent and the power-off waits for all of them; a few
  // at a time so a run with many exec'd processes does not flood the server.
  for (let i = 0; i < copies.length; i += PARALLEL_COPIES) {
    await Promise.all(
      copies.slice(i, i + PARALLEL_COPIES).map(async ({ processId, stream }) => {
        try {
          const data = await ctx.guest.copyOut(ref, outputPath(processId, stream), id)
          // Nothing written: nothing to keep (a missing kept file reads as empty output).
          if (data.byteLength === 0) return
          await ctx.gateway.transfer({
            method: 'PUT',
            url: urlOf(ctx, keptPath(id, processId, stream)),
            body: data,
          })
        } catch (e) {
          // No file: the process wrote nothing there (or the guest lost it).
          if (!isCode(e, 'NOT_FOUND')) ctx.settings.onBackgroundError(e)
        }
      }),
    )
  }
}

/** Deletes the collected output of a destroyed container (best effort, all at once). */
export async function deleteOutput(ctx: VsphereContext, id: ID, record: ContainerRecord): Promise<void> {
  const ids = [...(record.main ? [record.main.processId] : []), ...record.execs.map((e) => e.processId)]
  await Promise.all(
    ids.flatMap((processId) =>
      OUTPUT_STREAMS.map((stream) =>
        ctx.gateway
          .transfer({ method: 'DELETE', url: urlOf(ctx, keptPath(id, processId, stream)) })
          .catch((e) => {
            if (!isCode(e, 'NOT_FOUND')) ctx.settings.onBackgroundError(e)
          }),
      ),
    ),
  )
}

export function urlOf(ctx: VsphereContext, path: string): string {
  return datastoreUrl(ctx.settings.datacenter, ctx.settings.datastore, path)
}
