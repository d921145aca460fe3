import { describe, expect, it } from 'vitest'
import { AS_IS, FORBIDDEN_NAME, MAX_STATIC_UNITS, NOT_AS_IS, parametersKind, staticCopy } from './static-input.js'

describe('staticCopy', () => {
  it('deep-copies plain JSON data and marks it exact', () => {
    const parameters = { s: 'x', n: 1.5, b: false, z: null, list: [1, { k: 'v' }], nothing: Object.create(null) as object }
    const copy = staticCopy(parameters)
    expect(copy).toEqual({ value: parameters, exact: true })
    expect(copy?.value['list']).not.toBe(parameters.list)
  })

  it('leaves out undefined object values as JSON would, and marks the copy not exact', () => {
    expect(staticCopy({ a: 1, b: undefined })).toEqual({ value: { a: 1 }, exact: false })
  })

  it('refuses what JSON would change or a template would read', () => {
    for (const parameters of [{ d: new Date(0) }, { n: Number.NaN }, { a: [undefined] }, { t: 'a {{ b }}' }, { ['{{k']: 1 }, { f: () => 1 }, { big: 1n }, JSON.parse('{"x": {"__proto__": 1}}') as object, { toJSON: () => 1 }]) {
      expect(staticCopy(parameters)).toBeUndefined()
    }
  })

  it('refuses text past the size bound and nesting past the depth bound', () => {
    expect(staticCopy({ s: 'x'.repeat(MAX_STATIC_UNITS + 1) })).toBeUndefined()
    let deep: object = {}
    for (let i = 0; i < 100; i++) deep = { deep }
    expect(staticCopy(deep)).toBeUndefined()
  })
})

describe('parametersKind', () => {
  it('takes a plain object of plain values as it is', () => {
    for (const parameters of [{}, { s: 'x', n: 1.5, b: false, z: null }, Object.assign(Object.create(null) as object, { k: 'v' })]) expect(parametersKind(parameters)).toBe(AS_IS)
  })

  it('leaves to the copy anything nested, undefined, templated, not JSON, or too long', () => {
    for (const parameters of [{ o: {} }, { a: [] }, { u: undefined }, { t: 'a {{ b }}' }, { ['{{k']: 1 }, { n: Number.NaN }, { d: new Date(0) }, { f: () => 1 }, { big: 1n }, { toJSON: () => 1 }, new (class K {})(), { s: 'x'.repeat(MAX_STATIC_UNITS + 1) }]) {
      expect(parametersKind(parameters)).toBe(NOT_AS_IS)
    }
  })

  it('refuses a name no template path can hold, wherever it stands', () => {
    for (const parameters of [JSON.parse('{"__proto__": 1}') as object, { a: { nested: true }, constructor: 1 }, { 'a}}b': 1 }, { ok: 1, prototype: 'x' }]) {
      expect(parametersKind(parameters)).toBe(FORBIDDEN_NAME)
    }
  })

  it('refuses own names only, and leaves parameters that inherit an enumerable key to the copy', () => {
    expect(parametersKind(Object.create({ constructor: 1 }) as object)).toBe(NOT_AS_IS)
    Object.defineProperty(Object.prototype, 'polluted', { value: { nested: true }, enumerable: true, configurable: true, writable: true })
    try {
      expect(parametersKind({ a: 1 })).toBe(NOT_AS_IS)
      expect(staticCopy({ a: 1 })).toEqual({ value: { a: 1 }, exact: true })
    } finally {
      delete (Object.prototype as Record<string, unknown>)['polluted']
    }
    expect(parametersKind({ a: 1 })).toBe(AS_IS)
  })
})
