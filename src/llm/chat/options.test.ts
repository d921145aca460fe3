import { describe, expect, it } from 'vitest'
import { resolveChatToolOptions } from './options.js'
import { DEFAULT_PRICES } from './prices.js'

describe('resolveChatToolOptions', () => {
  it('applies the defaults', () => {
    const o = resolveChatToolOptions({ env: {} })
    expect(o).toMatchObject({ name: 'llm.chat', prices: DEFAULT_PRICES, expectedOutputTokens: 256, progressIntervalMs: 100, maxTokensParam: 'max_completion_tokens', preloadTokenizer: true })
  })

  it("sends max_tokens to servers other than OpenAI's", () => {
    expect(resolveChatToolOptions({ env: {}, baseURL: 'http://localhost:11434/v1' }).maxTokensParam).toBe('max_tokens')
    expect(resolveChatToolOptions({ env: {}, baseURL: 'http://localhost:11434/v1', maxTokensParam: 'max_completion_tokens' }).maxTokensParam).toBe('max_completion_tokens')
  })

  it.each([
    [{ name: '9bad' }, 'llm.name'],
    [{ prices: { m: { inputPerMillion: -1, outputPerMillion: 1 } } }, 'llm.prices["m"].inputPerMillion'],
    [{ prices: [] }, 'llm.prices'],
    [{ expectedOutputTokens: -1 }, 'llm.expectedOutputTokens'],
    [{ progressIntervalMs: 1.5 }, 'llm.progressIntervalMs'],
    [{ maxTokensParam: 'tokens' }, 'llm.maxTokensParam'],
    [{ preloadTokenizer: 'yes' }, 'llm.preloadTokenizer'],
  ])('refuses %j naming %s', (options, option) => {
    expect(() => resolveChatToolOptions({ env: {}, ...(options as object) })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', details: expect.objectContaining({ option }) }))
  })
})
