import {
  type CommitExtension,
  type ExtensionContext,
  type ExtensionPlan,
  type ID,
  PortLayerError,
  type RunState,
  validateNamespace,
} from '@portlayer/contracts'
import { toFrozenJson } from '@portlayer/handles'
import type { Call } from './call.js'
import type { AppliedSlot } from './engine.js'
import { adopt, BACKEND, invalidArgument, messageOf } from './errors.js'
import { type Container, RUN_STATE_NAMES } from './records.js'

/** An extension's plan for one commit, with the value to record once the commit applies. */
export interface PreparedSlot extends AppliedSlot {
  readonly plan: ExtensionPlan<unknown>
}

type Slots = Readonly<Record<string, unknown>>

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function'
}

/** The slots of a handle that carry values, or `null` (the common case: no extension involved). */
export function slotsOf(extensions: Slots): Slots | null {
  for (const _ in extensions) return extensions
  return null
}

/**
 * The commit extensions registered with one simulator, and the parts of commit and destroy that
 * call them: prepare (all or nothing), commit hooks, rollback and release.
 */
export class Extensions {
  private readonly byNamespace = new Map<string, CommitExtension<unknown>>()

  register<P, A>(extension: CommitExtension<P, A>): () => void {
    if (typeof extension !== 'object' || extension === null || typeof extension.prepare !== 'function') {
      throw invalidArgument('an extension needs a namespace and a prepare function')
    }
    const namespace = validateNamespace(extension.namespace, BACKEND)
    if (extension.release !== undefined && typeof extension.release !== 'function') {
      throw invalidArgument(`release of extension '${namespace}' must be a function`)
    }
    if (this.byNamespace.has(namespace)) {
      throw invalidArgument(`an extension is already registered for namespace '${namespace}'`)
    }
    const ext = extension as unknown as CommitExtension<unknown>
    this.byNamespace.set(namespace, ext)
    return () => {
      if (this.byNamespace.get(namespace) === ext) this.byNamespace.delete(namespace)
    }
  }

  /** Fails the commit when a slot has a value that no registered extension would apply. */
  checkRegistered(id: ID, slots: Slots): void {
    for (const ns of Object.keys(slots)) {
      if (!this.byNamespace.has(ns)) {
        throw invalidArgument(
          `the handle of container ${id} has a value in slot '${ns}' but no extension is registered for it`,
          id,
        )
      }
    }
  }

  /**
   * Prepares every slot, in namespace order. If one fails, those already prepared are rolled back
   * and the error (a PortLayerError with the simulator's name) is thrown.
   */
  async prepare(id: ID, c: Container | null, slots: Slots, call?: Call): Promise<PreparedSlot[]> {
    const done: PreparedSlot[] = []
    try {
      for (const namespace of Object.keys(slots).sort()) {
        const ext = this.byNamespace.get(namespace)
        if (ext === undefined) {
          throw invalidArgument(`extension '${namespace}' was unregistered during the commit of ${id}`, id)
        }
        let plan: unknown
        try {
          const r = ext.prepare(contextFor(id, c, namespace, slots[namespace]))
          // Only a promise costs an await: synchronous prepares keep the commit on one tick.
          plan = isThenable(r) ? await (call === undefined ? r : interruptible(r, call)) : r
        } catch (e) {
          if (e instanceof Interrupted) throw e.error
          throw rejected(id, namespace, e)
        }
        done.push(toSlot(id, namespace, plan))
      }
    } catch (e) {
      rollback(done)
      throw e
    }
    return done
  }

  /**
   * Calls `release` of every registered extension that recorded a value with the destroyed
   * container. With a `call`, an abort or deadline stops the waiting (the releases go on): the
   * destroy has landed, so the call then resolves.
   */
  release(id: ID, applied: Readonly<Record<string, unknown>>, call?: Call): Promise<void> {
    const all = this.releaseAll(id, applied)
    if (call === undefined) return all
    return new Promise((resolve) => {
      const unwatch = call.watch(() => resolve())
      all.then(() => {
        unwatch()
        resolve()
      })
    })
  }

  private async releaseAll(id: ID, applied: Readonly<Record<string, unknown>>): Promise<void> {
    for (const namespace of Object.keys(applied)) {
      const extension = this.byNamespace.get(namespace)
      if (extension?.release === undefined) continue
      try {
        await extension.release({ containerId: id, backend: BACKEND, applied: applied[namespace] })
      } catch {
        // The container is gone whatever an extension says; release must clean up on its own.
      }
    }
  }
}

/** Marks the call's own interruption, so it is not mistaken for the extension rejecting the commit. */
class Interrupted {
  constructor(readonly error: PortLayerError) {}
}

/**
 * Waits for a pending `prepare` unless the call is aborted or its deadline passes first: then it
 * rejects at once, and the plan that prepare delivers later is rolled back (the commit never
 * applies it, and exactly one of commit/rollback must be called).
 */
function interruptible(pending: PromiseLike<unknown>, call: Call): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let interrupted = false
    const unwatch = call.watch((error) => {
      interrupted = true
      reject(new Interrupted(error))
    })
    Promise.resolve(pending).then(
      (plan) => {
        unwatch()
        if (!interrupted) resolve(plan)
        else if (typeof plan === 'object' && plan !== null) safeRollback(plan as ExtensionPlan<unknown>)
      },
      (e: unknown) => {
        unwatch()
        if (!interrupted) reject(e)
      },
    )
  })
}

function contextFor(
  id: ID,
  c: Container | null,
  namespace: string,
  pending: unknown,
): ExtensionContext<unknown> {
  return {
    containerId: id,
    backend: BACKEND,
    creating: c === null,
    runState: c === null ? 'created' : (RUN_STATE_NAMES[c.status] as RunState),
    pending,
    applied: c?.ext?.[namespace],
  }
}

/** What a prepare that threw becomes: its own PortLayerError kept, anything else INVALID_ARGUMENT. */
function rejected(id: ID, namespace: string, e: unknown): unknown {
  if (PortLayerError.isInstance(e)) return adopt(e, id)
  return invalidArgument(
    `extension '${namespace}' rejected the commit of container ${id}: ${messageOf(e)}`,
    id,
    e,
  )
}

/** Checks a plan and freezes the value to record; a plan whose value is not JSON is rolled back. */
function toSlot(id: ID, namespace: string, plan: unknown): PreparedSlot {
  if (typeof plan !== 'object' || plan === null || !('applied' in plan)) {
    throw invalidArgument(`extension '${namespace}' returned no plan with an 'applied' value`, id)
  }
  const p = plan as ExtensionPlan<unknown>
  try {
    const applied =
      p.applied === undefined
        ? undefined
        : toFrozenJson(p.applied, `applied value of extension '${namespace}'`, BACKEND)
    return { namespace, applied, plan: p }
  } catch (e) {
    safeRollback(p)
    throw e
  }
}

/** The commit landed: tells every prepared extension. */
export function commitPrepared(prepared: readonly PreparedSlot[]): void {
  for (const s of prepared) {
    try {
      s.plan.commit?.()
    } catch {
      // The commit has landed and cannot be undone; a failing commit hook changes nothing.
    }
  }
}

/** The commit did not land: undoes every prepared extension, newest first. */
export function rollback(prepared: readonly PreparedSlot[]): void {
  for (let i = prepared.length - 1; i >= 0; i--) safeRollback((prepared[i] as PreparedSlot).plan)
}

function safeRollback(plan: ExtensionPlan<unknown>): void {
  try {
    plan.rollback?.()
  } catch {
    // Rollback is best effort; the commit fails with the original error either way.
  }
}
