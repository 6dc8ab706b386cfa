import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'example-integration-test', include: ['test/**/*.test.ts'] } })
