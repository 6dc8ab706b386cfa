import { ALL_CAPABILITIES, type Capabilities } from '@portlayer/contracts'
import { afterEach, beforeEach, describe } from 'vitest'
import { type ConformanceBackend, type ConformanceOptions, resolveOptions } from './backend.js'
import { Harness } from './harness.js'
import { badInputTests } from './suites/bad-input.js'
import { cancellationTests } from './suites/cancellation.js'
import { concurrencyTests } from './suites/concurrency.js'
import type { SuiteContext } from './suites/context.js'
import { eventTests } from './suites/events.js'
import { extensionProtocolTests } from './suites/extension-protocol.js'
import { extensionTests } from './suites/extensions.js'
import { failureTests } from './suites/failures.js'
import { filesTests } from './suites/files.js'
import { lifecycleTests } from './suites/lifecycle.js'
import { limitsTests } from './suites/limits.js'
import { notFoundTests } from './suites/not-found.js'
import { outcomeTests } from './suites/outcome.js'
import { outputTests } from './suites/output.js'
import { processTests } from './suites/processes.js'
import { programTests } from './suites/programs.js'

/**
 * Declares the portlayer conformance suite for vitest: every behaviour of the design, the
 * program semantics, bad input, failure atomicity, concurrency, extensions (the commit-extension
 * protocol rule by rule), cancellation and the outcome rule, events, waiting for exits, process
 * output (every row of contracts' `PROGRAM_OUTPUT_CASES`) and disposal.
 *
 * After every test the suite also checks the outcome rule on every call the test made: each
 * `PortLayerError` must say `outcome: 'not-applied'` (in `toJSON()` too), since the backend is
 * reachable and so never has cause to say `'unknown'`. A test that broke it fails in its
 * `afterEach`, listing the calls.
 *
 * Call it at the top level of a test file. `createBackend` runs before each test and `close`
 * after it; the suite removes the containers it created, never assumes the backend is empty, and
 * lets time pass only through `advance`.
 *
 * @param name shown in the suite's title, e.g. `simulator`
 * @param createBackend a fresh (or shared) backend for one test
 * @param capabilities what the backend lacks, e.g. `{ exec: false }`; tests needing a missing
 *   capability are reported as skipped. Omitted flags count as present.
 * @param options timeouts and polling for slow backends
 */
export function describeConformance(
  name: string,
  createBackend: () => ConformanceBackend | Promise<ConformanceBackend>,
  capabilities: Partial<Capabilities> = {},
  options: ConformanceOptions = {},
): void {
  const caps: Capabilities = { ...ALL_CAPABILITIES, ...definedOnly(capabilities) }
  const resolved = resolveOptions(options)
  let current: Harness | undefined
  const context: SuiteContext = {
    caps,
    options: resolved,
    t() {
      if (!current) throw new Error('describeConformance: no backend for this test (did createBackend fail?)')
      return current
    },
  }

  // Tests share one harness slot, so they must never run concurrently, whatever the config says.
  describe(`portlayer conformance: ${name}`, { timeout: resolved.timeoutMs, concurrent: false }, () => {
    beforeEach(async () => {
      current = new Harness(await createBackend(), caps, resolved)
    }, resolved.timeoutMs)
    afterEach(async () => {
      const harness = current
      current = undefined
      const wrong = harness?.outcomeViolations() ?? []
      await harness?.dispose()
      if (wrong.length > 0) {
        throw new Error(
          `outcome rule: ${wrong.length} failed call(s) did not say outcome 'not-applied' on a reachable backend:\n${wrong.join('\n')}`,
        )
      }
    }, resolved.timeoutMs)

    lifecycleTests(context)
    concurrencyTests(context)
    notFoundTests(context)
    limitsTests(context)
    filesTests(context)
    processTests(context)
    programTests(context)
    failureTests(context)
    badInputTests(context)
    extensionTests(context)
    extensionProtocolTests(context)
    outcomeTests(context)
    cancellationTests(context)
    eventTests(context)
    outputTests(context)
  })
}

function definedOnly(capabilities: Partial<Capabilities>): Partial<Capabilities> {
  return Object.fromEntries(Object.entries(capabilities).filter(([, v]) => v !== undefined))
}
