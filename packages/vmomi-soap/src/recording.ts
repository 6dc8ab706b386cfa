import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  ErrorCode,
  type HttpTransferRequest,
  type HttpTransferResponse,
  type MoRef,
  PortLayerError,
  type ServiceContent,
  type TaskInfo,
  type VimArgs,
  type VimMethodName,
  type VimResult,
  type VmomiCallOptions,
  type VmomiGateway,
} from '@portlayer/contracts'
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
import { Redactor, scrub } from './redact.js'

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
 * Wraps `inner` and records every call, task wait and transfer with its result or error, in the
 * order they were started. Passwords, session keys, cookies and guest authentication are
 * scrubbed from the fixture; so is every occurrence of such a secret inside other strings.
 */
export function createRecordingGateway(
  inner: VmomiGateway,
  options: RecordingOptions = {},
): RecordingGateway {
  const redactor = new Redactor()
  for (const secret of options.secrets ?? []) redactor.add(secret)
  const slots: Slot[] = []

  const record = async <T>(
    make: (outcome: { result?: unknown; error?: FixtureError }) => FixtureEntry,
    run: () => Promise<T>,
    encodeResult: (r: T) => unknown = (r) => r,
  ): Promise<T> => {
    const slot: Slot = { entry: undefined }
    slots.push(slot)
    try {
      const result = await run()
      slot.entry = make({ result: scrubbed(encodeResult(result), redactor) })
      return result
    } catch (error) {
      slot.entry = make({ error: errorRecord(error, redactor) })
      throw error
    }
  }

  const fixture = (): GatewayFixture => ({
    format: FIXTURE_FORMAT,
    version: 1,
    serviceContent: scrubbed(inner.serviceContent, redactor),
    // Scrubbed again at the end: a secret learned late (a later guest password) leaves no trace
    // in an earlier entry either.
    entries: slots.flatMap((s) => (s.entry ? [scrub(s.entry, redactor)] : [])),
  })

  const save = async (path: string): Promise<void> => {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, `${JSON.stringify(fixture(), null, 2)}\n`, 'utf8')
  }

  return {
    get serviceContent(): ServiceContent {
      return inner.serviceContent
    },
    // Async, as the contract says: recording an odd argument must reject, never throw at the caller.
    async call<M extends VimMethodName>(
      method: M,
      args: VimArgs<M>,
      opts?: VmomiCallOptions,
    ): Promise<VimResult<M>> {
      const recordedArgs = readable('call', () => scrubbed(args, redactor))
      return record(
        (outcome) => ({ kind: 'call', method, args: recordedArgs, ...outcome }),
        () => inner.call(method, args, opts),
      )
    },
    async waitForTask(task: MoRef, opts?: VmomiCallOptions): Promise<TaskInfo> {
      const recordedTask = readable('waitForTask', () => encode(task) as MoRef)
      return record(
        (outcome) => ({ kind: 'waitForTask', task: recordedTask, ...outcome }),
        () => inner.waitForTask(task, opts),
      )
    },
    async transfer(request: HttpTransferRequest, opts?: VmomiCallOptions): Promise<HttpTransferResponse> {
      const recordedRequest = readable('transfer', () => recordedTransfer(request, redactor))
      return record(
        (outcome) => ({ kind: 'transfer', request: recordedRequest, ...outcome }),
        () => inner.transfer(request, opts),
      )
    },
    async close(): Promise<void> {
      await inner.close()
      if (options.path !== undefined) await save(options.path)
    },
    fixture,
    save,
  }
}
