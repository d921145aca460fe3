import { describe, expect, it } from 'vitest'
import { firstInexactInteger } from './exact-integers.js'

describe('firstInexactInteger', () => {
  it('finds integer literals a number would round, in numbers and JSON', () => {
    expect(firstInexactInteger('9007199254740993')).toBe('9007199254740993')
    expect(firstInexactInteger('-9007199254740993')).toBe('-9007199254740993')
    expect(firstInexactInteger('{"a": [1, 12345678901234567890]}')).toBe('12345678901234567890')
  })

  it('leaves safe integers, fractions, exponents and strings alone', () => {
    for (const text of ['9007199254740991', '-9007199254740991', '0.12345678901234567890', '1.5e12345678901234567', '1e-12345678901234567', '{"id": "12345678901234567890"}', '"a\\"12345678901234567890"']) {
      expect(firstInexactInteger(text), text).toBeUndefined()
    }
  })
})
