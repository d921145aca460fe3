import { encodeChat } from 'gpt-tokenizer/encoding/o200k_base'
import { describe, expect, it } from 'vitest'
import { loadTokenCounter } from './tokens.js'

describe('loadTokenCounter', () => {
  it('counts plain messages exactly as the chat encoding does', async () => {
    const tokens = await loadTokenCounter()
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is a token bucket?', name: 'ada' },
    ]
    expect(tokens.prompt(messages)).toBe(encodeChat(messages, 'gpt-4o').length)
  })

  it('counts special-token text as plain text instead of throwing', async () => {
    const tokens = await loadTokenCounter()
    expect(tokens.text('a <|endoftext|> b')).toBeGreaterThan(3)
    expect(tokens.prompt([{ role: 'user', content: '<|im_end|>' }])).toBeGreaterThan(8)
  })

  it('counts content parts, tool calls and tool definitions by the same per-message rule', async () => {
    const tokens = await loadTokenCounter()
    const plain = tokens.prompt([{ role: 'user', content: 'look at this' }])
    // Same text as one text part: same count.
    expect(tokens.prompt([{ role: 'user', content: [{ type: 'text', text: 'look at this' }] }])).toBe(plain)
    const withImage = tokens.prompt([{ role: 'user', content: [{ type: 'text', text: 'look at this' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }])
    expect(withImage).toBeGreaterThan(plain)
    const toolCall = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"fox"}' } }] }
    expect(tokens.prompt([toolCall])).toBeGreaterThan(tokens.prompt([{ role: 'assistant', content: '' }]))
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }]
    expect(tokens.prompt([{ role: 'user', content: 'look at this' }], tools)).toBeGreaterThan(plain)
  })
})
