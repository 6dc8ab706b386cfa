#!/usr/bin/env node
// portlayer-vcsim: prepares a machine for @portlayer/vcsim ahead of a test run.
import { PortLayerError } from '@portlayer/contracts'
import { vcsimAvailable } from './available.js'
import { buildVcsim } from './build.js'
import { stderrLogger } from './logger.js'
import { provisionToolchain } from './setup.js'

const USAGE = `usage: portlayer-vcsim <command>
  setup   install Go and govmomi from Debian when missing (as root), then build the harness
  build   build the harness into the cache (needs Go and govmomi)
  check   say whether startVcsim() can run here (exit 0) or why not (exit 1)`

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'setup': {
      const toolchain = await provisionToolchain({
        logger: stderrLogger,
        setupCommand: process.env.PORTLAYER_VCSIM_SETUP_COMMAND ?? 'npx portlayer-vcsim setup',
      })
      console.log(`portlayer-vcsim: ${toolchain.version}`)
      console.log(`portlayer-vcsim: harness ready: ${await buildVcsim({ logger: stderrLogger })}`)
      return 0
    }
    case 'build':
      console.log(await buildVcsim({ logger: stderrLogger }))
      return 0
    case 'check': {
      const result = await vcsimAvailable()
      console.log(result.available ? 'portlayer-vcsim: available' : result.reason)
      return result.available ? 0 : 1
    }
    default:
      console.error(USAGE)
      return 2
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    console.error(PortLayerError.isInstance(e) ? e.message : String(e))
    process.exitCode = 1
  },
)
