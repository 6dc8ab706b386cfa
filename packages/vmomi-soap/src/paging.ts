import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type { RetrieveResult } from '@portlayer/contracts/vmomi'
import { gatewayError } from './errors.js'
import { type Invoker, moRefOf, newTrace, type Trace } from './invocation.js'
import { objectKey, type Retrieval, Retrievals } from './retrievals.js'
import { OPS, type Operation } from './schema/registry.js'
import type { CallScope } from './scope.js'
import { toSoapArgs } from './serialize.js'
import type { Session } from './session.js'
import { isSessionLost } from './session-lost.js'
import { errorText } from './values.js'

export interface PagedReadsDeps {
  readonly invoker: Invoker
  readonly session: Session
}

/**
 * Paged `RetrievePropertiesEx` reads of one gateway. Callers get tokens of the gateway's own (see
 * {@link Retrievals}), so a continuation survives a lost session, a lost answer or a retrieval the
 * server forgot: it reads again from the start and returns the objects not delivered yet.
 */
export class PagedReads {
  readonly #deps: PagedReadsDeps
  readonly #retrievals = new Retrievals()

  constructor(deps: PagedReadsDeps) {
    this.#deps = deps
  }

  /** True when `op` with `token` is a continuation or cancellation of one of this gateway's reads. */
  static handles(op: Operation, token: unknown): boolean {
    return (
      (op.name === 'ContinueRetrievePropertiesEx' || op.name === 'CancelRetrievePropertiesEx') &&
      Retrievals.isOurs(token)
    )
  }

  /** A `RetrievePropertiesEx` answered `result`: its server token is swapped for one of ours. */
  opened(request: Record<string, unknown>, result: unknown, trace: Trace): void {
    const page = result as RetrieveResult | undefined
    const collector = moRefOf(request._this)
    if (!page?.token || !collector) return
    const retrieval: Retrieval = {
      collector,
      request,
      delivered: new Set(page.objects.map(objectKey)),
      serverToken: page.token,
      generation: trace.generation,
      touched: 0,
    }
    page.token = this.#retrievals.open(retrieval)
  }

  /** `ContinueRetrievePropertiesEx` or `CancelRetrievePropertiesEx` of one of our tokens. */
  follow(op: Operation, token: unknown, scope: CallScope): Promise<RetrieveResult | undefined> {
    return op.name === 'ContinueRetrievePropertiesEx'
      ? this.#continue(op, token, scope)
      : this.#cancel(op, token, scope)
  }

  async #continue(op: Operation, token: unknown, scope: CallScope): Promise<RetrieveResult> {
    const { session, invoker } = this.#deps
    const retrieval = this.#retrievals.take(token)
    if (!retrieval) throw unknownToken(op.name)
    const trace = newTrace()
    let page: RetrieveResult | undefined
    if (retrieval.serverToken !== undefined && retrieval.generation === session.generation) {
      try {
        page = (await session.call(
          op,
          toSoapArgs(op, { _this: retrieval.collector, token: retrieval.serverToken }),
          scope,
          trace,
        )) as RetrieveResult
      } catch (error) {
        // The server's token is no good any more (session renewed, answer lost, retrieval
        // forgotten by the server): read again what is left instead.
        if (scope.stopped || !canResume(error)) throw error
        invoker.log('info', `vSphere ${op.name}: resuming a paged read (${errorText(error)})`)
      }
    }
    if (page === undefined) {
      const resumed = await this.#resume(retrieval, scope)
      page = resumed.page
      trace.generation = resumed.generation
    }
    return this.#continued(retrieval, page, trace.generation)
  }

  /**
   * Reads a retrieval again from the start under the current session and returns its next page:
   * the first objects not delivered yet (objects that appeared meanwhile included), with the
   * server's token for the rest.
   */
  async #resume(r: Retrieval, scope: CallScope): Promise<{ page: RetrieveResult; generation: number }> {
    const { session } = this.#deps
    const read = OPS.get('RetrievePropertiesEx') as Operation
    const more = OPS.get('ContinueRetrievePropertiesEx') as Operation
    const trace = newTrace()
    let page = (await session.call(read, r.request, scope, trace)) as RetrieveResult | undefined
    for (;;) {
      const objects = (page?.objects ?? []).filter((o) => !r.delivered.has(objectKey(o)))
      const token = page?.token
      if (objects.length > 0 || !token) {
        return { page: token ? { objects, token } : { objects }, generation: trace.generation }
      }
      page = (await session.call(more, toSoapArgs(more, { _this: r.collector, token }), scope, trace)) as
        | RetrieveResult
        | undefined
    }
  }

  #continued(r: Retrieval, page: RetrieveResult, generation: number): RetrieveResult {
    for (const o of page.objects) r.delivered.add(objectKey(o))
    if (!page.token) return { objects: page.objects }
    r.serverToken = page.token
    r.generation = generation
    return { objects: page.objects, token: this.#retrievals.open(r) }
  }

  async #cancel(op: Operation, token: unknown, scope: CallScope): Promise<undefined> {
    const { session } = this.#deps
    const retrieval = this.#retrievals.take(token)
    if (!retrieval) throw unknownToken(op.name)
    // A token of an earlier session died with it: there is nothing left to cancel.
    if (retrieval.serverToken === undefined || retrieval.generation !== session.generation) return
    try {
      await session.call(
        op,
        toSoapArgs(op, { _this: retrieval.collector, token: retrieval.serverToken }),
        scope,
        newTrace(),
      )
    } catch (error) {
      if (!isSessionLost(error)) throw error
    }
    return undefined
  }
}

function unknownToken(method: string): PortLayerError {
  return gatewayError(
    ErrorCode.InvalidArgument,
    `vSphere ${method}: the token names no open retrieval (used, cancelled or expired)`,
    { method, fault: 'InvalidArgument' },
  )
}

/** True when a failed continuation can be replaced by reading again: the server's token is no good. */
function canResume(error: unknown): boolean {
  if (isSessionLost(error)) return true
  if (!PortLayerError.isInstance(error)) return false
  return error.detail?.network !== undefined || error.detail?.fault === 'InvalidArgument'
}
