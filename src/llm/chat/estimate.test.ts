import { describe, expect, it } from 'vitest'
import { DEFAULT_EXPECTED_OUTPUT_TOKENS, IMAGE_TOKENS, LOW_DETAIL_IMAGE_TOKENS, conservativePromptTokens, countTextTokens, estimateCallTokens, isTokenizerReady, preloadTokenizer } from './estimate.js'
import type { ChatMessageInput } from './input.js'

// Tests run in file order: the first one sees the tokenizer not yet loaded.
describe('before the tokenizer has loaded', () => {
  it('estimates conservatively: at least the exact count', async () => {
    expect(isTokenizerReady()).toBe(false)
    const texts = ['hello world', 'The quick brown fox jumps over the lazy dog.', '日本語のテキストです。', 'const x = { a: [1, 2, 3] }; // code']
    const before = texts.map((prompt) => estimateCallTokens({ prompt, maxTokens: 10 }))
    await preloadTokenizer()
    const exact = texts.map((prompt) => estimateCallTokens({ prompt, maxTokens: 10 }))
    for (const [i, n] of before.entries()) expect(n).toBeGreaterThanOrEqual(exact[i]!)
  })
})

describe('with the tokenizer', () => {
  it('counts a known prompt exactly and adds maxTokens', async () => {
    await preloadTokenizer()
    expect(isTokenizerReady()).toBe(true)
    // 'hello world' is 2 tokens; the chat framing of one message and the reply primer make 9.
    expect(estimateCallTokens({ prompt: 'hello world', maxTokens: 100 })).toBe(109)
    expect(estimateCallTokens({ system: 'You are terse.', prompt: 'hello world', maxTokens: 1 })).toBe(18)
    expect(countTextTokens('The quick brown fox jumps over the lazy dog.')).toBe(10)
  })

  it('adds the expected answer length when the input sets no maxTokens', async () => {
    await preloadTokenizer()
    expect(estimateCallTokens({ prompt: 'hello world' })).toBe(9 + DEFAULT_EXPECTED_OUTPUT_TOKENS)
    expect(estimateCallTokens({ prompt: 'hello world' }, 50)).toBe(59)
  })

  it('counts the text of multi-part contents, plus a fixed amount per image', async () => {
    await preloadTokenizer()
    const plain: ChatMessageInput[] = [{ role: 'user', content: 'hello world' }]
    const parts: ChatMessageInput[] = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hello world' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          { type: 'image_url', image_url: { url: 'https://example.com/b.png', detail: 'low' } },
        ],
      },
    ]
    expect(estimateCallTokens({ messages: parts, maxTokens: 1 })).toBe(estimateCallTokens({ messages: plain, maxTokens: 1 }) + IMAGE_TOKENS + LOW_DETAIL_IMAGE_TOKENS)
  })

  it('counts special-token text typed by a user as plain text', async () => {
    await preloadTokenizer()
    expect(estimateCallTokens({ prompt: 'a <|endoftext|> b', maxTokens: 1 })).toBeGreaterThan(5)
  })
})

describe('conservativePromptTokens', () => {
  it('is half a token per byte plus framing', () => {
    expect(conservativePromptTokens([{ role: 'user', content: 'abcd' }])).toBe(3 + 4 + 2)
  })
})
