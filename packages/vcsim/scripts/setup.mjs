#!/usr/bin/env node
// Installs what the vcsim harness builds from: Debian's Go and govmomi source (GOPATH mode, no
// module downloads). Run as root (CI); otherwise prints the command to run.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const PACKAGES = ['golang-go', 'golang-github-vmware-govmomi-dev']
const GOVMOMI = '/usr/share/gocode/src/github.com/vmware/govmomi/simulator'

function haveGo() {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0
}

if (haveGo() && existsSync(GOVMOMI)) {
  console.log(
    `vcsim:setup: Go and govmomi are installed (${execFileSync('go', ['version']).toString().trim()})`,
  )
  process.exit(0)
}

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  console.error(
    `vcsim:setup: Go or govmomi is missing. As root, run:\n  apt-get update && apt-get install -y ${PACKAGES.join(' ')}`,
  )
  process.exit(1)
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...PACKAGES]]) {
  console.log(`vcsim:setup: apt-get ${args.join(' ')}`)
  const result = spawnSync('apt-get', args, { stdio: 'inherit', env })
  if (result.status !== 0) {
    console.error(`vcsim:setup: apt-get ${args[0]} failed (exit ${result.status ?? result.signal})`)
    process.exit(1)
  }
}
if (!haveGo() || !existsSync(GOVMOMI)) {
  console.error(`vcsim:setup: installed ${PACKAGES.join(' ')} but Go or ${GOVMOMI} is still missing`)
  process.exit(1)
}
console.log('vcsim:setup: done')
