import { describe, expect, it } from 'vitest'
import { isPromiseLike, whenSettled } from './returned.js'

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

/** Runs `whenSettled` and resolves with which handler it called, and with what, and how often. */
function settle(value: unknown): Promise<{ readonly via: string; readonly with: unknown; readonly calls: number }> {
  return new Promise((resolve) => {
    let calls = 0
    let first: { via: string; with: unknown } | undefined
    const record = (via: string) => (got: unknown): void => {
      calls++
      first ??= { via, with: got }
      // Let a misbehaving thenable call again before reporting.
      setImmediate(() => resolve({ ...first!, calls }))
    }
    whenSettled(value, record('value'), record('error'))
  })
}

describe('whenSettled', () => {
  it('delivers plain values synchronously', () => {
    const seen: unknown[] = []
    for (const value of [undefined, null, 1, 'x', { a: 1 }]) whenSettled(value, (v) => seen.push(v), () => seen.push('error'))
    expect(seen).toEqual([undefined, null, 1, 'x', { a: 1 }])
  })

  it('records a throwing then getter as the error, without throwing', async () => {
    const boom = new Error('then getter')
    const hostile = {
      get then(): never {
        throw boom
      },
    }
    expect(() => whenSettled(hostile, () => {}, () => {})).not.toThrow()
    expect(await settle(hostile)).toEqual({ via: 'error', with: boom, calls: 1 })
  })

  it('records a revoked Proxy as an error, without throwing', async () => {
    const result = await settle(revokedProxy())
    expect(result.via).toBe('error')
    expect(String((result.with as Error).message)).toContain('revoked')
  })

  it('records a Proxy around a promise (refused by the native then) as an error', async () => {
    const result = await settle(new Proxy(Promise.resolve(1), {}))
    expect(result.via).toBe('error')
  })

  it('adopts native promises and foreign thenables like await does', async () => {
    expect(await settle(Promise.resolve(7))).toEqual({ via: 'value', with: 7, calls: 1 })
    expect(await settle(Promise.reject(new Error('no')))).toMatchObject({ via: 'error', calls: 1 })
    const twice = { then: (ok: (v: unknown) => void, fail: (e: unknown) => void) => { ok(1); ok(2); fail(3) } }
    expect(await settle(twice)).toEqual({ via: 'value', with: 1, calls: 1 })
    const throwing = { then: () => { throw new Error('inside then') } }
    expect(await settle(throwing)).toMatchObject({ via: 'error', calls: 1 })
  })

  it('reads then only once', async () => {
    let reads = 0
    const counting = {
      get then() {
        reads++
        return (ok: (v: unknown) => void) => ok('done')
      },
    }
    expect(await settle(counting)).toEqual({ via: 'value', with: 'done', calls: 1 })
    expect(reads).toBe(1)
  })
})

describe('isPromiseLike', () => {
  it('never throws, and is false when then cannot be read', () => {
    expect(isPromiseLike(revokedProxy())).toBe(false)
    expect(isPromiseLike({ get then(): never { throw new Error('x') } })).toBe(false)
    expect(isPromiseLike(Promise.resolve())).toBe(true)
    expect(isPromiseLike({ then() {} })).toBe(true)
    expect(isPromiseLike(undefined)).toBe(false)
  })
})
