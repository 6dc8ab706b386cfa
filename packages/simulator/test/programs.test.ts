import { describe, expect, it, vi } from 'vitest'
import type { ProgramContext } from '../src/index.js'
import { expectCode, startContainer, virtualSim } from './helpers.js'

describe('program registry', () => {
  it('registers, lists, and unregisters programs by normalised absolute path', () => {
    const sim = virtualSim({ programs: { '/opt/a': () => 0 } })
    const off = sim.programs.register('//opt/./b', { run: () => 0 })
    expect(sim.programs.list()).toEqual(['/opt/a', '/opt/b'])
    expect(sim.programs.has('/opt/b')).toBe(true)
    off()
    expect(sim.programs.has('/opt/b')).toBe(false)
    expect(sim.programs.unregister('/opt/a')).toBe(true)
    expect(sim.programs.unregister('/opt/a')).toBe(false)
  })

  it('rejects bad paths, bad programs and duplicates', async () => {
    const sim = virtualSim({ programs: { '/opt/a': () => 0 } })
    await expectCode(() => sim.programs.register('relative', () => 0), 'INVALID_ARGUMENT')
    await expectCode(() => sim.programs.register('/opt/x', 42 as never), 'INVALID_ARGUMENT')
    await expectCode(() => sim.programs.register('/opt/x', { run: 1 } as never), 'INVALID_ARGUMENT')
    await expectCode(
      () => sim.programs.register('/opt/x', { run: () => 0, onSignal: 1 } as never),
      'INVALID_ARGUMENT',
    )
    await expectCode(() => sim.programs.register('/opt/a', () => 1), 'INVALID_ARGUMENT')
  })
})

