import { describe, expect, it } from 'vitest'
import { storeError } from './errors.js'

/** A server error as pg reports it: a message and a SQLSTATE code. */
const serverError = (code: string, message: string): Error => Object.assign(new Error(message), { code })

describe('storeError', () => {
  it.each([
    ['25006', 'cannot execute INSERT in a read-only transaction', 'a database turned read-only (a failover, a full disk guard) is writable again later'],
    ['53100', 'could not extend file: No space left on device', 'a full disk'],
    ['40001', 'could not serialize access', 'a serialization failure'],
    ['57P01', 'terminating connection due to administrator command', 'a server shutting down'],
  ])('SQLSTATE %s is worth trying again: %s (%s)', (code, message) => {
    const err = storeError('pg://x', 'append', serverError(code, message))
    expect(err).toMatchObject({ code: 'TW_STORE', retryable: true, details: { sqlState: code } })
  })

  it('a constraint or syntax error is final', () => {
    expect(storeError('pg://x', 'append', serverError('23505', 'duplicate key')).retryable).toBe(false)
    expect(storeError('pg://x', 'append', serverError('42601', 'syntax error')).retryable).toBe(false)
  })
})
