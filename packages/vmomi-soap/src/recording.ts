import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ErrorCode, PortLayerError } from '@portlayer/contracts'
import type {
  HttpTransferRequest,
  HttpTransferResponse,
  MoRef,
  TaskInfo,
  VimArgs,
  VimMethodName,
  VimResult,
  VmomiCallOptions,
  VmomiGateway,
} from '@portlayer/contracts/vmomi'
import { gatewayError } from './errors.js'
import {
  encode,
  errorRecord,
  FIXTURE_FORMAT,
  type FixtureEntry,
  type FixtureError,
  type GatewayFixture,
  recordedTransfer,
  scrubbed,
} from './fixture.js'
import { ForwardingGateway } from './forwarding.js'
import { Redactor, scrub } from './redact.js'

/** Options of {@link createRecordingGateway}. */
export interface RecordingOptions {
  /** Written with the fixture when the gateway is closed. */
  readonly path?: string
  /** More strings to cut out of the fixture wherever they appear (e.g. the vCenter password). */
  readonly secrets?: readonly string[]
}

/** A gateway that passes everything to another and records it. */
export interface RecordingGateway extends VmomiGateway {
  /** The recording so far, secrets scrubbed, ready for `JSON.stringify`. */
  fixture(): GatewayFixture
  /** Writes {@link fixture} as JSON to `path`. */
  save(path: string): Promise<void>
  /** Same as `close()` (which also writes the fixture to `options.path`), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

type Slot = { entry: FixtureEntry | undefined }

/**
 * Reads a caller's value for the fixture. A value that cannot be read (a revoked or throwing
 * proxy) is refused as the gateway would refuse it, before the inner gateway sees it.
 */
function readable<T>(what: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (PortLayerError.isInstance(error)) throw error
    throw gatewayError(ErrorCode.InvalidArgument, `vSphere ${what}: the arguments could not be read`)
  }
}

/**
 * Records every call, task wait and transfer passed to the inner gateway with its result or
 * error, in the order they were started. The redactor and the entries are private fields: the
 * recorder shows no secret however it is inspected.
 */
class Recorder extends ForwardingGateway implements RecordingGateway {
  readonly #redactor = new Redactor()
  readonly #slots: Slot[] = []
  readonly #path: string | undefined

  constructor(inner: VmomiGateway, options: RecordingOptions) {
    super(inner)
    for (const secret of options.secrets ?? []) this.#redactor.add(secret)
    this.#path = options.path
  }

  async #record<T>(
    make: (outcome: { result?: unknown; error?: FixtureError }) => FixtureEntry,
    run: () => Promise<T>,
  ): Promise<T> {
    const slot: Slot = { entry: undefined }
    this.#slots.push(slot)
    try {
      const result = await run()
      slot.entry = make({ result: scrubbed(result, this.#redactor) })
      return result
    } catch (error) {
      slot.entry = make({ error: errorRecord(error, this.#redactor) })
      throw error
    }
  }

  // Own properties, so that they work detached from the recorder too.
  readonly fixture = (): GatewayFixture => ({
    format: FIXTURE_FORMAT,
    version: 1,
    serviceContent: scrubbed(this.serviceContent, this.#redactor),
    // Scrubbed again at the end: a secret learned late (a later guest password) leaves no trace
    // in an earlier entry either.
    entries: this.#slots.flatMap((s) => (s.entry ? [scrub(s.entry, this.#redactor)] : [])),
  })

  readonly save = async (path: string): Promise<void> => {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, `${JSON.stringify(this.fixture(), null, 2)}\n`, 'utf8')
  }

  // Async, as the contract says: recording an odd argument must reject, never throw at the caller.
  override async call<M extends VimMethodName>(
    method: M,
    args: VimArgs<M>,
    opts?: VmomiCallOptions,
  ): Promise<VimResult<M>> {
    const recordedArgs = readable('call', () => scrubbed(args, this.#redactor))
    return this.#record(
      (outcome) => ({ kind: 'call', method, args: recordedArgs, ...outcome }),
      () => super.call(method, args, opts),
    )
  }

  override async waitForTask(task: MoRef, opts?: VmomiCallOptions): Promise<TaskInfo> {
    const recordedTask = readable('waitForTask', () => encode(task) as MoRef)
    return this.#record(
      (outcome) => ({ kind: 'waitForTask', task: recordedTask, ...outcome }),
      () => super.waitForTask(task, opts),
    )
  }

  override async transfer(
    request: HttpTransferRequest,
    opts?: VmomiCallOptions,
  ): Promise<HttpTransferResponse> {
    const recordedRequest = readable('transfer', () => recordedTransfer(request, this.#redactor))
    return this.#record(
      (outcome) => ({ kind: 'transfer', request: recordedRequest, ...outcome }),
      () => super.transfer(request, opts),
    )
  }

  override async close(): Promise<void> {
    await super.close()
    if (this.#path !== undefined) await this.save(this.#path)
  }
}

/**
 * Wraps `inner` and records every call, task wait and transfer with its result or error, in the
 * order they were started. Passwords, session keys, cookies and guest authentication are
 * scrubbed from the fixture; so is every occurrence of such a secret inside other strings.
 */
export function createRecordingGateway(
  inner: VmomiGateway,
  options: RecordingOptions = {},
): RecordingGateway {
  return new Recorder(inner, options)
}
