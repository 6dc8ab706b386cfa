import { createSimulator } from '@portlayer/simulator'
import { expect, it } from 'vitest'
import { makeChanges } from '../src/changes.js'
import { describeEvent, watchEvents } from '../src/watch.js'

it("prints another client's changes as they happen, and ends on the signal", async () => {
  const sim = createSimulator({ clock: 'virtual' })
  const lines: string[] = []
  const controller = new AbortController()
  const watching = watchEvents(sim, (l) => lines.push(l), { signal: controller.signal })
  await watching.ready
  const [job, server] = await makeChanges(sim.connect(), () => {})
  controller.abort()
  expect(await watching.done).toBe(11)
  const of = (id: string) => lines.filter((l) => l.includes(`container ${id.slice(0, 8)}`))
  expect(of(job as string).map((l) => l.split(/\s+/)[1])).toEqual([
    'created',
    'started',
    'exited',
    'stopped',
    'destroyed',
  ])
  expect(of(job as string)[2]).toMatch(/exit code 3$/)
  expect(of(server as string).map((l) => l.split(/\s+/)[1])).toEqual([
    'created',
    'started',
    'exited',
    'exited',
    'stopped',
    'destroyed',
  ])
  expect(of(server as string)[3]).toMatch(/exit code 143$/)
})

it('says what a resync means', () => {
  expect(describeEvent({ type: 'resync', at: new Date(0) })).toBe(
    '00:00:00.000  resync     (events may have been missed: list the containers again)',
  )
})