describe('registered programs', () => {
  it('get args, workDir, pid, IDs and the container file system', async () => {
    let seen: ProgramContext | undefined
    const sim = virtualSim({
      programs: {
        '/usr/bin/app': (ctx) => {
          seen = ctx
          ctx.fs.writeFile('out.txt', `args=${ctx.args.join('|')}`)
          return 0
        },
      },
    })
    const id = await startContainer(sim, '/usr/bin/app', `--name "a b" 'c'`, '/tmp')
    const state = await sim.getContainerState(id)
    expect(seen?.args).toEqual(['--name', 'a b', 'c'])
    expect(seen?.workDir).toBe('/tmp')
    expect(seen?.execPath).toBe('/usr/bin/app')
    expect(seen?.isMain).toBe(true)
    expect(seen?.containerId).toBe(id)
    expect(seen?.processId).toBe(state.mainProcess?.processId)
    expect(seen?.pid).toBe(state.mainProcess?.guestPid)
    expect(seen?.running).toBe(false)
    expect(sim.fs(id).readText('/tmp/out.txt')).toBe('args=--name|a b|c')
  })

  it('exit with the returned code, with ctx.exit code and message, or 1 and the message when they throw', async () => {
    const sim = virtualSim({
      programs: {
        '/bin/ret': (ctx) => Number(ctx.args[0]),
        '/bin/none': () => {},
        '/bin/say': (ctx) => {
          ctx.exit(3, 'custom message')
          return 9
        },
        '/bin/throw': () => {
          throw new Error('boom')
        },
        '/bin/reject': async () => {
          throw new Error('async boom')
        },
        '/bin/bad': () => 300,
      },
    })
    const id = await startContainer(sim)
    const run = async (path: string, args = '') => {
      const p = await sim.execProcess(id, '/', path, args)
      await sim.clock.advance(0)
      return (await sim.getContainerState(id)).execdProcs.find((s) => s.processId === p)
    }
    expect(await run('/bin/ret', '42')).toMatchObject({ status: 'exited', exitCode: 42, exitMsg: '' })
    expect(await run('/bin/none')).toMatchObject({ exitCode: 0 })
    expect(await run('/bin/say')).toMatchObject({ exitCode: 3, exitMsg: 'custom message' })
    expect(await run('/bin/throw')).toMatchObject({ exitCode: 1, exitMsg: 'boom' })
    expect(await run('/bin/reject')).toMatchObject({ exitCode: 1, exitMsg: 'async boom' })
    expect((await run('/bin/bad'))?.exitCode).toBe(1)
  })

  it('sleep on the simulator clock and keep running until they return', async () => {
    const sim = virtualSim({
      programs: {
        '/bin/job': async (ctx) => {
          await ctx.sleep(5000)
          ctx.fs.writeFile('/tmp/done', 'yes')
          return 7
        },
      },
    })
    const id = await startContainer(sim, '/bin/job')
    await sim.clock.advance(4999)
    expect((await sim.getContainerState(id)).status).toBe('running')
    expect(sim.fs(id).exists('/tmp/done')).toBe(false)
    await sim.clock.advance(1)
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('stopped')
    expect(state.mainProcess?.exitCode).toBe(7)
    expect(state.mainProcess?.finishedAt?.getTime()).toBe(
      (state.mainProcess?.startedAt?.getTime() ?? 0) + 5000,
    )
    expect(sim.fs(id).readText('/tmp/done')).toBe('yes')
  })

  it('run forever until signalled, and a killed program never resumes from its sleep', async () => {
    const after = vi.fn()
    const sim = virtualSim({
      programs: {
        '/bin/server': (ctx) => ctx.forever(),
        '/bin/napper': async (ctx) => {
          await ctx.sleep(1000)
          after()
          return 0
        },
      },
    })
    const id = await startContainer(sim, '/bin/server')
    const nap = await sim.execProcess(id, '/', '/bin/napper', '')
    await sim.clock.advance(500)
    await sim.signal(nap, 2)
    await sim.clock.advance(5000)
    expect(after).not.toHaveBeenCalled()
    const state = await sim.getContainerState(id)
    expect(state.status).toBe('running')
    expect(state.execdProcs[0]).toMatchObject({ status: 'exited', exitCode: 130 })
    await sim.signal(id, 1)
    expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(129)
  })

  it('handle signals with onSignal (definition or ctx.onSignal); SIGKILL cannot be handled', async () => {
    const got: number[] = []
    const sim = virtualSim({
      programs: {
        '/bin/def': { run: (ctx) => ctx.forever(), onSignal: (_ctx, n) => got.push(n) },
        '/bin/dyn': (ctx) => {
          ctx.onSignal((n) => {
            got.push(100 + n)
            if (n === 2) ctx.exit(0, 'graceful')
          })
          return ctx.forever()
        },
      },
    })
    const id = await startContainer(sim, '/bin/def')
    await sim.signal(id, 15)
    await sim.signal(id, 10)
    expect(got).toEqual([15, 10])
    expect((await sim.getContainerState(id)).status).toBe('running')
    const dyn = await sim.execProcess(id, '/', '/bin/dyn', '')
    await sim.signal(dyn, 1)
    await sim.signal(dyn, 2)
    expect(got).toEqual([15, 10, 101, 102])
    expect((await sim.getContainerState(id)).execdProcs[0]).toMatchObject({
      exitCode: 0,
      exitMsg: 'graceful',
    })
    await sim.signal(id, 9)
    const state = await sim.getContainerState(id)
    expect(state.mainProcess?.exitCode).toBe(137)
    expect(state.status).toBe('stopped')
  })

  it('a handler that throws ends its process with 1', async () => {
    const sim = virtualSim({
      programs: {
        '/bin/fragile': {
          run: (ctx) => ctx.forever(),
          onSignal: () => {
            throw new Error('handler broke')
          },
        },
      },
    })
    const id = await startContainer(sim, '/bin/fragile')
    await sim.signal(id, 10)
    expect((await sim.getContainerState(id)).mainProcess).toMatchObject({
      exitCode: 1,
      exitMsg: 'handler broke',
    })
  })

  it('take precedence over built-ins and executable files at the same path', async () => {
    const sim = virtualSim({ programs: { '/bin/true': () => 5, '/usr/local/bin/app': () => 6 } })
    const id = await startContainer(sim, '/bin/sleep', '100')
    const a = await sim.execProcess(id, '/', '/bin/true', '')
    const state = await sim.getContainerState(id)
    expect(state.execdProcs.find((p) => p.processId === a)?.exitCode).toBe(5)
    const other = await startContainer(sim)
    expect((await sim.getContainerState(other)).mainProcess?.exitCode).toBe(6)
  })

  it('are reachable through the guest with /bin/kill', async () => {
    const got: number[] = []
    const sim = virtualSim({
      programs: { '/bin/svc': { run: (ctx) => ctx.forever(), onSignal: (_ctx, n) => got.push(n) } },
    })
    const id = await startContainer(sim, '/bin/svc')
    const pid = (await sim.getContainerState(id)).mainProcess?.guestPid
    const k = await sim.execProcess(id, '/', '/bin/kill', `-10 ${pid}`)
    expect(got).toEqual([10])
    expect((await sim.getContainerState(id)).execdProcs.find((p) => p.processId === k)?.exitCode).toBe(0)
    await sim.execProcess(id, '/', '/bin/kill', `-9 ${pid}`)
    expect((await sim.getContainerState(id)).mainProcess?.exitCode).toBe(137)
  })

  it('rejects bad exit codes and sleeps from program code', async () => {
    const errors: unknown[] = []
    const sim = virtualSim({
      programs: {
        '/bin/misuse': async (ctx) => {
          for (const f of [() => ctx.exit(256), () => ctx.exit(-1), () => ctx.exit(1.5)]) {
            try {
              f()
            } catch (e) {
              errors.push(e)
            }
          }
          await ctx.sleep(-5).catch((e) => errors.push(e))
          return 0
        },
      },
    })
    await startContainer(sim, '/bin/misuse')
    await sim.clock.advance(0)
    expect(errors).toHaveLength(4)
    for (const e of errors) expect((e as { code: string }).code).toBe('INVALID_ARGUMENT')
  })
})
