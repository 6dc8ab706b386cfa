#!/usr/bin/env node
// After tsup: copies the harness's Go sources (tools/vcsim, tests left out) into dist/harness, so
// the published package can build the harness wherever it is installed.
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const from = resolve(pkg, '../../tools/vcsim')
const to = join(pkg, 'dist/harness')

const files = (await readdir(from)).filter(
  (f) => (f.endsWith('.go') && !f.endsWith('_test.go')) || f.endsWith('.s'),
)
if (!files.includes('main.go')) throw new Error(`no main.go in ${from}`)
await rm(to, { recursive: true, force: true })
await mkdir(to, { recursive: true })
for (const file of files) await copyFile(join(from, file), join(to, file))
console.log(`copied ${files.length} harness sources to dist/harness`)
