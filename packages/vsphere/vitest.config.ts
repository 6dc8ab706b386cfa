import { defineProject } from 'vitest/config'

export default defineProject({ test: { name: 'vsphere', include: ['test/**/*.test.ts'] } })
