import { ErrorCode, PortLayerError } from '@portlayer/contracts'
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
import { describe, gatewayError } from './errors.js'
import {
  decode,
  encode,
  errorFromRecord,
  type FixtureEntry,
  type GatewayFixture,
  parseFixture,
  recordedTransfer,
  scrubbed,
  stableJson,
} from './fixture.js'
import { Redactor } from './redact.js'

/** Options of {@link createReplayGateway}. */
export interface ReplayOptions {
  /**
   * `by-request` (default): a call is answered by the next unused recording of the same method
   * with the same arguments (secrets compared in scrubbed form), whatever the order of calls.
   * `sequential`: recordings are served in recorded order; only the method (or task, or transfer
   * method) must match, so arguments that differ from run to run (fresh UUIDs) still replay.
   */
  readonly order?: 'by-request' | 'sequential'
  /** The same extra secrets given to the recording gateway, so arguments compare alike. */
  readonly secrets?: readonly string[]
}

/** A gateway that answers from a fixture. */
export interface ReplayGateway extends VmomiGateway {
  /** Recorded entries not served yet. */
  readonly remaining: number
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Reads a caller's value; one that cannot be read (a revoked proxy) is INVALID_ARGUMENT. */
function readable<T>(what: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (PortLayerError.isInstance(error)) throw error
    throw gatewayError(ErrorCode.InvalidArgument, `vSphere replay ${what}: the arguments could not be read`)
  }
}

function entryKey(entry: FixtureEntry): string {
  switch (entry.kind) {
    case 'call':
      return `call ${entry.method} ${stableJson(entry.args)}`
    case 'waitForTask':
      return `waitForTask ${stableJson(entry.task)}`
    case 'transfer':
      return `transfer ${stableJson({ ...entry.request })}`
  }
}

function entryKind(entry: FixtureEntry): string {
  switch (entry.kind) {
    case 'call':
      return `call ${entry.method}`
    case 'waitForTask':
      return 'waitForTask'
    case 'transfer':
      return `transfer ${entry.request.method}`
  }
}

/**
 * Serves a fixture written by a recording gateway (the object, or its JSON text): results come
 * back as they were recorded (dates as `Date`s, bytes as `Uint8Array`s) and recorded errors are
 * thrown again as `PortLayerError`s with the same code, message and detail. A call the fixture
 * cannot answer fails with `UNSUPPORTED` naming the method.
 */
export function createReplayGateway(
  fixture: GatewayFixture | string,
  options: ReplayOptions = {},
): ReplayGateway {
  const doc = typeof fixture === 'string' ? parseFixture(fixture) : parseFixture(JSON.stringify(fixture))
  const order = options.order ?? 'by-request'
  const entries = doc.entries.map((entry) => ({ entry, used: false }))
  const serviceContent = decode(doc.serviceContent) as ServiceContent
  let remaining = entries.length
  let closed = false

  const serve = (kind: string, key: string, opts: VmomiCallOptions | undefined): unknown => {
    if (closed)
      throw gatewayError(ErrorCode.Unavailable, `vSphere ${kind}: the gateway is closed`, { closed: true })
    if (readable(kind, () => opts?.signal?.aborted)) {
      throw gatewayError(
        ErrorCode.Cancelled,
        `vSphere ${kind} was cancelled`,
        { aborted: true, sent: false },
        readable(kind, () => opts?.signal?.reason),
      )
    }
    const found =
      order === 'sequential'
        ? entries.find((e) => !e.used)
        : entries.find((e) => !e.used && entryKey(e.entry) === key)
    if (!found || (order === 'sequential' && entryKind(found.entry) !== kind)) {
      const next = found ? ` (next recorded: ${entryKind(found.entry)})` : ''
      throw gatewayError(
        ErrorCode.Unsupported,
        `vSphere replay: no recorded ${kind} matches this request${next}`,
        {
          replay: 'unmatched',
        },
      )
    }
    found.used = true
    remaining--
    if (found.entry.error) throw errorFromRecord(found.entry.error)
    return decode(found.entry.result)
  }

  // Learns secrets from the calls it sees, as the recorder did, so scrubbed arguments compare alike.
  const redactor = new Redactor()
  for (const secret of options.secrets ?? []) redactor.add(secret)

  return {
    serviceContent,
    get remaining() {
      return remaining
    },
    async call<M extends VimMethodName>(
      method: M,
      args: VimArgs<M>,
      opts?: VmomiCallOptions,
    ): Promise<VimResult<M>> {
      const key = readable('call', () => `call ${describe(method)} ${stableJson(scrubbed(args, redactor))}`)
      return serve(`call ${describe(method)}`, key, opts) as VimResult<M>
    },
    async waitForTask(task: MoRef, opts?: VmomiCallOptions): Promise<TaskInfo> {
      const key = readable('waitForTask', () => `waitForTask ${stableJson(encode(task))}`)
      return serve('waitForTask', key, opts) as TaskInfo
    },
    async transfer(request: HttpTransferRequest, opts?: VmomiCallOptions): Promise<HttpTransferResponse> {
      const recorded = readable('transfer', () => recordedTransfer(request, redactor))
      return serve(
        `transfer ${recorded.method}`,
        `transfer ${stableJson(recorded)}`,
        opts,
      ) as HttpTransferResponse
    },
    async close(): Promise<void> {
      closed = true
    },
    async [Symbol.asyncDispose](): Promise<void> {
      closed = true
    },
  }
}
