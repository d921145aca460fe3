import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.js'

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 'x' }, 3], e: null })).toBe('{"a":[{"c":"x","d":2},3],"b":1,"e":null}')
  })

  it('gives one text for the same data written in a different key order', () => {
    expect(canonicalJson(JSON.parse('{"id":"w","tasks":[{"tool":"t","id":"a"}]}'))).toBe(canonicalJson({ tasks: [{ id: 'a', tool: 't' }], id: 'w' }))
  })

  it('writes deeply nested data without overflowing the stack', () => {
    let deep: unknown = 1
    for (let k = 0; k < 20_000; k++) deep = [deep]
    expect(canonicalJson(deep).length).toBe(40_001)
  })
})

describe('canonicalJson, recursive and iterative writers', () => {
  it('give the same text around the recursion limit', () => {
    for (const depth of [399, 400, 401, 402, 1_000]) {
      let deep: unknown = { b: [1, { z: 'x', a: null }], a: 'é"\n' }
      for (let k = 0; k < depth; k++) deep = k % 2 === 0 ? [deep, { y: k, x: undefined }] : { k: deep, a: k }
      const text = canonicalJson(deep)
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(deep)))
      expect(text).not.toContain(' ')
    }
  })

  it('drops undefined fields and writes undefined array items as null, like JSON', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}')
  })
})
