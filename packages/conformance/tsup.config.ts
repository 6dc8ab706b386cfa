import { packageBuild } from '../../tsup.shared.js'

// Two entries: the suite (`.`), and the reliability tools (`./reliability`: history checker,
// workloads, model-based fuzzing), kept apart so users of the suite do not load fast-check.
// ESM only: the suite runs inside vitest, which cannot be loaded with require().
export default packageBuild({
  entry: { index: 'src/index.ts', reliability: 'src/reliability/index.ts' },
  format: ['esm'],
})
