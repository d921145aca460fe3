import { describe, expect, it } from 'vitest'
import { REDACTED, redact, sanitizedError } from './redact.js'

const key = 'sk-proj-abcdef1234567890XYZ'

describe('redact', () => {
  it('replaces every occurrence of the secret', () => {
    expect(redact(`Bearer ${key} and again ${key}.`, key)).toBe(`Bearer ${REDACTED} and again ${REDACTED}.`)
  })

  it('replaces masked forms of the secret that providers quote', () => {
    expect(redact('Incorrect API key provided: sk-proj-ab****************0XYZ. You can find your key…', key)).toBe(`Incorrect API key provided: ${REDACTED}. You can find your key…`)
    expect(redact(`key "${key.slice(0, 6)}***${key.slice(-3)}"`, key)).toBe(`key "${REDACTED}"`)
  })

  it('leaves masks of other keys and ordinary asterisks alone', () => {
    expect(redact('sk-other****wxyz', key)).toBe('sk-other****wxyz')
    expect(redact('a *** b and **bold**', key)).toBe('a *** b and **bold**')
  })

  it('leaves the text as it is without a secret', () => {
    expect(redact(`x ${key}`, undefined)).toBe(`x ${key}`)
    expect(redact('x', '')).toBe('x')
  })
})

describe('sanitizedError', () => {
  it('copies name, message, code, stack and causes, redacted, and nothing else', () => {
    const inner = Object.assign(new Error(`connect failed for ${key}`), { code: 'ECONNRESET' })
    const outer = Object.assign(new Error(`401 bad key ${key}`, { cause: inner }), { name: 'AuthenticationError', headers: { authorization: `Bearer ${key}` }, error: { key } })
    const copy = sanitizedError(outer, key)
    expect(copy.name).toBe('AuthenticationError')
    expect(copy.message).toBe(`401 bad key ${REDACTED}`)
    expect(copy.stack).not.toContain(key)
    expect((copy.cause as Error & { code?: string }).code).toBe('ECONNRESET')
    expect(JSON.stringify({ ...copy, stack: copy.stack, message: copy.message, cause: String(copy.cause) })).not.toContain(key)
    expect(Object.keys(copy)).not.toContain('headers')
  })

  it('describes values that are not errors', () => {
    expect(sanitizedError(`plain ${key}`, key).message).toBe(`plain ${REDACTED}`)
    expect(sanitizedError(null, key).message).toBe('null')
  })
})
