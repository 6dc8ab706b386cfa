import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { vcsimAvailable } from './packages/vcsim/src/available.js'
import { buildVcsim } from './packages/vcsim/src/build.js'
import { stderrLogger } from './packages/vcsim/src/logger.js'
import { provisionToolchain } from './packages/vcsim/src/setup.js'

// Before any test file runs: when the run includes a project that uses the vcsim harness, make
// sure the harness can be built (installing Debian's Go and govmomi when this is root with apt)
// and build it once into the cache. When that cannot be done, stop with one line that says what
// to run, instead of failing every vSphere test file on its own.

/** The projects of this run whose package is @portlayer/vcsim or depends on it. */
function projectsUsingVcsim(project: TestProject): { names: string[]; goTests: boolean } {
  const names: string[] = []
  let goTests = false
  for (const p of project.vitest.projects) {
    let pkg: { name?: string; dependencies?: object; devDependencies?: object }
    try {
      pkg = JSON.parse(readFileSync(join(p.config.root, 'package.json'), 'utf8'))
    } catch {
      continue
    }
    const own = pkg.name === '@portlayer/vcsim'
    if (
      own ||
      '@portlayer/vcsim' in (pkg.dependencies ?? {}) ||
      '@portlayer/vcsim' in (pkg.devDependencies ?? {})
    )
      names.push(p.name)
    // Its suite runs the harness's Go tests, which need Go itself, not only a built binary.
    if (own) goTests = true
  }
  return { names, goTests }
}

export default async function setup(project: TestProject): Promise<void> {
  const { names, goTests } = projectsUsingVcsim(project)
  if (names.length === 0) return
  try {
    if (goTests || !(await vcsimAvailable()).available) {
      await provisionToolchain({ logger: stderrLogger, setupCommand: 'pnpm vcsim:setup' })
    }
    await buildVcsim({ logger: stderrLogger })
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    process.stderr.write(`${message} [needed by the test projects ${names.join(', ')}]\n`)
    // Exiting here, before any test file loads, is what keeps this to one line.
    process.exit(1)
  }
}
