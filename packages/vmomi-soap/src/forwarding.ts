import { ErrorCode } from '@portlayer/contracts'
import type {
  HttpTransferRequest,
  HttpTransferResponse,
  MoRef,
  ServiceContent,
  TaskInfo,
  VimArgs,
  VimMethodName,
  VimResult,
  VmomiCallOptions,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { gatewayError } from './errors.js'

const METHODS = ['call', 'waitForTask', 'transfer', 'close'] as const

/** True when every method of the gateway contract can be read off `value` as a function. */
function isGateway(value: unknown): value is VmomiGateway {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  try {
    return METHODS.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
  } catch {
    return false
  }
}

/**
 * A gateway that passes everything to `inner`: the base of wrapping gateways (recording, fault
 * injection, logging), which override only what they add to. Each method is async, so anything a
 * wrapper or the inner gateway throws reaches the caller as a rejection, as the contract says.
 *
 * ```ts
 * class CountingGateway extends ForwardingGateway {
 *   calls = 0
 *   override call<M extends VimMethodName>(method: M, args: VimArgs<M>, options?: VmomiCallOptions) {
 *     this.calls++
 *     return super.call(method, args, options)
 *   }
 * }
 * ```
 */
export class ForwardingGateway implements VmomiGateway {
  readonly #inner: VmomiGateway

  /** Fails with `INVALID_ARGUMENT` unless `inner` has the methods of a gateway. */
  constructor(inner: VmomiGateway) {
    if (!isGateway(inner)) {
      throw gatewayError(
        ErrorCode.InvalidArgument,
        'vSphere gateway wrapper: inner must be a gateway (call, waitForTask, transfer, close)',
      )
    }
    this.#inner = inner
  }

  /** The gateway this one forwards to. */
  protected get inner(): VmomiGateway {
    return this.#inner
  }

  get serviceContent(): ServiceContent {
    return this.#inner.serviceContent
  }

  async call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    return this.#inner.call(method, args, options)
  }

  async waitForTask(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo> {
    return this.#inner.waitForTask(task, options)
  }

  async transfer(request: HttpTransferRequest, options?: VmomiCallOptions): Promise<HttpTransferResponse> {
    return this.#inner.transfer(request, options)
  }

  async close(): Promise<void> {
    return this.#inner.close()
  }

  /** Same as `close()` (a subclass's `close()` included), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
