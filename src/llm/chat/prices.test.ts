import { describe, expect, it } from 'vitest'
import { DEFAULT_PRICES, costOf, priceOf } from './prices.js'

describe('costOf', () => {
  it('prices input and output tokens per million', () => {
    expect(costOf({ inputTokens: 1_000_000, outputTokens: 1_000_000 }, 'gpt-4o-mini', DEFAULT_PRICES)).toBe(0.75)
    expect(costOf({ inputTokens: 1200, outputTokens: 300 }, 'm', { m: { inputPerMillion: 2, outputPerMillion: 8 } })).toBe(0.0048)
  })

  it('finds a dated model under its undated name', () => {
    expect(costOf({ inputTokens: 1000, outputTokens: 0 }, 'gpt-4o-2024-08-06')).toBe(0.0025)
    expect(priceOf('gpt-4o-mini-2024-07-18', DEFAULT_PRICES)).toBe(DEFAULT_PRICES['gpt-4o-mini'])
  })

  it('is undefined for a model the table does not know, even one whose name starts like a known one', () => {
    expect(costOf({ inputTokens: 10, outputTokens: 10 }, 'llama3.2', DEFAULT_PRICES)).toBeUndefined()
    expect(costOf({ inputTokens: 10, outputTokens: 10 }, 'gpt-4o-audio-preview', DEFAULT_PRICES)).toBeUndefined()
    expect(costOf({ inputTokens: 10, outputTokens: 10 }, 'toString', DEFAULT_PRICES)).toBeUndefined()
  })

  it('hides floating-point noise', () => {
    expect(costOf({ inputTokens: 3, outputTokens: 7 }, 'gpt-4o-mini')).toBe(0.00000465)
  })
})
