import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'example-net-extension', include: ['test/**/*.test.ts'] } })
