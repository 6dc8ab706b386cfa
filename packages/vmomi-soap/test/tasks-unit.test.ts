import { describe, expect, it } from 'vitest'
import { Redactor } from '../src/redact.js'
import { CallScope } from '../src/scope.js'
import { pollTask } from '../src/tasks.js'

const TASK = { type: 'Task', value: 'task-8' }
const VM = { type: 'VirtualMachine', value: 'vm-3' }

// vcsim finishes every task before its *_Task call returns, so the polling of a task that is
// still running is checked here with scripted task states.
function polling(states: Record<string, unknown>[]) {
  const sent: number[] = []
  return {
    sent,
    polling: {
      propertyCollector: { type: 'PropertyCollector', value: 'pc' },
      initialMs: 10,
      maxMs: 40,
      pollTimeoutMs: 1_000,
      redactor: new Redactor(),
      async send() {
        sent.push(Date.now())
        const info = states.shift()
        return {
          objects: [
            {
              obj: TASK,
              propSet: [{ name: 'info', val: { _type: 'TaskInfo', key: 'k', task: TASK, ...info } }],
            },
          ],
        }
      },
    },
  }
}

describe('task polling', () => {
  it('polls a queued and running task with a growing pause until it succeeds', async () => {
    const { polling: p, sent } = polling([
      { state: 'queued' },
      { state: 'running', progress: 10 },
      { state: 'running', progress: 60 },
      { state: 'running', progress: 90 },
      { state: 'success', result: VM },
    ])
    const scope = new CallScope('test', 5_000, undefined, new AbortController().signal)
    const info = await pollTask(p, TASK, 'CloneVM_Task', scope)
    scope.dispose()
    expect(info).toEqual({ key: 'k', task: TASK, state: 'success', result: VM })
    expect(sent).toHaveLength(5)
    const gaps = sent.slice(1).map((t, i) => t - (sent[i] as number))
    expect(gaps[0]).toBeGreaterThanOrEqual(9)
    expect(gaps[2]).toBeGreaterThanOrEqual(35)
    expect(gaps[3]).toBeLessThan(80)
  })

  it('throws the task fault naming the method that started it', async () => {
    const { polling: p } = polling([
      { state: 'running' },
      {
        state: 'error',
        entity: VM,
        error: { fault: { _type: 'InvalidPowerState', existingState: 'poweredOn' }, localizedMessage: 'on' },
      },
    ])
    const scope = new CallScope('test', 5_000, undefined, new AbortController().signal)
    await expect(pollTask(p, TASK, 'Destroy_Task', scope)).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: 'vSphere task Destroy_Task (task-8) on VirtualMachine:vm-3 failed with InvalidPowerState: on',
      detail: { fault: 'InvalidPowerState', task: TASK, object: VM, method: 'Destroy_Task' },
    })
    scope.dispose()
  })

  it('sends a poll that outlives its own deadline again, until the wait itself ends', async () => {
    const stalled: string[] = []
    let polls = 0
    const p = {
      ...polling([]).polling,
      pollTimeoutMs: 40,
      onStalledPoll: (message: string) => stalled.push(message),
      // A poll on a dead connection: it never answers, it only ends with its scope.
      send: (_op: unknown, _args: unknown, poll: CallScope) => {
        polls++
        return new Promise((_resolve, reject) =>
          poll.signal.addEventListener('abort', () => reject(poll.error()), { once: true }),
        )
      },
    }
    const scope = new CallScope('test', 300, undefined, new AbortController().signal)
    await expect(pollTask(p, TASK, 'PowerOnVM_Task', scope)).rejects.toBeDefined()
    expect(scope.stopped).toBe('timeout')
    expect(polls).toBeGreaterThanOrEqual(4)
    expect(polls).toBeLessThanOrEqual(8)
    expect(stalled).toHaveLength(polls - 1)
    expect(stalled[0]).toContain('task-8')
    scope.dispose()
  })

  it('stops waiting when its scope ends', async () => {
    const { polling: p } = polling(Array.from({ length: 100 }, () => ({ state: 'running' })))
    const scope = new CallScope('test', 60, undefined, new AbortController().signal)
    await expect(pollTask(p, TASK, 'PowerOnVM_Task', scope)).rejects.toBeDefined()
    expect(scope.stopped).toBe('timeout')
    expect(scope.error()).toMatchObject({ code: 'TIMEOUT' })
    scope.dispose()
  })
})
