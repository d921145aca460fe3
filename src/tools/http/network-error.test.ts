import { describe, expect, it } from 'vitest'
import { describeNetworkFailure } from './network-error.js'

const wrapped = (cause: unknown): TypeError => new TypeError('fetch failed', { cause })
const systemError = (message: string, code: string): Error => Object.assign(new Error(message), { code })

describe('describeNetworkFailure', () => {
  it("finds the system error under undici's wrapper, with its code", () => {
    const refused = systemError('connect ECONNREFUSED 127.0.0.1:8080', 'ECONNREFUSED')
    expect(describeNetworkFailure(wrapped(refused))).toEqual({ cause: refused, code: 'ECONNREFUSED', description: 'connect ECONNREFUSED 127.0.0.1:8080', retryable: true })
  })

  it('lists every address of an AggregateError, whose own message is empty', () => {
    const both = Object.assign(new AggregateError([systemError('connect ECONNREFUSED ::1:80', 'ECONNREFUSED'), systemError('connect ECONNREFUSED 127.0.0.1:80', 'ECONNREFUSED')], ''), { code: 'ECONNREFUSED' })
    expect(describeNetworkFailure(wrapped(both))).toMatchObject({ cause: both, code: 'ECONNREFUSED', description: 'connect ECONNREFUSED ::1:80; connect ECONNREFUSED 127.0.0.1:80' })
  })

  it('makes TLS and certificate failures non-retryable, naming the code when the message does not', () => {
    const tls = systemError('error:0A00010B:SSL routines::wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER')
    expect(describeNetworkFailure(wrapped(tls))).toMatchObject({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', retryable: false, description: 'error:0A00010B:SSL routines::wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)' })
    expect(describeNetworkFailure(wrapped(systemError('certificate has expired', 'CERT_HAS_EXPIRED')))).toMatchObject({ retryable: false })
  })

  it('falls back to the innermost message when no error in the chain has a code', () => {
    const badPort = new Error('bad port')
    expect(describeNetworkFailure(wrapped(badPort))).toEqual({ cause: badPort, code: undefined, description: 'bad port', retryable: true })
  })
})
