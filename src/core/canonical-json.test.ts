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
