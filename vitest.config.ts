import { defineConfig } from 'vitest/config'

// CI asks for a machine-readable summary through the environment, so the README's plain
// `pnpm test` stays the command it runs.
const resultsFile = process.env.PORTLAYER_TEST_RESULTS

// One project per package; each package owns its vitest.config.ts. The global setup provisions
// and builds the vcsim harness once, for the projects that use it.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts'],
    globalSetup: ['./vitest.global-setup.ts'],
    ...(resultsFile ? { reporters: ['default', 'json'], outputFile: { json: resultsFile } } : {}),
  },
})
