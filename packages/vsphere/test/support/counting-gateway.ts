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

/**
 * Wraps a gateway and counts what goes through it: each vim25 method by name, `waitForTask`, and
 * HTTP transfers by verb (`transfer:PUT`, …). Call-count tests compare these with exact numbers.
 */
export class CountingGateway implements VmomiGateway {
  private counts = new Map<string, number>()
  /** Every vim25 call since the last reset, with its arguments. */
  calls: Array<{ method: VimMethodName; args: unknown }> = []

  constructor(private readonly inner: VmomiGateway) {}

  get serviceContent(): ServiceContent {
    return this.inner.serviceContent
  }

  call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    options?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    this.bump(method)
    this.calls.push({ method, args })
    return this.inner.call(method, args, options)
  }

  waitForTask(task: MoRef, options?: VmomiCallOptions): Promise<TaskInfo> {
    this.bump('waitForTask')
    return this.inner.waitForTask(task, options)
  }

  transfer(request: HttpTransferRequest, options?: VmomiCallOptions): Promise<HttpTransferResponse> {
    this.bump(`transfer:${request.method}`)
    return this.inner.transfer(request, options)
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  /** Starts counting afresh. */
  reset(): void {
    this.counts = new Map()
    this.calls = []
  }

  /** The counts since the last reset, sorted by name, zero counts left out. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)))
  }

  /** Total of all counted calls and transfers. */
  total(): number {
    let n = 0
    for (const v of this.counts.values()) n += v
    return n
  }

  /** Counts what `fn` does. */
  async measure(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    this.reset()
    await fn()
    return this.snapshot()
  }

  private bump(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
}
