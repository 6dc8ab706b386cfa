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

/** Decides what one call does: forward it (before or after other work), or fail it. */
export type Interceptor<M extends VimMethodName> = (
  args: VimArgs<M>,
  forward: () => Promise<VimResult<M>>,
) => Promise<VimResult<M>>

/**
 * Wraps a gateway that talks to the harness and lets a test put work between one client's calls,
 * so an interleaving of two clients happens every time instead of by timing. Everything not
 * intercepted goes straight through.
 */
export class HookedGateway implements VmomiGateway {
  private readonly interceptors = new Map<VimMethodName, Interceptor<VimMethodName>>()

  constructor(private readonly inner: VmomiGateway) {}

  get serviceContent(): ServiceContent {
    return this.inner.serviceContent
  }

  /** Every later call of `method` goes through `interceptor`; returns a function that removes it. */
  intercept<M extends VimMethodName>(method: M, interceptor: Interceptor<M>): () => void {
    this.interceptors.set(method, interceptor as unknown as Interceptor<VimMethodName>)
    return () => {
      if (this.interceptors.get(method) === (interceptor as unknown)) this.interceptors.delete(method)
    }
  }

  call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    const forward = () => this.inner.call(method, args, options)
    const interceptor = this.interceptors.get(method) as Interceptor<M> | undefined
    return interceptor ? interceptor(args, forward) : forward()
  }

  waitForTask(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo> {
    return this.inner.waitForTask(task, options)
  }

  transfer(request: HttpTransferRequest, options?: VmomiCallOptions): Promise<HttpTransferResponse> {
    return this.inner.transfer(request, options)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

/** A promise with its resolve function, for handing control between two clients in a test. */
export function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
