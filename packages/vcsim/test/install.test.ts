import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// @portlayer/vcsim as an npm user gets it: dist/ (with the harness's Go sources) and package.json
// in a node_modules that cannot be written. As root the child runs as `nobody`, whose home
// (/nonexistent) cannot be created; otherwise as this user with HOME=/dev/null.
const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const CONTRACTS = resolve(PACKAGE, '../contracts')
const ROOT = typeof process.getuid === 'function' && process.getuid() === 0
const NOBODY = 65534

interface ChildRun {
  code: number | null
  stdout: string
  lines: { level: string; message: string }[]
  result?: { url?: string; error?: string }
  stderr: string
}

/** Every file under `dir` with its size and mtime. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, entry))
    out.push(`${entry} ${s.size} ${s.mtimeMs}`)
  }
  return out.sort()
}

async function makeReadOnly(path: string): Promise<void> {
  const s = await stat(path)
  if (s.isDirectory()) {
    for (const entry of await readdir(path)) await makeReadOnly(join(path, entry))
    await chmod(path, 0o555)
  } else {
    await chmod(path, s.mode & 0o111 ? 0o555 : 0o444)
  }
}

async function makeWritable(path: string): Promise<void> {
  const s = await stat(path)
  if (!s.isDirectory()) return
  await chmod(path, 0o755)
  for (const entry of await readdir(path)) await makeWritable(join(path, entry))
}

describe('installed from a tarball into a read-only node_modules', () => {
  let dir: string
  let project: string
  let tmp: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vcsim-install-'))
    await chmod(dir, 0o755)
    project = join(dir, 'project')
    const scope = join(project, 'node_modules', '@portlayer')
    for (const [from, name] of [
      [PACKAGE, 'vcsim'],
      [CONTRACTS, 'contracts'],
    ] as const) {
      await mkdir(join(scope, name), { recursive: true })
      await cp(join(from, 'package.json'), join(scope, name, 'package.json'))
      await cp(join(from, 'dist'), join(scope, name, 'dist'), { recursive: true })
    }
    // Starts a harness, prints what the logger got and the result as JSON lines, stops it.
    await writeFile(
      join(project, 'start.mjs'),
      `import { startVcsim } from '@portlayer/vcsim'
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (message) => out({ level, message })]))
try {
  const vc = await startVcsim({ logger })
  out({ result: { url: vc.url } })
  await vc.stop()
} catch (e) {
  out({ result: { error: e.message } })
}
`,
    )
    await makeReadOnly(project)
    // The child's temporary directory: the cache's fallback when its home cannot be written.
    tmp = join(dir, 'tmp')
    await mkdir(tmp)
    if (ROOT) await chown(tmp, NOBODY, NOBODY)
  })
  afterAll(async () => {
    // Without root, a read-only directory's entries cannot be removed until it is writable again.
    if (project) await makeWritable(project).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  function run(env: Record<string, string>, args = ['start.mjs'], asThisUser = false): Promise<ChildRun> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: project,
        env: { HOME: ROOT ? '/nonexistent' : '/dev/null', TMPDIR: tmp, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(ROOT && !asThisUser ? { uid: NOBODY, gid: NOBODY } : {}),
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d
      })
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d
      })
      child.once('error', reject)
      child.once('close', (code) => {
        const parsed = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level?: string; message?: string; result?: ChildRun['result'] })
        resolvePromise({
          code,
          stdout,
          lines: parsed
            .filter((p) => p.level)
            .map((p) => ({ level: p.level as string, message: p.message as string })),
          ...(parsed.find((p) => p.result) ? { result: parsed.find((p) => p.result)?.result } : {}),
          stderr,
        })
      })
    })
  }

  it('builds into the per-user cache (in the temporary directory when home cannot be written), reporting progress, and leaves the package untouched', async () => {
    const before = await snapshot(project)
    const first = await run({ PATH: process.env.PATH ?? '/usr/bin:/bin' })
    expect(first.result, first.stderr).toMatchObject({
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/sdk$/),
    })
    const user = ROOT ? NOBODY : process.getuid?.()
    const cache = join(tmp, `portlayer-${user}`, 'vcsim')
    const info = first.lines.filter((l) => l.level === 'info').map((l) => l.message)
    expect(info[0]).toContain(`cannot be written`)
    expect(info[0]).toContain(`caching in ${cache}`)
    expect(info.some((m) => m.startsWith(`vcsim harness: building ${cache}/vcsim-`))).toBe(true)
    expect(info.at(-1)).toMatch(/^vcsim harness: built in \d+ s$/)
    expect((await readdir(cache)).filter((f) => f.startsWith('vcsim-'))).toHaveLength(1)
    expect(await snapshot(project)).toEqual(before)
    // The fallback directory is this user's alone.
    expect((await stat(join(tmp, `portlayer-${user}`))).mode & 0o077).toBe(0)
  }, 600_000)

  it('runs the cached binary on a machine without Go', async () => {
    const second = await run({ PATH: '/nonexistent' })
    expect(second.result, second.stderr).toMatchObject({ url: expect.stringMatching(/^http:/) })
    // Nothing to build, so nothing to report but the binary it found.
    expect(second.lines.filter((l) => l.level === 'info')).toEqual([])
    expect(
      second.lines.some((l) => l.level === 'debug' && l.message.includes('no Go toolchain; using')),
    ).toBe(true)
  }, 120_000)

  it('without Go and with nothing cached: UNAVAILABLE naming the Debian packages', async () => {
    // Neither the home cache nor the temporary directory's holds a binary.
    const third = await run({
      PATH: '/nonexistent',
      XDG_CACHE_HOME: join(dir, 'empty'),
      TMPDIR: join(dir, 'empty'),
    })
    expect(third.result?.error).toMatch(/Go \(`go`\) was not found: install the Debian packages golang-go/)
    expect(existsSync(join(dir, 'empty'))).toBe(false)
  }, 120_000)

  const CLI = ['node_modules/@portlayer/vcsim/dist/cli.js']
  const NOTHING: Record<string, string> = { PATH: '/nonexistent' }

  it('`portlayer-vcsim setup` as a user who cannot install Go: one line naming the command to run', async () => {
    const setup = await run({ ...NOTHING, XDG_CACHE_HOME: join(dir, 'empty'), TMPDIR: join(dir, 'empty') }, [
      ...CLI,
      'setup',
    ])
    expect(setup.code).toBe(1)
    expect(setup.stderr).toBe(
      'vcsim harness: Go or govmomi is missing and this user cannot install them: run `sudo apt-get install -y golang-go golang-github-vmware-govmomi-dev` (or `npx portlayer-vcsim setup` as root)\n',
    )
  })

  it.runIf(ROOT)(
    '`portlayer-vcsim setup` as root without apt-get: one line saying what to install',
    async () => {
      const setup = await run({ ...NOTHING, HOME: join(dir, 'empty') }, [...CLI, 'setup'], true)
      expect(setup.code).toBe(1)
      expect(setup.stderr).toMatch(
        /^vcsim harness: Go or govmomi is missing and there is no apt-get: [^\n]*PORTLAYER_VCSIM_GOPATH[^\n]*\n$/,
      )
    },
  )

  it('`portlayer-vcsim check` says whether startVcsim() can run, and why not', async () => {
    const cached = await run(NOTHING, [...CLI, 'check'])
    expect([cached.code, cached.stdout]).toEqual([0, 'portlayer-vcsim: available\n'])
    const missing = await run(
      { ...NOTHING, XDG_CACHE_HOME: join(dir, 'empty'), TMPDIR: join(dir, 'empty') },
      [...CLI, 'check'],
    )
    expect(missing.code).toBe(1)
    expect(missing.stdout).toMatch(
      /^vcsim harness: Go \(`go`\) was not found: install the Debian packages golang-go/,
    )
  })
})
