import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // build.ts finds tools/vcsim from import.meta.url, which the CJS build gets from this shim.
  shims: true,
})
