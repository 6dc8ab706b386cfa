import { PortLayerError } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_EXIT_POLL_INTERVAL_MS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_EXITED_EXECS,
  DEFAULT_STOP_GRACE_PERIOD_MS,
  defaultVmName,
  resolveSettings,
  type VsphereSettings,
} from '../src/index.js'
import { vmNameFor } from '../src/settings.js'

const SECRET = 'hunter2-very-secret'
const base: VsphereSettings = {
  datacenter: 'DC0',
  vmFolder: 'DC0/vm',
  resourcePool: 'DC0/host/DC0_C0/Resources',
  datastore: 'LocalDS_0',
  guest: { username: 'root', password: SECRET },
}
const ID = '0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f'

function refusal(settings: unknown): PortLayerError {
  try {
    resolveSettings(settings as VsphereSettings)
  } catch (e) {
    if (PortLayerError.isInstance(e)) return e
    throw e
  }
  throw new Error('settings were accepted')
}

describe('resolveSettings', () => {
  it('fills in the documented defaults', () => {
    const s = resolveSettings(base)
    expect(s.defaultLimits).toEqual(DEFAULT_LIMITS)
    expect(s.stopGracePeriodMs).toBe(DEFAULT_STOP_GRACE_PERIOD_MS)
    expect(s.exitPollIntervalMs).toBe(DEFAULT_EXIT_POLL_INTERVAL_MS)
    expect(s.template).toBeUndefined()
    expect(s.guestId).toBe('otherLinux64Guest')
    expect(s.listPageSize).toBe(5_000)
    expect(s.maxExitedExecs).toBe(64)
    expect(DEFAULT_MAX_EXITED_EXECS).toBe(64)
    expect(s.vmName(ID)).toBe(`portlayer-${ID}`)
    expect(defaultVmName(ID)).toBe(`portlayer-${ID}`)
  })

  it('keeps given values, trimmed paths and a zero poll interval (poll off)', () => {
    const s = resolveSettings({
      ...base,
      vmFolder: ' DC0/vm/portlayer ',
      template: 'DC0/vm/base',
      defaultLimits: { memoryMb: 256, cpuMhz: 500 },
      stopGracePeriodMs: 0,
      exitPollIntervalMs: 0,
      maxExitedExecs: 1,
      vmName: (id) => `c-${id}`,
    })
    expect(s.maxExitedExecs).toBe(1)
    expect(s.vmFolder).toBe('DC0/vm/portlayer')
    expect(s.template).toBe('DC0/vm/base')
    expect(s.defaultLimits).toEqual({ memoryMb: 256, cpuMhz: 500 })
    expect(s.stopGracePeriodMs).toBe(0)
    expect(s.exitPollIntervalMs).toBe(0)
    expect(s.vmName(ID)).toBe(`c-${ID}`)
  })

  it.each([
    ['no settings', null, 'settings'],
    ['a missing datacenter', { ...base, datacenter: undefined }, 'datacenter'],
    ['an empty folder', { ...base, vmFolder: '  ' }, 'vmFolder'],
    ['a folder path with an empty segment', { ...base, vmFolder: 'DC0//vm' }, 'vmFolder'],
    ['a leading slash', { ...base, resourcePool: '/DC0/host/x' }, 'resourcePool'],
    ['a folder outside the datacenter', { ...base, vmFolder: 'DC1/vm' }, 'vmFolder'],
    ['a datastore path', { ...base, datastore: 'DC0/datastore/LocalDS_0' }, 'datastore'],
    ['a template that is not a string', { ...base, template: 7 }, 'template'],
    ['missing guest credentials', { ...base, guest: undefined }, 'guest'],
    ['an empty guest user', { ...base, guest: { username: '', password: SECRET } }, 'guest.username'],
    [
      'a guest password that is not a string',
      { ...base, guest: { username: 'u', password: 1 } },
      'guest.password',
    ],
    ['half default limits', { ...base, defaultLimits: { memoryMb: 256 } }, 'defaultLimits'],
    [
      'negative default limits',
      { ...base, defaultLimits: { memoryMb: -1, cpuMhz: 100 } },
      'defaultLimits.memoryMb',
    ],
    ['a fractional grace period', { ...base, stopGracePeriodMs: 1.5 }, 'stopGracePeriodMs'],
    ['a negative poll interval', { ...base, exitPollIntervalMs: -1 }, 'exitPollIntervalMs'],
    ['a zero page size', { ...base, listPageSize: 0 }, 'listPageSize'],
    ['no exited execs kept', { ...base, maxExitedExecs: 0 }, 'maxExitedExecs'],
    ['a negative exec bound', { ...base, maxExitedExecs: -3 }, 'maxExitedExecs'],
    ['a fractional exec bound', { ...base, maxExitedExecs: 2.5 }, 'maxExitedExecs'],
    ['an exec bound that is not a number', { ...base, maxExitedExecs: '3' }, 'maxExitedExecs'],
    ['an infinite exec bound', { ...base, maxExitedExecs: Number.POSITIVE_INFINITY }, 'maxExitedExecs'],
    ['a naming rule that is not a function', { ...base, vmName: 'x' }, 'vmName'],
    ['a malformed guestId', { ...base, guestId: 'other linux' }, 'guestId'],
  ])('refuses %s with INVALID_ARGUMENT naming the setting', (_label, settings, setting) => {
    const e = refusal(settings)
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect(e.backend).toBe('vsphere')
    expect(e.message).toContain(setting)
    expect(e.message).not.toContain(SECRET)
  })

  it('never echoes the guest password, even in a refused guest object', () => {
    const e = refusal({ ...base, guest: { username: 5, password: SECRET } })
    expect(JSON.stringify(e.toJSON())).not.toContain(SECRET)
  })
})

