import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'example-watch', include: ['test/**/*.test.ts'] } })
