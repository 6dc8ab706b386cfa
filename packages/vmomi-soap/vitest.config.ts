import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'vmomi-soap', include: ['test/**/*.test.ts'] } })
