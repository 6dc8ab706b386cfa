import { createSimulator } from '@portlayer/simulator'
import { expect, it } from 'vitest'
import { runQuickstart } from '../src/quickstart.js'

it('runs the whole lifecycle on the simulator and says what happened', async () => {
  const lines: string[] = []
  const sim = createSimulator()
  const id = await runQuickstart(sim, (l) => lines.push(l))
  const out = lines.join('\n')
  expect(out).toMatch(/exited with code 0/)
  expect(out).toContain('/tmp/config.copy: {"port":8080}')
  expect(out).toContain('stdout: {"port":8080}')
  expect(out).toContain('stderr: cat: missing.json: No such file or directory')
  expect(out).toMatch(/refused: CONFLICT/)
  expect(out).toMatch(/main: \/usr\/local\/bin\/web-server .*: exited with code 143/)
  expect(out).toMatch(/limits 512 MiB, 1000 MHz/)
  expect(await sim.listContainers()).not.toContain(id)
})
