import { defineConfig, type Options } from 'tsup'

/** The build every package shares: ESM + CJS + declarations for Node 20, from `src/index.ts`. */
export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    ...overrides,
  })
}
