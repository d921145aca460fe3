import { describe, expect, it } from 'vitest'
import { chatInput } from './input.js'
import { chatRequestBody } from './request.js'

const body = (input: unknown, param: 'max_tokens' | 'max_completion_tokens' = 'max_tokens') => chatRequestBody(chatInput.parse(input), 'm', param)

describe('chatRequestBody', () => {
  it('sends the settings that were given and no others', () => {
    expect(body({ prompt: 'hi' })).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    expect(body({ system: 's', prompt: 'hi', maxTokens: 5, temperature: 0 }, 'max_completion_tokens')).toEqual({
      model: 'm',
      messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
      temperature: 0,
    })
  })

  it('maps response formats', () => {
    expect(body({ prompt: 'x', responseFormat: 'json' }).response_format).toEqual({ type: 'json_object' })
    expect(body({ prompt: 'x', responseFormat: { jsonSchema: { name: 'a', schema: { type: 'object' }, strict: true } } }).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'a', schema: { type: 'object' }, strict: true },
    })
  })

  it('maps messages to the API shape', () => {
    const messages = [
      { role: 'user', name: 'ann', content: [{ type: 'text', text: 't' }, { type: 'image_url', image_url: { url: 'u' } }] },
      { role: 'tool', toolCallId: 'c1', content: '42' },
    ]
    expect(body({ messages }).messages).toEqual([
      { role: 'user', name: 'ann', content: [{ type: 'text', text: 't' }, { type: 'image_url', image_url: { url: 'u' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '42' },
    ])
  })
})
