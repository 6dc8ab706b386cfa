import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'vcsim', include: ['test/**/*.test.ts'] } })
