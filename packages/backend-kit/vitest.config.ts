import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'backend-kit', include: ['test/**/*.test.ts'] } })
