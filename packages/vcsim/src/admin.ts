import { InvalidArgumentError, UnavailableError } from '@portlayer/contracts'

/** How the property reads of an expired session are answered; see {@link VcsimAdmin.expireSessions}. */
export type ExpiredReads = 'missingSet' | 'fault'

/** Options of {@link VcsimAdmin.expireSessions}. */
export interface ExpireSessionsOptions {
  /**
   * How `RetrieveProperties`, `RetrievePropertiesEx` and `ContinueRetrievePropertiesEx` of an
   * expired session are answered:
   * - `'missingSet'` (default, what vCenter was seen to do): normally, with every object the read
   *   reaches (also through the session's own container views, and the pages of a paged read
   *   opened before) listed with no properties and each property asked for in `missingSet` with
   *   a `NotAuthenticated` fault;
   * - `'fault'`: with a SOAP `NotAuthenticated` fault, like every other call.
   */
  readsAs?: ExpiredReads
}

/**
 * Fault injection for reliability tests, served by the harness on a loopback-only endpoint.
 * Method names are vim25 SOAP method names (`ReconfigVM_Task`, `RetrievePropertiesEx`, …);
 * fault names are vim25 fault types (`NotAuthenticated`, `ConcurrentAccess`, `InvalidState`, …).
 *
 * When several faults are queued for one method, a call takes the first of: a `failNext` SOAP
 * fault, a `failTask` task fault, a `slowTask`, a `dropResponse`, a `delayResponse`; the others
 * wait for the next calls. A `delay` applies to every call besides.
 */
export interface VcsimAdmin {
  /** The next `count` (default 1) calls of `method` fail with a SOAP fault `fault` and change nothing. */
  failNext(method: string, fault: string, count?: number): Promise<void>
  /**
   * The next `count` (default 1) calls of `method`, a `*_Task` method, succeed but return a task
   * that has failed: `info.state` is `error` and `info.error.fault` is of type `fault` — the way
   * vCenter reports what goes wrong while a task runs, as opposed to {@link failNext}'s SOAP
   * fault. Nothing is changed. Fields that name the called object (`object`, `obj`) are set to
   * it; a `DuplicateName` carries the name the call asked for, an `InvalidPowerState` the VM's
   * power state and the one asked for. Only calls of a live session take it (a session that has
   * expired gets its `NotAuthenticated` as before).
   */
  failTask(method: string, fault: string, count?: number): Promise<void>
  /**
   * The next `count` (default 1) calls of `method`, a `*_Task` method, are answered at once with a
   * task that is still running, as vCenter answers: `info.state` is `running` (`info.name` the
   * method, `info.descriptionId` and `info.entity` as vcsim gives that task, `info.cancelable`
   * true), and nothing is applied yet. `ms` (1 to 600000) later the call is applied as it would
   * have been, and the task ends with its outcome: `success` with the call's `info.result`, or
   * `error` with its `info.error` (the error of the task the call made, or the SOAP fault the call
   * got). Property reads and property-collector filters (`WaitForUpdatesEx`) see the task change.
   * The call goes on if its session ends meanwhile.
   *
   * A `CancelTask` before the call is applied succeeds: the call is never applied and the task
   * ends in `error` with `RequestCanceled` and `info.cancelled` true. Once the call is applied,
   * `CancelTask` fails as for vcsim's own tasks (`MethodNotFound`: vcsim 0.24 cancels no task).
   * The call is counted once in {@link calls}; {@link reset} forgets planned slow tasks, and
   * tasks already running still finish. Only calls of a live session take it.
   */
  slowTask(method: string, ms: number, count?: number): Promise<void>
  /**
   * Every later call of `method` waits `ms` (at most a day) before it is served, and is served
   * also when the client gave up meanwhile; 0 removes the delay. The change lands late; compare
   * {@link delayResponse}.
   */
  delay(method: string, ms: number): Promise<void>
  /**
   * The next `count` (default 1) calls of `method` are applied at once, but their answer is held
   * back `ms` (1 to 600000) before it is sent: a client with a shorter deadline gives up while
   * the change has already landed. Other calls are not held up meanwhile.
   */
  delayResponse(method: string, ms: number, count?: number): Promise<void>
  /**
   * The next `count` (default 1) calls of `method` are applied, but the connection is closed
   * without an answer: the client never hears that the call succeeded.
   */
  dropResponse(method: string, count?: number): Promise<void>
  /**
   * Ends every session, as vCenter does when sessions time out. The next call of each client
   * fails with a SOAP `NotAuthenticated` fault, except property reads, which are answered as
   * `options.readsAs` says (default `'missingSet'`); a new `Login` works.
   */
  expireSessions(options?: ExpireSessionsOptions): Promise<void>
  /**
   * Removes every pending fault, delay, task fault, slow task, held or dropped answer, and zeroes
   * the call counters. Expired sessions stay expired; tasks already running still finish.
   */
  reset(): Promise<void>
  /** SOAP calls served since start (or the last reset), by method name. */
  calls(): Promise<Record<string, number>>
}

