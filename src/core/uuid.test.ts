import { describe, expect, it } from 'vitest'
import { randomId } from './uuid.js'

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('randomId', () => {
  it('gives version 4 UUIDs in the text form of crypto.randomUUID()', () => {
    for (let i = 0; i < 1_000; i++) expect(randomId()).toMatch(V4)
  })

  it('never repeats, across many refills of its random bytes', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 20_000; i++) seen.add(randomId())
    expect(seen.size).toBe(20_000)
  })

  it('spreads every hex digit over the random positions', () => {
    // Each of the 30 random digits of 4,000 ids: every value 0-f appears at every position (a
    // fixed or stuck digit would not), and a byte's two digits are equal about once in 16 (one
    // half of the byte copied into the other would make them always equal).
    const counts = Array.from({ length: 36 }, () => new Map<string, number>())
    let sameHalves = 0
    for (let i = 0; i < 4_000; i++) {
      const id = randomId()
      if (id[0] === id[1]) sameHalves++
      for (let at = 0; at < 36; at++) counts[at]?.set(id[at] as string, (counts[at]?.get(id[at] as string) ?? 0) + 1)
    }
    const fixed = new Set([8, 13, 14, 18, 23]) // dashes and the version digit
    for (let at = 0; at < 36; at++) {
      if (fixed.has(at)) continue
      expect(counts[at]?.size, `position ${at}`).toBe(at === 19 ? 4 : 16)
    }
    expect(sameHalves).toBeLessThan(500) // about 250 expected
  })
})
