import { describe, expect, it } from 'vitest'
import { CancelledError, errorCode, InvalidOptionError, isRetryable, MAX_CAUSE_DEPTH, serializeError, TaskweaveError, TerminalError } from './errors.js'
import type { SerializedError } from './errors.js'
import { MAX_MESSAGE_CHARS, MAX_STACK_CHARS } from './thrown.js'

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

function throwingGetter(key: string): Error {
  const err = new Error('boom')
  Object.defineProperty(err, key, {
    get() {
      throw new Error(`${key} getter`)
    },
  })
  return err
}

/** Every hostile value of the hardening pass, with the reason its message must give. */
const hostile: readonly (readonly [string, () => unknown, RegExp])[] = [
  ['a revoked Proxy', revokedProxy, /cannot be described \(revoked Proxy\)/],
  ['an object whose toString throws', () => ({ toString() { throw new Error('no') } }), /cannot be described \(its toString threw\)/],
  ['an object whose Symbol.toPrimitive throws', () => ({ [Symbol.toPrimitive]() { throw new Error('no') } }), /cannot be described \(its Symbol.toPrimitive threw\)/],
  ['an Error whose message getter throws', () => throwingGetter('message'), /cannot be described \(its message getter threw\)/],
  ['a Proxy whose every trap throws', () => new Proxy({}, { get() { throw new Error('trap') }, getPrototypeOf() { throw new Error('trap') } }), /cannot be described/],
]

describe('serializeError', () => {
  it.each(hostile)('never throws for %s, and says why it cannot describe it', (_name, make, reason) => {
    const serialized = serializeError(make())
    expect(serialized.code).toBe('TW_TOOL_FAILED')
    expect(serialized.message).toMatch(reason)
    expect(() => JSON.stringify(serialized)).not.toThrow()
  })

  it('keeps the message of an Error whose code getter throws, with the default code', () => {
    const serialized = serializeError(throwingGetter('code'))
    expect(serialized).toMatchObject({ name: 'Error', code: 'TW_TOOL_FAILED', message: 'boom', retryable: true })
  })

  it('survives throwing name, stack, cause and retryable getters', () => {
    const err = new Error('boom')
    for (const key of ['stack', 'name', 'cause', 'retryable']) {
      Object.defineProperty(err, key, {
        get() {
          throw new Error(`${key} getter`)
        },
      })
    }
    expect(serializeError(err)).toEqual({ name: 'Error', code: 'TW_TOOL_FAILED', message: 'boom', retryable: true })
  })

  it('ends a cause cycle at the first repeat', () => {
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    ;(a as { cause?: unknown }).cause = b
    const serialized = serializeError(a)
    expect(serialized.cause?.message).toBe('b')
    expect(serialized.cause?.cause).toBeUndefined()
  })

  it(`cuts a cause chain at ${MAX_CAUSE_DEPTH} levels`, () => {
    let err = new Error('root')
    for (let i = 0; i < 100; i++) err = new Error(`level ${i}`, { cause: err })
    let depth = 0
    for (let s: SerializedError | undefined = serializeError(err); s?.cause !== undefined; s = s.cause) depth++
    expect(depth).toBe(MAX_CAUSE_DEPTH)
  })

  it('caps a 10 MB message and its stack, and says how much was cut', () => {
    const serialized = serializeError(new Error('x'.repeat(10 * 1024 * 1024)))
    expect(serialized.message.length).toBeLessThan(MAX_MESSAGE_CHARS + 100)
    expect(serialized.message).toMatch(/… \(\d+ more characters\)$/)
    expect(serialized.stack!.length).toBeLessThan(MAX_STACK_CHARS + 100)
  })

  it('never cuts inside a surrogate pair', () => {
    const message = `${'a'.repeat(MAX_MESSAGE_CHARS - 1)}😀tail`
    const cut = serializeError(new Error(message)).message
    expect(cut.startsWith('a'.repeat(MAX_MESSAGE_CHARS - 1) + '…')).toBe(true)
  })

  it('describes thrown primitives and plain objects', () => {
    expect(serializeError('plain text').message).toBe('plain text')
    expect(serializeError(42).message).toBe('42')
    expect(serializeError(Symbol('s')).message).toBe('Symbol(s)')
    expect(serializeError(undefined).message).toBe('undefined')
    expect(serializeError({ message: 'shaped like an error' }).message).toBe('shaped like an error')
    expect(serializeError({ a: 1 }).message).toBe('threw a value that is not an Error (object Object)')
  })

  it('keeps code, details, retryable flag and cause of taskweave errors', () => {
    const err = new TerminalError('bad input', { type: 'BadInput', cause: new CancelledError() })
    expect(serializeError(err)).toMatchObject({
      name: 'TerminalError', code: 'TW_TERMINAL', message: 'bad input', retryable: false,
      details: { type: 'BadInput' }, cause: { code: 'TW_CANCELLED' },
    })
  })
})

describe('errorCode and isRetryable', () => {
  it.each(hostile)('never throw for %s', (_name, make) => {
    const value = make()
    expect(errorCode(value)).toBe('TW_TOOL_FAILED')
    expect(isRetryable(value)).toBe(true)
    expect(TaskweaveError.is(value)).toBe(false)
  })

  it('treat throwing code and retryable getters as absent', () => {
    expect(errorCode(throwingGetter('code'))).toBe('TW_TOOL_FAILED')
    expect(isRetryable(throwingGetter('retryable'))).toBe(true)
  })

  it('read codes and the retryable flag of ordinary errors', () => {
    expect(errorCode(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('ECONNRESET')
    expect(isRetryable(new CancelledError())).toBe(false)
    expect(isRetryable({ retryable: false })).toBe(false)
    expect(TaskweaveError.is(new CancelledError(), 'TW_CANCELLED')).toBe(true)
  })
})

describe('InvalidOptionError', () => {
  it('describes a revoked Proxy without throwing', () => {
    expect(new InvalidOptionError('run', 'a function', revokedProxy()).message).toContain('a revoked Proxy')
  })
})
