import { describe, expect, it } from 'vitest'
import { privateStaticInput } from './plain-data.js'

describe('privateStaticInput', () => {
  it('gives each attempt its own copy of a flat input', () => {
    const shared = Object.freeze({ n: 1, url: 'https://example.com', on: true, none: null, gone: undefined })
    const copy = privateStaticInput(shared) as Record<string, unknown>
    expect(copy).toEqual(shared)
    expect(copy).not.toBe(shared)
    expect(Object.isFrozen(copy)).toBe(false)
    copy['n'] = 2
    expect(shared.n).toBe(1)
    expect(Object.hasOwn(copy, 'gone')).toBe(true)
  })

  it('copies nested inputs deeply', () => {
    const shared = { list: [1, { a: 'x' }], inner: { deep: { n: 1 } } }
    const copy = privateStaticInput(shared) as typeof shared
    expect(copy).toEqual(shared)
    copy.inner.deep.n = 2
    ;(copy.list[1] as { a: string }).a = 'y'
    expect(shared.inner.deep.n).toBe(1)
    expect((shared.list[1] as { a: string }).a).toBe('x')
  })

  it('keeps an own "__proto__" key a key, not a prototype', () => {
    const shared = JSON.parse('{"__proto__": 1, "n": 2}') as Record<string, unknown>
    const copy = privateStaticInput(shared) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.hasOwn(copy, '__proto__')).toBe(true)
    expect(copy['n']).toBe(2)
  })

  it('shares one frozen empty input and passes primitives through', () => {
    const empty = {}
    expect(privateStaticInput(empty)).toBe(empty)
    expect(Object.isFrozen(empty)).toBe(true)
    expect(privateStaticInput('text')).toBe('text')
  })
})