describe('vmNameFor', () => {
  it('accepts the default and custom names', () => {
    expect(vmNameFor(resolveSettings(base), ID)).toBe(`portlayer-${ID}`)
    expect(vmNameFor(resolveSettings({ ...base, vmName: (id) => `web-${id.slice(0, 8)}` }), ID)).toBe(
      'web-0b7c1e4a',
    )
  })

  it.each([
    ['empty', () => ''],
    ['longer than 80 characters', (id: string) => `${id}${id}${id}`],
    ['with a slash', (id: string) => `a/${id}`],
    ['with a percent sign', (id: string) => `a%${id}`],
    ['not a string', () => 42 as unknown as string],
  ])('refuses a naming rule giving a name %s', (_label, vmName) => {
    const s = resolveSettings({ ...base, vmName })
    expect(() => vmNameFor(s, ID)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', backend: 'vsphere' }),
    )
  })
})

describe('logger', () => {
  const calls = () => {
    const seen: { level: string; message: string }[] = []
    const logger = Object.fromEntries(
      ['debug', 'info', 'warn', 'error'].map((level) => [
        level,
        (message: string) => seen.push({ level, message }),
      ]),
    ) as unknown as import('@portlayer/contracts').Logger
    return { seen, logger }
  }

  it('without onBackgroundError, a background failure goes to logger.warn as one short line without secrets', () => {
    const { seen, logger } = calls()
    const resolved = resolveSettings({ ...base, logger })
    resolved.onBackgroundError(new Error(`disk full while ${SECRET.length} bytes were written`))
    expect(seen).toHaveLength(1)
    expect(seen[0]?.level).toBe('warn')
    expect(seen[0]?.message).toMatch(/^portlayer vsphere: background work failed: \w+: .*disk full/)
    expect(JSON.stringify(seen)).not.toContain(SECRET)
  })

  it('with onBackgroundError, that is where background failures go', () => {
    const { seen, logger } = calls()
    const heard: unknown[] = []
    const resolved = resolveSettings({ ...base, logger, onBackgroundError: (e) => heard.push(e) })
    resolved.onBackgroundError(new Error('x'))
    expect(heard).toHaveLength(1)
    expect(seen).toEqual([])
  })

  it('a logger that throws does not break the work that reported', () => {
    const throwing = {
      debug() {},
      info() {},
      error() {},
      warn: () => {
        throw new Error('boom')
      },
    }
    const resolved = resolveSettings({ ...base, logger: throwing })
    expect(() => resolved.onBackgroundError(new Error('x'))).not.toThrow()
  })

  it.each([
    ['a string', 'console'],
    ['an object without warn', { debug() {}, info() {}, error() {} }],
    ['null', null],
  ])('a logger that is %s is refused with INVALID_ARGUMENT', (_what, logger) => {
    expect(refusal({ ...base, logger })).toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
