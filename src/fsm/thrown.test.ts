import { describe, expect, it } from 'vitest'
import { serializeError, TaskweaveError } from '../core/errors.js'
import { isReportable, readThrown, toReportable } from './thrown.js'

function hostile(): Record<string, unknown> {
  const { proxy: revoked, revoke } = Proxy.revocable({}, {})
  revoke()
  const codeGetterThrows = new Error('boom')
  Object.defineProperty(codeGetterThrows, 'code', { get: () => { throw new Error('code getter') } })
  const toStringThrows = { toString: () => { throw new Error('toString') } }
  const trappedError = new Proxy(new Error('trapped'), { get: () => { throw new Error('get trap') } })
  const badCause = new Error('outer', { cause: revoked })
  return { revoked, codeGetterThrows, toStringThrows, trappedError, badCause }
}

describe('readThrown', () => {
  it('reads message, code and retryability of ordinary values', () => {
    expect(readThrown(new TaskweaveError('E_X', 'x failed', { retryable: false }))).toEqual({ message: 'x failed', code: 'E_X', retryable: false })
    expect(readThrown('plain')).toEqual({ message: 'plain', code: undefined, retryable: undefined })
    expect(readThrown(42).message).toBe('42')
    expect(readThrown(null).message).toBe('null')
  })

  it('never throws, and says why a value could not be read', () => {
    const values = hostile()
    for (const value of Object.values(values)) expect(() => readThrown(value)).not.toThrow()
    expect(readThrown(values['revoked']).message).toContain('revoked Proxy')
    expect(readThrown(values['toStringThrows']).message).toContain('unreadable')
    expect(readThrown(values['codeGetterThrows'])).toEqual({ message: 'boom', code: undefined, retryable: undefined })
  })
})

describe('toReportable', () => {
  it('keeps an error that reads cleanly, cause chain included', () => {
    const err = new Error('fine', { cause: new TaskweaveError('E_INNER', 'inner') })
    expect(isReportable(err)).toBe(true)
    expect(toReportable(err, 'E_FALLBACK', 'ctx')).toBe(err)
    expect(toReportable('text', 'E_FALLBACK', 'ctx')).toBe('text')
  })

  it('replaces anything unreadable by a TaskweaveError that the serializer handles', () => {
    for (const [kind, value] of Object.entries(hostile())) {
      expect(isReportable(value), kind).toBe(false)
      const replaced = toReportable(value, 'E_FALLBACK', 'state "s" threw')
      expect(TaskweaveError.is(replaced, 'E_FALLBACK'), kind).toBe(true)
      expect((replaced as Error).message).toMatch(/^state "s" threw: /)
      expect(() => serializeError(replaced)).not.toThrow()
    }
  })
})