/** The longest `delay`, `delayResponse` and `slowTask` the harness accepts, in milliseconds. */
const MAX_DELAY_MS = 86_400_000
const MAX_RESPONSE_DELAY_MS = 600_000
const MAX_SLOW_TASK_MS = 600_000

const VIM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,199}$/

/** A short description of any value for a message; never throws. */
function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value)
    case 'bigint':
      return `${value}n`.length > 40 ? 'a large bigint' : `${value}n`
    case 'symbol':
      return 'a symbol'
    case 'function':
      return 'a function'
    default:
      return value === null ? 'null' : 'an object'
  }
}

function vimName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !VIM_NAME.test(value))
    throw new InvalidArgumentError(`${what} must be a vim25 name, got ${describe(value)}`, {
      backend: 'vcsim',
    })
  return value
}

function taskMethod(value: unknown, operation: string): string {
  const method = vimName(value, 'method')
  if (!method.endsWith('_Task'))
    throw new InvalidArgumentError(`${operation} needs a *_Task method, got ${describe(value)}`, {
      backend: 'vcsim',
    })
  return method
}

function count(value: unknown): number {
  const n = value === undefined ? 1 : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`count must be a positive integer, got ${describe(value)}`, {
      backend: 'vcsim',
    })
  return n
}

function milliseconds(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidArgumentError(
      `${what} must be an integer from ${min} to ${max}, got ${describe(value)}`,
      {
        backend: 'vcsim',
      },
    )
  return value
}

function readsAs(options: unknown): ExpiredReads {
  if (options === undefined) return 'missingSet'
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`expireSessions options must be an object, got ${describe(options)}`, {
      backend: 'vcsim',
    })
  let value: unknown
  try {
    value = (options as ExpireSessionsOptions).readsAs
  } catch (cause) {
    throw new InvalidArgumentError('expireSessions options could not be read', { backend: 'vcsim', cause })
  }
  if (value === undefined) return 'missingSet'
  if (value !== 'missingSet' && value !== 'fault')
    throw new InvalidArgumentError(`readsAs must be 'missingSet' or 'fault', got ${describe(value)}`, {
      backend: 'vcsim',
    })
  return value
}

/** An admin client for the harness listening at `adminUrl`. */
export function createAdmin(adminUrl: string): VcsimAdmin {
  const request = async (path: string, body?: Record<string, unknown>): Promise<unknown> => {
    let response: Response
    let text: string
    try {
      response = await fetch(`${adminUrl}/${path}`, {
        method: body === undefined && path === 'calls' ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      text = await response.text()
    } catch (cause) {
      throw new UnavailableError(`vcsim harness admin endpoint ${adminUrl} is unreachable`, {
        backend: 'vcsim',
        cause,
      })
    }
    if (response.status === 400)
      throw new InvalidArgumentError(`vcsim admin ${path}: ${text.trim()}`, { backend: 'vcsim' })
    if (!response.ok) {
      throw new UnavailableError(`vcsim admin ${path} failed with HTTP ${response.status}: ${text.trim()}`, {
        backend: 'vcsim',
      })
    }
    if (!text) return undefined
    try {
      return JSON.parse(text)
    } catch (cause) {
      throw new UnavailableError(`vcsim admin ${path} answered with something other than JSON`, {
        backend: 'vcsim',
        cause,
      })
    }
  }
  return {
    async failNext(method, fault, n) {
      await request('fail', {
        method: vimName(method, 'method'),
        fault: vimName(fault, 'fault'),
        count: count(n),
      })
    },
    async failTask(method, fault, n) {
      await request('fail-task', {
        method: taskMethod(method, 'failTask'),
        fault: vimName(fault, 'fault'),
        count: count(n),
      })
    },
    async slowTask(method, ms, n) {
      await request('slow-task', {
        method: taskMethod(method, 'slowTask'),
        ms: milliseconds(ms, 1, MAX_SLOW_TASK_MS, 'slowTask ms'),
        count: count(n),
      })
    },
    async delay(method, ms) {
      await request('delay', {
        method: vimName(method, 'method'),
        ms: milliseconds(ms, 0, MAX_DELAY_MS, 'delay'),
      })
    },
    async delayResponse(method, ms, n) {
      await request('delay-response', {
        method: vimName(method, 'method'),
        ms: milliseconds(ms, 1, MAX_RESPONSE_DELAY_MS, 'delayResponse ms'),
        count: count(n),
      })
    },
    async dropResponse(method, n) {
      await request('drop', { method: vimName(method, 'method'), count: count(n) })
    },
    async expireSessions(options) {
      await request('expire-sessions', { readsAs: readsAs(options) })
    },
    async reset() {
      await request('reset', {})
    },
    async calls() {
      return (await request('calls')) as Record<string, number>
    },
  }
}
