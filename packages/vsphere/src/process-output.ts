import {
  DEFAULT_OUTPUT_LIMIT_BYTES,
  type ID,
  type OutputChunk,
  type ProcessState,
  ProcessStatus,
} from '@portlayer/contracts'
import { pause } from './call-scope.js'
import { stateOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { isCode, notFound } from './errors.js'
import type { ContainerRecord } from './extra-config.js'
import { observeShown } from './observe-exits.js'
import { OUTPUT_STREAMS, type OutputStreamName, outputPath } from './output-capture.js'
import { inGuest, keptPath, urlOf } from './output-collection.js'
import { resolveTarget } from './processes.js'

/** What process `processId` of container `id` wrote so far, per stream (empty when nothing). */
async function readStreams(
  ctx: VsphereContext,
  id: ID,
  processId: ID,
): Promise<{ streams: Record<OutputStreamName, Uint8Array>; state: ProcessState | null }> {
  const { snap: shown, record, procs } = await observeShown(ctx, id)
  const states = stateOf(record, shown.powerState, procs)
  const state =
    record.main?.processId === processId
      ? states.mainProcess
      : (states.execdProcs.find((p) => p.processId === processId) ?? null)
  if (state === null && record.main?.processId !== processId) throw processGone(processId)
  const live = inGuest(record, shown.powerState, processId)
  const streams: Record<OutputStreamName, Uint8Array> = {
    stdout: new Uint8Array(0),
    stderr: new Uint8Array(0),
  }
  for (const stream of OUTPUT_STREAMS) {
    try {
      streams[stream] = live
        ? await ctx.guest.copyOut(shown.ref, outputPath(processId, stream), id)
        : (await ctx.gateway.transfer({ method: 'GET', url: urlOf(ctx, keptPath(id, processId, stream)) }))
            .body
    } catch (e) {
      if (!isCode(e, 'NOT_FOUND')) throw e
    }
  }
  return { streams, state }
}

function processGone(processId: ID) {
  return notFound(processId)
}

/**
 * The new part of `data` (a stream's whole content) past `offset`, keeping at most `limit`
 * bytes: what fell out of the window is counted as dropped.
 */
export function nextChunk(
  data: Uint8Array,
  offset: number,
  limit: number,
): { chunk: Uint8Array; dropped: number; offset: number } | undefined {
  // A stream that shrank was truncated by a new run of the process: read it from its start.
  const from = data.byteLength < offset ? 0 : offset
  if (data.byteLength <= from) return undefined
  const windowStart = Math.max(from, data.byteLength - limit)
  return {
    chunk: data.slice(windowStart),
    dropped: windowStart - from,
    offset: data.byteLength,
  }
}

/**
 * What process (or the main process of container) `target` wrote, in order per stream; with
 * `follow`, until it exited and its output is drained.
 */
export async function* readOutputOf(
  ctx: VsphereContext,
  target: ID,
  follow: boolean,
  limit = DEFAULT_OUTPUT_LIMIT_BYTES,
): AsyncGenerator<OutputChunk> {
  const resolved = await resolveTarget(ctx, target)
  const containerId = resolved.containerId
  let processId = resolved.processId
  const offsets: Record<OutputStreamName, number> = { stdout: 0, stderr: 0 }
  let delay = 50
  for (;;) {
    if (processId === undefined) {
      const record = (await ctx.directory.read(containerId)).record as ContainerRecord
      if (!record.main) return
      processId = record.main.processId
    }
    const { streams, state } = await readStreams(ctx, containerId, processId)
    for (const stream of OUTPUT_STREAMS) {
      const next = nextChunk(streams[stream], offsets[stream], limit)
      if (!next) continue
      offsets[stream] = next.offset
      yield next.dropped > 0
        ? { stream, data: next.chunk, dropped: next.dropped }
        : { stream, data: next.chunk }
    }
    // The state was read before the output: once it says exited, this read drained it.
    if (!follow || state === null || state.status === ProcessStatus.Exited) return
    if (state.status === ProcessStatus.NotStarted) return
    await pause(delay)
    delay = Math.min(delay * 2, 1_000)
  }
}
