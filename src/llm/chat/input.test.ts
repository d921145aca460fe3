import { describe, expect, it } from 'vitest'
import { chatInput, messagesOf } from './input.js'

function problems(input: unknown): string[] {
  const checked = chatInput.safeParse(input)
  if (checked.success) return []
  return checked.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
}

describe('chatInput', () => {
  it('accepts a prompt and applies the defaults', () => {
    expect(chatInput.parse({ prompt: 'hi' })).toEqual({ prompt: 'hi', responseFormat: 'text', stream: true })
  })

  it('accepts a conversation with parts, names and tool messages', () => {
    const input = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', name: 'ann', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] },
        { role: 'assistant', content: 'a cat' },
        { role: 'tool', toolCallId: 'call_1', content: '42' },
      ],
      responseFormat: { jsonSchema: { name: 'answer', schema: { type: 'object' }, strict: true } },
      stream: false,
    }
    expect(problems(input)).toEqual([])
  })

  it.each([
    [{}, 'messages'],
    [{ prompt: 'a', messages: [{ role: 'user', content: 'b' }] }, 'messages'],
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'robot', content: 'x' }] }, 'messages.0.role'],
    [{ messages: [{ role: 'user', content: 3 }] }, 'messages.0.content'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.toolCallId'],
    [{ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages.0.content'],
    [{ prompt: 'x', maxTokens: 0 }, 'maxTokens'],
    [{ prompt: 'x', maxTokens: 1.5 }, 'maxTokens'],
    [{ prompt: 'x', temperature: 3 }, 'temperature'],
    [{ prompt: 'x', model: '' }, 'model'],
    [{ prompt: 'x', responseFormat: 'yaml' }, 'responseFormat'],
    [{ prompt: 'x', responseFormat: { jsonSchema: { name: 'has space', schema: {} } } }, 'responseFormat'],
    [{ prompt: 'x', stream: 'yes' }, 'stream'],
  ])('refuses %j naming %s', (input, field) => {
    const found = problems(input)
    expect(found.length).toBeGreaterThan(0)
    expect(found.some((p) => p.startsWith(`${field}`))).toBe(true)
  })
})

describe('messagesOf', () => {
  it('puts the system message first and turns a prompt into a user message', () => {
    expect(messagesOf({ system: 's', prompt: 'p' })).toEqual([{ role: 'system', content: 's' }, { role: 'user', content: 'p' }])
    expect(messagesOf({ system: 's', messages: [{ role: 'user', content: 'u' }] })).toEqual([{ role: 'system', content: 's' }, { role: 'user', content: 'u' }])
  })
})
