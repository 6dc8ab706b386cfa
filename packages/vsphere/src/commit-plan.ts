import { type Outcome, PortLayerError } from '@portlayer/contracts'
import { reconciling } from './call-scope.js'
import { isOutcomeUnknown, withOutcome, wrap } from './errors.js'
import type { PreparedExtensions } from './extensions.js'

// A commit is a plan: an ordered list of steps, each saying how it is done, how to find out
// whether it landed when its answer was lost, and how it is undone when a later step fails.
// The runner alone decides what a failure tells the caller:
// - a step that failed and certainly did not land, after every earlier step was undone: the
//   commit changed nothing (`not-applied`);
// - a step whose answer was lost is looked up (`landed`); landed steps count as done;
// - when a lookup or an undo cannot be made (vSphere unreachable): `unknown`.

/** What a step's `run` may say besides "done". */
export type StepResult = undefined | 'finish'

export interface PlanStep {
  /** What the step does, for error messages (e.g. `powering on`). */
  readonly name: string
  /** Does the step; `'finish'` ends the plan successfully here (e.g. another commit took over). */
  run(): Promise<StepResult | undefined>
  /**
   * After a failure that may have been applied: whether it was. Throws when it cannot find out.
   * Without it, such a failure leaves the commit's outcome unknown.
   */
  landed?(): Promise<boolean>
  /**
   * Puts the step back after a later step failed. Resolves false (or throws) when it could not;
   * `'superseded'` when another commit has since built on it (so the commit landed for good and
   * counts as done); without it, the step stays (it needs no undo, e.g. a read).
   */
  undo?(): Promise<boolean | 'superseded'>
}

// Errors whose outcome a plan already settled: a plan nested in a step passes its verdict up.
const settled = new WeakSet<object>()

function decided(error: PortLayerError): PortLayerError {
  settled.add(error)
  return error
}

/** How a plan ended when it failed. */
export interface PlanFailure {
  readonly error: PortLayerError
  readonly outcome: Outcome
}

/**
 * Runs `steps` in order. Resolves when all are done (or one finished the plan); otherwise rejects
 * with the failing step's error carrying the truthful outcome.
 * @param reconcileMs how long a lookup or the undo of the steps done may take
 * @param target the container, for error messages
 */
export async function runPlan(
  steps: readonly PlanStep[],
  reconcileMs: number,
  target: string,
): Promise<void> {
  const done: PlanStep[] = []
  for (const step of steps) {
    let result: StepResult | undefined
    try {
      result = await step.run()
    } catch (e) {
      const failure = await settle(step, e, reconcileMs, target)
      if (failure === 'landed') {
        done.push(step)
        continue
      }
      if (failure.outcome === 'unknown') throw decided(failure.error)
      const undone = await undoAll(done, failure.error, reconcileMs)
      if (undone === 'superseded') return
      throw decided(undone)
    }
    done.push(step)
    if (result === 'finish') return
  }
}

async function settle(
  step: PlanStep,
  error: unknown,
  reconcileMs: number,
  target: string,
): Promise<PlanFailure | 'landed'> {
  if (PortLayerError.isInstance(error) && settled.has(error)) return { error, outcome: error.outcome }
  const wrapped = wrap(error, step.name, target)
  if (!isOutcomeUnknown(wrapped))
    return { error: withOutcome(wrapped, 'not-applied'), outcome: 'not-applied' }
  if (!step.landed) return { error: withOutcome(wrapped, 'unknown'), outcome: 'unknown' }
  try {
    const landed = await reconciling(reconcileMs, step.landed.bind(step))
    if (landed) return 'landed'
    return { error: withOutcome(wrapped, 'not-applied'), outcome: 'not-applied' }
  } catch (e) {
    // The lookup found a definite answer of its own (e.g. another commit made this VM).
    if (PortLayerError.isInstance(e) && e.outcome === 'not-applied' && !isTransient(e)) {
      return { error: e, outcome: 'not-applied' }
    }
    return { error: withOutcome(wrapped, 'unknown'), outcome: 'unknown' }
  }
}

function isTransient(e: PortLayerError): boolean {
  return e.code === 'UNAVAILABLE' || e.code === 'TIMEOUT' || e.code === 'CANCELLED'
}

/** Undoes `done` last first; the error to throw: not-applied when every undo worked. */
async function undoAll(
  done: readonly PlanStep[],
  error: PortLayerError,
  reconcileMs: number,
): Promise<PortLayerError | 'superseded'> {
  let clean = true
  for (const step of [...done].reverse()) {
    if (!step.undo) continue
    try {
      const undone = await reconciling(reconcileMs, step.undo.bind(step))
      // Another commit built on this step: the plan landed, and what failed is now theirs.
      if (undone === 'superseded') return 'superseded'
      if (!undone) clean = false
    } catch {
      clean = false
    }
    if (!clean) break
  }
  return withOutcome(error, clean ? 'not-applied' : 'unknown')
}

/** Runs a plan and tells the extensions its outcome: commit unless it certainly changed nothing. */
export async function settleExtensions(
  prepared: PreparedExtensions,
  plan: () => Promise<void>,
): Promise<void> {
  try {
    await plan()
  } catch (e) {
    if (PortLayerError.isInstance(e) && e.outcome === 'not-applied') prepared.rollback()
    else prepared.commit()
    throw e
  }
  prepared.commit()
}
