/** `llm.chat` run by the engine, as a workflow uses it, against a local OpenAI-compatible server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from '../../src/index.js'
import { createChatTool } from '../../src/llm/chat/index.js'
import { completion, json, startFakeOpenAi, streamAnswer } from './fake-openai.js'

let server: Awaited<ReturnType<typeof startFakeOpenAi>>
beforeAll(async () => {
  server = await startFakeOpenAi()
})
afterAll(async () => {
  await server.close()
})

describe('llm.chat in a workflow', () => {
  it('answers a one-task workflow', async () => {
    server.handle((_req, res) => json(res, 200, completion('Bonjour !')))
    await using engine = createEngine({ tools: [createChatTool({ baseURL: server.baseURL, apiKey: 'sk-test', env: {} })], builtins: false })
    const result = await engine.run({ id: 'greet', tasks: [{ id: 'ask', tool: 'llm.chat', input: { system: 'Answer in French.', prompt: 'Say hello.', stream: false } }] })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['ask']?.output).toMatchObject({ content: 'Bonjour !', model: 'gpt-4o-mini-2024-07-18', usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 }, finishReason: 'stop' })
  })

  it('feeds one answer into the next task, streamed', async () => {
    server.handle((req, res) => {
      const messages = req.body['messages'] as Array<{ content: string }>
      const last = messages.at(-1)?.content ?? ''
      streamAnswer(res, last.startsWith('Translate') ? ['Hello', ' world'] : ['Bonjour', ' le monde'])
    })
    await using engine = createEngine({ tools: [createChatTool({ baseURL: server.baseURL, apiKey: 'sk-test', env: {} })], builtins: false })
    const progress: unknown[] = []
    engine.events.on('task:progress', (event) => progress.push(event.progress))
    const result = await engine.run({
      id: 'translate',
      tasks: [
        { id: 'french', tool: 'llm.chat', input: { prompt: 'Say hello world in French.' } },
        { id: 'back', tool: 'llm.chat', input: { prompt: 'Translate to English: {{ tasks.french.output.content }}' }, dependsOn: ['french'] },
      ],
    })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['back']?.output).toMatchObject({ content: 'Hello world' })
    expect(progress.length).toBeGreaterThan(0)
  })
})
