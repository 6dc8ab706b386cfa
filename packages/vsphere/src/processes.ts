import {
  type EntryPoint,
  EXIT_NOT_FOUND,
  type ID,
  NotFoundError,
  Program,
  RunState,
} from '@portlayer/contracts'
import type { MoRef } from '@portlayer/contracts/vmomi'
import { reconciling } from './call-scope.js'
import { recordFacts } from './container-actions.js'
import { livenessOf, statusOf } from './container-status.js'
import type { VsphereContext } from './context.js'
import { BACKEND, invalidState, isOutcomeUnknown, withOutcome, wrap } from './errors.js'
import { exitMessage } from './exit-message.js'
import { type ContainerRecord, type ExecRecord, encodeExec, execKey, option } from './extra-config.js'
import { commandLine, Guest, launchedSince, programNotFound } from './guest.js'
import { observeShown } from './observe-exits.js'
import { capturedCommandLine } from './output-capture.js'
import { dropOldExited } from './run-records.js'

// Processes other than a start's main process: exec'd ones, and signals to any process, all
// through guest operations on a running container.

/**
 * Starts `proc` in running container `id` and records it (a program that does not exist is
 * recorded as exited 127 at once, as the program-semantics table says).
 */
export async function execIn(ctx: VsphereContext, id: ID, proc: EntryPoint): Promise<ID> {
  const { factory, guest } = ctx
  // The guest is asked whether the main process still runs: one that ended unnoticed left the
  // container stopped, and a process started in it would run in a stopped container.
  const { snap, record, procs } = await observeShown(ctx, id)
  if (statusOf(record, snap.powerState, procs) !== RunState.Running) {
    throw invalidState(`container ${id} is not running: processes are started in running containers`, id)
  }
  const processId = factory.newId()
  const startedAt = new Date().toISOString()
  const base = { processId, ...proc, run: record.mainState?.run ?? '', startedAt }
  const reconcileMs = ctx.settings.reconcileTimeoutMs
  let exec: ExecRecord
  try {
    const pid = await startProgram(ctx, snap.ref, processId, proc, new Date(startedAt), record)
    exec = { ...base, pid, finishedAt: null, exitCode: 0, exitMsg: '', exited: false }
  } catch (e) {
    if (!programNotFound(e)) {
      if (Guest.notReady(e)) throw wrap(e, `container ${id} is not running`, id, 'INVALID_STATE')
      throw wrap(e, `starting process ${proc.execPath} in container ${id}`, id)
    }
    exec = {
      ...base,
      pid: 0,
      finishedAt: startedAt,
      exitCode: EXIT_NOT_FOUND,
      exitMsg: exitMessage(proc.execPath, proc.execArgs, EXIT_NOT_FOUND),
      exited: true,
    }
  }
  // The records of exited processes past the bound go in the same reconfiguration.
  const dropped = dropOldExited(
    [...record.execs, exec],
    record.mainState?.run ?? '',
    ctx.settings.maxExitedExecs,
  )
  try {
    await recordFacts(ctx, snap.ref, [option(execKey(processId), encodeExec(exec)), ...dropped])
  } catch (e) {
    // The record may have landed though its answer was lost: then the process is portlayer's.
    if (isOutcomeUnknown(e)) {
      const recorded = await reconciling(reconcileMs, async () => {
        const now = await ctx.directory.readRef(snap.ref)
        return now?.entries.has(execKey(processId)) === true
      }).catch(() => undefined)
      if (recorded === undefined)
        throw withOutcome(wrap(e, `recording process ${processId} of container ${id}`, id), 'unknown')
      if (recorded) {
        ctx.directory.setOwner(processId, id)
        ctx.exits.watch(id)
        return processId
      }
    }
    // An unrecorded process would be invisible to portlayer: end it.
    const ended =
      exec.pid <= 0 ||
      (await reconciling(reconcileMs, () => guest.terminate(snap.ref, exec.pid)).then(
        () => true,
        () => false,
      ))
    throw withOutcome(
      wrap(e, `recording process ${processId} of container ${id}`, id),
      ended ? 'not-applied' : 'unknown',
    )
  }
  ctx.directory.setOwner(processId, id)
  ctx.exits.watch(id)
  return processId
}

/**
 * Sends signal `n` through the guest (`/bin/kill -n PID`) to the main process of a container, or
 * to an exec'd process, after checking with the guest that it still runs.
 */
