import { describe, expect, it } from 'vitest'
import { isCredentialFault, LoginBackoff } from '../src/login-backoff.js'

describe('LoginBackoff', () => {
  it('holds logins back for the period on the monotonic clock, then lets one through', () => {
    let now = 1_000
    const backoff = new LoginBackoff(60_000, () => now)
    expect(backoff.check('CurrentTime')).toBeUndefined()
    const first = backoff.refuse('InvalidLogin', new Error('refused'))
    expect(first.code).toBe('UNAVAILABLE')
    expect(first.detail).toMatchObject({
      fault: 'NotAuthenticated',
      loginFault: 'InvalidLogin',
      retryInMs: 60_000,
    })
    expect(first.message).toMatch(/\(in 60 s\)$/)
    now += 59_500
    const held = backoff.check('CurrentTime')
    expect(held?.message).toMatch(
      /^vSphere CurrentTime not sent: the credentials were refused \(InvalidLogin\)/,
    )
    expect(held?.message).toMatch(/\(in 500 ms\)$/)
    expect(held?.detail).toMatchObject({ retryInMs: 500, retryAt: first.detail?.retryAt })
    now += 500
    expect(backoff.check('CurrentTime')).toBeUndefined()
    // Still refused until a login succeeds: the keepalive keeps out of it.
    expect(backoff.refused).toBe(true)
    backoff.clear()
    expect(backoff.refused).toBe(false)
  })

  it('with a period of 0 never holds a login back', () => {
    const backoff = new LoginBackoff(0, () => 5)
    backoff.refuse('InvalidLogin', undefined)
    expect(backoff.check('CurrentTime')).toBeUndefined()
  })

  it('treats InvalidLogin and its subtypes as refused credentials, nothing else', () => {
    expect(isCredentialFault('InvalidLogin')).toBe(true)
    expect(isCredentialFault('PasswordExpired')).toBe(true)
    expect(isCredentialFault('NotAuthenticated')).toBe(false)
    expect(isCredentialFault('InvalidLocale')).toBe(false)
    expect(isCredentialFault(undefined)).toBe(false)
  })
})
