import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { buildVcsim, startVcsim } from '../src/index.js'

/** True while pid runs (a zombie, waiting for a parent that is gone, counts as exited). */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

async function waitGone(pid: number, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !alive(pid)
}

async function spawnHarness(): Promise<{ child: ReturnType<typeof spawn>; exited: Promise<number | null> }> {
  const binary = await buildVcsim()
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'ignore'] })
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  const line = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve)
  })
  expect(JSON.parse(line).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sdk$/)
  return { child, exited }
}

describe('harness lifetime', () => {
  it('exits when its stdin closes', async () => {
    const { child, exited } = await spawnHarness()
    child.stdin?.end()
    expect(await exited).toBe(0)
  }, 300_000)

  it('exits on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { child, exited } = await spawnHarness()
      child.kill(signal)
      expect(await exited).toBe(0)
    }
  }, 300_000)

  it('exits when the process that started it dies without stopping it', async () => {
    const binary = await buildVcsim()
    // A parent that starts the harness, reports its pid and kills itself.
    const script = `
      const { spawn } = require('node:child_process')
      const child = spawn(${JSON.stringify(binary)}, [], { stdio: ['pipe', 'pipe', 'ignore'] })
      child.stdout.once('data', () => {
        process.stdout.write(String(child.pid) + '\\n', () => process.kill(process.pid, 'SIGKILL'))
      })`
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const pid = Number(
      await new Promise<string>((resolve) => {
        createInterface({ input: parent.stdout as NodeJS.ReadableStream }).once('line', resolve)
      }),
    )
    expect(pid).toBeGreaterThan(0)
    expect(await waitGone(pid)).toBe(true)
  }, 300_000)

  it('stop() ends the harness, and a second stop() is a no-op', async () => {
    const vc = await startVcsim()
    expect(alive(vc.pid)).toBe(true)
    await vc.stop()
    expect(await waitGone(vc.pid)).toBe(true)
    await vc.stop()
    await expect(fetch(vc.url, { method: 'POST', body: '' })).rejects.toThrow()
  }, 300_000)
})
