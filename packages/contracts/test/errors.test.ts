import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import {
  ConcurrentModificationError,
  createError,
  ErrorCode,
  InvalidArgumentError,
  isErrorCode,
  NotFoundError,
  PortLayerError,
} from '../src/index.js'

describe('PortLayerError', () => {
  it('carries code, cause, backend, target and detail', () => {
    const cause = new Error('soap fault')
    const e = new ConcurrentModificationError('container c1 changed', {
      cause,
      backend: 'vsphere',
      target: 'c1',
      detail: { fault: 'ConcurrentAccess' },
    })
    expect(e).toBeInstanceOf(PortLayerError)
    expect(e).toBeInstanceOf(Error)
    expect(e.code).toBe('CONFLICT')
    expect(e.name).toBe('ConcurrentModificationError')
    expect(e.cause).toBe(cause)
    expect(e.detail).toEqual({ fault: 'ConcurrentAccess' })
    expect(e.toJSON()).toMatchObject({ code: 'CONFLICT', backend: 'vsphere', target: 'c1' })
    expect(JSON.stringify(e.toJSON())).not.toContain('soap fault')
  })

  it('messages name the backend once', () => {
    expect(new NotFoundError('container c1 not found', { backend: 'vsphere' }).message).toBe(
      'vsphere: container c1 not found',
    )
    expect(new NotFoundError('container c1 not found on vsphere', { backend: 'vsphere' }).message).toBe(
      'container c1 not found on vsphere',
    )
    expect(new NotFoundError('vSphere fault on c1', { backend: 'vsphere' }).message).toBe(
      'vSphere fault on c1',
    )
    expect(new NotFoundError('container c1 not found').message).toBe('container c1 not found')
  })

  it('isInstance filters by code and rejects look-alikes', () => {
    const e = new NotFoundError('no container x')
    expect(PortLayerError.isInstance(e)).toBe(true)
    expect(PortLayerError.isInstance(e, ErrorCode.NotFound)).toBe(true)
    expect(PortLayerError.isInstance(e, ErrorCode.Conflict)).toBe(false)
    expect(PortLayerError.isInstance({ code: 'NOT_FOUND', message: 'x' })).toBe(false)
    expect(PortLayerError.isInstance(new Error('x'))).toBe(false)
    expect(PortLayerError.isInstance(null)).toBe(false)
  })

  it('isInstance recognises errors from another copy of the package (the CJS build)', () => {
    const require = createRequire(import.meta.url)
    const other = require('../dist/index.cjs') as typeof import('../src/index.js')
    expect(other.PortLayerError).not.toBe(PortLayerError)
    const foreign = new other.InvalidArgumentError('bad perms')
    expect(foreign).not.toBeInstanceOf(PortLayerError)
    expect(PortLayerError.isInstance(foreign, 'INVALID_ARGUMENT')).toBe(true)
    expect(other.PortLayerError.isInstance(new InvalidArgumentError('x'))).toBe(true)
  })

  it('createError builds the subclass of each code', () => {
    for (const code of Object.values(ErrorCode)) {
      const e = createError(code, `m ${code}`)
      expect(e.code).toBe(code)
      expect(e.constructor).not.toBe(PortLayerError)
      expect(isErrorCode(code)).toBe(true)
    }
    expect(createError('INVALID_ARGUMENT', 'x')).toBeInstanceOf(InvalidArgumentError)
    expect(isErrorCode('NOPE')).toBe(false)
  })
})