export async function signalIn(ctx: VsphereContext, processOrContainerId: ID, n: number): Promise<void> {
  const { guest } = ctx
  const { containerId, processId } = await resolveTarget(ctx, processOrContainerId)
  // A start not yet taken effect is not seen: the container reads as before it.
  const { snap, record, procs } = await observeShown(ctx, containerId)
  const on = snap.powerState === 'poweredOn'
  let pid: number
  let what: string
  if (processId === undefined || processId === record.main?.processId) {
    what = `main process of container ${containerId}`
    const state = record.mainState
    if (!on || !state || (state.phase !== 'started' && state.phase !== 'stopping')) {
      throw invalidState(`${what} is not running`, processOrContainerId)
    }
    pid = state.pid
  } else {
    what = `process ${processId} of container ${containerId}`
    const exec = record.execs.find((e) => e.processId === processId)
    if (!exec) {
      ctx.directory.forgetProcess(processId)
      throw noSuchTarget(processId)
    }
    if (exec.exited || !on || exec.run !== (record.mainState?.run ?? '')) {
      throw invalidState(`${what} is not running`, processOrContainerId)
    }
    pid = exec.pid
  }
  if (procs && livenessOf(procs, pid).kind !== 'running') {
    throw invalidState(`${what} is not running`, processOrContainerId)
  }
  const since = new Date()
  try {
    await guest.startProgram(snap.ref, Program.Kill, `-${n} ${pid}`)
  } catch (e) {
    if (Guest.notReady(e)) throw wrap(e, `${what} is not running`, processOrContainerId, 'INVALID_STATE')
    const failed = wrap(e, `signalling ${what}`, processOrContainerId)
    if (!isOutcomeUnknown(e)) throw failed
    // The answer was lost: the guest shows whether the kill ran (or the process is gone).
    const sent = await reconciling(ctx.settings.reconcileTimeoutMs, async () => {
      const now = await guest.listProcesses(snap.ref)
      return (
        livenessOf(now, pid).kind !== 'running' ||
        launchedSince(now, commandLine(Program.Kill, `-${n} ${pid}`), since) !== undefined
      )
    }).catch(() => undefined)
    if (sent === undefined) throw withOutcome(failed, 'unknown')
    // Not seen is no proof: the kill may still be queued in the guest.
    if (!sent) throw withOutcome(failed, 'unknown')
  }
}

/**
 * Starts `proc` in the guest. When the answer is lost, the guest's process list tells whether it
 * started: a process running the same command line that began since, and is no process recorded.
 */
async function startProgram(
  ctx: VsphereContext,
  ref: MoRef,
  processId: ID,
  proc: EntryPoint,
  since: Date,
  record: ContainerRecord,
): Promise<number> {
  const { guest } = ctx
  try {
    return await guest.startCaptured(ref, processId, proc.execPath, proc.execArgs, proc.workDir)
  } catch (e) {
    if (!isOutcomeUnknown(e)) throw e
    const known = new Set([record.mainState?.pid ?? 0, ...record.execs.map((x) => x.pid)])
    const cmd = capturedCommandLine(processId, proc.execPath, proc.execArgs)
    const found = await reconciling(ctx.settings.reconcileTimeoutMs, async () =>
      launchedSince(await guest.listProcesses(ref), cmd, since, known),
    ).catch(() => null)
    if (found === null) throw withOutcome(e, 'unknown')
    // Not seen is no proof: the start may still be queued in the guest.
    if (found === undefined) throw withOutcome(e, 'unknown')
    return found
  }
}

/** Whether an ID names a container or one of its exec'd processes (and which container). */
export async function resolveTarget(
  ctx: VsphereContext,
  target: ID,
): Promise<{ containerId: ID; processId?: ID }> {
  // A process this backend started or saw is known without asking vSphere for a VM by that name.
  const known = ctx.directory.knownOwner(target)
  if (known) return { containerId: known, processId: target }
  if ((await ctx.directory.lookup(target, false)) !== undefined) return { containerId: target }
  const owner = await ctx.directory.ownerOf(target)
  if (!owner) throw noSuchTarget(target)
  return { containerId: owner, processId: target }
}

function noSuchTarget(target: ID): NotFoundError {
  return new NotFoundError(`no container or process ${target} on vsphere`, { backend: BACKEND, target })
}
