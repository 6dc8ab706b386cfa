import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'handles', include: ['test/**/*.test.ts'] } })
