import { defineConfig } from 'vitest/config'

// One project per package; each package owns its vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts'],
  },
})
