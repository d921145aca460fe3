/** `llm.chat` against a real local HTTP server speaking the Chat Completions protocol, called with a hand-made context. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Clock } from '../../src/core/clock.js'
import { TaskweaveError, serializeError } from '../../src/core/errors.js'
import { retryAfterHintMs } from '../../src/scheduler/retry.js'
import { silentLogger } from '../../src/core/logger.js'
import type { LlmUsage, ProviderLimits } from '../../src/core/rate.js'
import type { ToolContext, ToolProgress } from '../../src/core/tool.js'
import { chatInput, createChatTool, type ChatOutput, type ChatProgressData, type ChatToolOptions } from '../../src/llm/chat/index.js'
import { RATE_HEADERS, chunk, completion, json, startFakeOpenAi, startSse, streamAnswer } from './fake-openai.js'

const SECRET = 'sk-secret-123'

let server: Awaited<ReturnType<typeof startFakeOpenAi>>
beforeAll(async () => {
  server = await startFakeOpenAi()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  server.requests.length = 0
})

/** A context recording what the tool reports; its clock stands still unless moved. */
function context(signal: AbortSignal = new AbortController().signal, tickMs = 0) {
  const usage: LlmUsage[] = []
  const limits: ProviderLimits[] = []
  const progress: ToolProgress[] = []
  let now = 0
  const clock: Clock = { now: () => (now += tickMs), wallNow: () => Date.now(), setTimer: () => () => undefined }
  const ctx: ToolContext = {
    signal,
    runId: 'r',
    taskId: 't',
    attempt: 1,
    idempotencyKey: 'r/t',
    logger: silentLogger,
    clock,
    progress: (p) => progress.push(p),
    addTask() {},
    reportUsage: (u) => usage.push(u),
    reportLimits: (l) => limits.push(l),
  }
  return {
    ctx,
    usage,
    limits,
    progress,
  }
}

function tool(options: ChatToolOptions = {}) {
  return createChatTool({ baseURL: server.baseURL, apiKey: SECRET, env: {}, ...options })
}

/** Runs the tool on a raw input, validated as the engine would. */
async function call(input: unknown, ctx: ToolContext, options: ChatToolOptions = {}): Promise<ChatOutput> {
  return tool(options).run(chatInput.parse(input), ctx)
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected the call to fail')
}

/** Every way an error can be shown: message, string, stack, JSON, and the same for each cause. */
function everyRendering(err: unknown): string {
  const parts: string[] = [JSON.stringify(serializeError(err)), String(err)]
  for (let e: unknown = err; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    parts.push(String((e as Error).message), String((e as Error).stack), JSON.stringify(e))
    if (TaskweaveError.is(e)) parts.push(JSON.stringify(e.details))
  }
  return parts.join('\n')
}

describe('llm.chat without streaming', () => {
  it('returns the answer with usage and cost, and reports both and the provider limits', async () => {
    server.handle((_req, res) => json(res, 200, completion('Paris.'), RATE_HEADERS))
    const c = context()
    const out = await call({ system: 'Be brief.', prompt: 'Capital of France?', maxTokens: 20, stream: false }, c.ctx)

    expect(out).toEqual({
      content: 'Paris.',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
      costUsd: 0.0000048,
      finishReason: 'stop',
    })
    expect(c.usage).toEqual([{ inputTokens: 12, outputTokens: 5, costUsd: 0.0000048, model: 'gpt-4o-mini-2024-07-18' }])
    expect(c.limits).toEqual([{ limitRequests: 500, remainingRequests: 499, resetRequestsMs: 120, limitTokens: 200_000, remainingTokens: 199_000, resetTokensMs: 360_000 }])
    expect(c.progress).toEqual([])

    const [seen] = server.requests
    expect(seen?.headers.authorization).toBe(`Bearer ${SECRET}`)
    expect(seen?.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Capital of France?' }],
      max_tokens: 20,
    })
  })

  it('uses the model of the input, and estimates usage the provider did not report', async () => {
    server.handle((_req, res) => json(res, 200, completion('four', { model: 'llama3.2', usage: null })))
    const c = context()
    const out = await call({ prompt: 'two plus two?', model: 'llama3.2', stream: false }, c.ctx)
    expect(server.requests[0]?.body['model']).toBe('llama3.2')
    expect(out.model).toBe('llama3.2')
    expect(out.costUsd).toBeUndefined()
    expect(out.usage.inputTokens).toBeGreaterThan(0)
    expect(out.usage.outputTokens).toBeGreaterThan(0)
    expect(c.usage).toEqual([{ inputTokens: out.usage.inputTokens, outputTokens: out.usage.outputTokens, costUsd: undefined, model: 'llama3.2' }])
    expect(c.limits).toEqual([])
  })
})

describe('llm.chat streaming', () => {
  it('streams progress throttled, deltas adding up to the answer, and reports the final usage', async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => `w${i} `)
    server.handle((_req, res) => streamAnswer(res, pieces, { headers: RATE_HEADERS }))
    const c = context()
    const out = await call({ prompt: 'count', maxTokens: 80 }, c.ctx)

    expect(out.content).toBe(pieces.join(''))
    expect(out.usage).toEqual({ inputTokens: 20, outputTokens: 40, totalTokens: 60 })
    expect(out.finishReason).toBe('stop')
    expect(c.usage).toEqual([{ inputTokens: 20, outputTokens: 40, costUsd: out.costUsd, model: 'gpt-4o-mini-2024-07-18' }])
    expect(c.limits).toHaveLength(1)
    // The clock stands still: the first chunk at once, everything else in the final event.
    expect(c.progress).toHaveLength(2)
    const data = c.progress.map((p) => p.data as ChatProgressData)
    expect(data.map((d) => d.delta ?? '').join('')).toBe(out.content)
    expect(data.at(-1)).toMatchObject({ tokens: 40, done: true })
    expect(c.progress[0]?.fraction).toBe(1 / 80)
    expect(c.progress.at(-1)?.fraction).toBe(1)
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } })
  })

  it('sends an event per interval while the answer arrives', async () => {
    server.handle((_req, res) => streamAnswer(res, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']))
    // Each reading of the clock moves it 60 ms: with the 100 ms interval, every second chunk is sent.
    const c = context(undefined, 60)
    const out = await call({ prompt: 'count' }, c.ctx)
    expect(out.content).toBe('0123456789')
    expect(c.progress.map((p) => (p.data as ChatProgressData).delta)).toEqual(['0', '12', '34', '56', '78', '9'])
    expect(c.progress.map((p) => (p.data as ChatProgressData).tokens)).toEqual([1, 3, 5, 7, 9, 10])
  })

  it('fails retryably when the stream ends without a finish', async () => {
    server.handle((_req, res) => {
      const send = startSse(res)
      send(chunk({ content: 'half an ans' }))
      res.end()
    })
    const err = await failure(call({ prompt: 'x' }, context().ctx))
    expect(err).toMatchObject({ code: 'TW_LLM', retryable: true })
  })
})

describe('llm.chat errors', () => {
  it('turns a 429 into RateLimitedError with the wait, after reporting the limits; the client does not retry', async () => {
    server.handle((_req, res) =>
      json(res, 429, { error: { message: 'Rate limit reached for gpt-4o-mini on requests per min (RPM)', type: 'requests', code: 'rate_limit_exceeded' } }, {
        ...RATE_HEADERS,
        'x-ratelimit-remaining-requests': '0',
        'retry-after-ms': '1500',
        'retry-after': '2',
      }),
    )
    for (const stream of [false, true]) {
      server.requests.length = 0
      const c = context()
      const err = await failure(call({ prompt: 'x', stream }, c.ctx))
      expect(err).toMatchObject({ code: 'TW_RATE_LIMITED', name: 'RateLimitedError', retryable: true, details: { status: 429, provider: '127.0.0.1:' + new URL(server.baseURL).port, model: 'gpt-4o-mini' } })
      expect(retryAfterHintMs(err)).toBe(1500)
      expect(c.limits).toEqual([expect.objectContaining({ remainingRequests: 0, resetRequestsMs: 120 })])
      expect(c.usage).toEqual([])
      expect(server.requests).toHaveLength(1)
    }
  })

  it('treats an exhausted quota and a request over the token limit as not worth waiting for', async () => {
    server.handle((_req, res) => json(res, 429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }))
    expect(await failure(call({ prompt: 'x' }, context().ctx))).toMatchObject({ code: 'TW_LLM', retryable: false, details: { reason: 'quota' } })
    server.handle((_req, res) => json(res, 429, { error: { message: 'Request too large for gpt-4o on tokens per min (TPM): Limit 30000, Requested 50000.', type: 'tokens', code: 'rate_limit_exceeded' } }))
    expect(await failure(call({ prompt: 'x' }, context().ctx))).toMatchObject({ code: 'TW_LLM', retryable: false, details: { reason: 'request_too_large' } })
  })

  it('turns a 500 into a retryable TW_LLM with the status and type, without a client retry', async () => {
    server.handle((_req, res) => json(res, 500, { error: { message: 'The server had an error', type: 'server_error' } }))
    const err = await failure(call({ prompt: 'x', stream: false }, context().ctx))
    expect(err).toMatchObject({ code: 'TW_LLM', retryable: true, details: { status: 500, type: 'server_error', reason: 'server' } })
    expect(server.requests).toHaveLength(1)
  })

  it('refuses to retry a prompt over the context length, a bad request and a refused key', async () => {
    server.handle((_req, res) => json(res, 400, { error: { message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded' } }))
    const refused = (await failure(call({ prompt: 'x' }, context().ctx))) as Error
    expect(refused).toMatchObject({ code: 'TW_LLM', retryable: false, details: { status: 400, reason: 'context_length' } })
    // The status is said once (the client's own message starts with it too).
    expect(refused.message).toMatch(/: HTTP 400 This model's maximum context length/)
    server.handle((_req, res) => json(res, 404, { error: { message: 'The model `nope` does not exist', type: 'invalid_request_error', code: 'model_not_found' } }))
    expect(await failure(call({ prompt: 'x', model: 'nope' }, context().ctx))).toMatchObject({ code: 'TW_LLM', retryable: false, details: { status: 404, reason: 'rejected' } })
    server.handle((_req, res) => json(res, 403, { error: { message: 'forbidden' } }))
    expect(await failure(call({ prompt: 'x' }, context().ctx))).toMatchObject({ code: 'TW_LLM', retryable: false, details: { status: 403, reason: 'auth' } })
  })

  it('fails retryably when the provider cannot be reached', async () => {
    const closed = await startFakeOpenAi()
    await closed.close()
    const err = await failure(call({ prompt: 'x' }, context().ctx, { baseURL: closed.baseURL }))
    expect(err).toMatchObject({ code: 'TW_LLM', retryable: true, details: { type: 'connection' } })
  })

  it('times out retryably when no answer begins within timeoutMs', async () => {
    server.handle(() => undefined) // never answers
    const err = await failure(call({ prompt: 'x' }, context().ctx, { timeoutMs: 150 }))
    expect(err).toMatchObject({ code: 'TW_TIMEOUT', retryable: true, details: { timeoutMs: 150 } })
  })

  it("fails at once, without a request, when OpenAI's endpoint has no key", async () => {
    const t = createChatTool({ env: {} })
    const err = await failure(Promise.resolve().then(() => t.run(chatInput.parse({ prompt: 'x' }), context().ctx)))
    expect(err).toMatchObject({ code: 'TW_LLM', retryable: false, details: { reason: 'auth' } })
    expect((err as Error).message).toContain('OPENAI_API_KEY')
  })

  it('sends a placeholder key to a server that needs none', async () => {
    server.handle((_req, res) => json(res, 200, completion('ok')))
    await createChatTool({ baseURL: server.baseURL, env: {} }).run(chatInput.parse({ prompt: 'x', stream: false }), context().ctx)
    expect(server.requests[0]?.headers.authorization).toBe('Bearer no-key')
  })
})

describe('llm.chat abort', () => {
  it('stops a waiting request and rethrows the reason of the signal', async () => {
    server.handle(() => undefined)
    const controller = new AbortController()
    const reason = new Error('run cancelled')
    const pending = call({ prompt: 'x', stream: false }, context(controller.signal).ctx)
    await waitFor(() => server.requests.length === 1)
    controller.abort(reason)
    expect(await failure(pending)).toBe(reason)
    await waitFor(() => server.requests[0]?.aborted === true)
  })

  it('stops a stream midway and rethrows the reason of the signal', async () => {
    const controller = new AbortController()
    const reason = new Error('attempt timed out')
    server.handle((_req, res) => {
      const send = startSse(res)
      send(chunk({ content: 'partial' }))
    })
    const c = context(controller.signal)
    const pending = call({ prompt: 'x' }, c.ctx)
    await waitFor(() => c.progress.length === 1)
    controller.abort(reason)
    expect(await failure(pending)).toBe(reason)
    await waitFor(() => server.requests[0]?.aborted === true)
    expect(c.usage).toEqual([])
  })

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('too late'))
    await expect(call({ prompt: 'x' }, context(controller.signal).ctx)).rejects.toThrow('too late')
    expect(server.requests).toHaveLength(0)
  })
})

describe('llm.chat keeps the API key secret', () => {
  const echoes: Array<[string, (auth: string) => [number, unknown]]> = [
    ['a 401 quoting the key, whole and masked', (auth) => [401, { error: { message: `Incorrect API key provided: ${auth} (sk-sec*****123)`, type: 'invalid_request_error', code: 'invalid_api_key' } }]],
    ['a 500 echoing the header', (auth) => [500, { error: { message: `upstream saw ${auth}`, type: auth, code: auth } }]],
    ['a 429 echoing the header', (auth) => [429, { error: { message: `slow down ${auth}`, type: 'requests' } }]],
    ['a 400 with a body that is not an error object', (auth) => [400, { detail: auth }]],
  ]

  it.each(echoes)('never shows the key in %s', async (_name, reply) => {
    server.handle((req, res) => {
      const [status, body] = reply(String(req.headers.authorization))
      json(res, status, body)
    })
    for (const stream of [false, true]) {
      const err = await failure(call({ prompt: 'x', stream }, context().ctx))
      expect(TaskweaveError.is(err)).toBe(true)
      expect(everyRendering(err)).not.toContain(SECRET)
      expect(everyRendering(err)).not.toContain('sk-sec*')
    }
  })

  it('never shows the key in an error event inside the stream', async () => {
    server.handle((req, res) => {
      const send = startSse(res)
      send(chunk({ content: 'a' }))
      send({ error: { message: `stream broke for ${String(req.headers.authorization)}`, type: 'server_error' } })
      res.end()
    })
    const err = await failure(call({ prompt: 'x' }, context().ctx))
    expect(err).toMatchObject({ code: 'TW_LLM', retryable: true })
    expect(everyRendering(err)).not.toContain(SECRET)
  })
})

describe('llm.chat JSON answers', () => {
  it('parses a json answer into `json`', async () => {
    server.handle((_req, res) => streamAnswer(res, ['{"city":', ' "Paris", "n": [1, 2]}']))
    const out = await call({ prompt: 'Answer in JSON.', responseFormat: 'json' }, context().ctx)
    expect(out.json).toEqual({ city: 'Paris', n: [1, 2] })
    expect(server.requests[0]?.body['response_format']).toEqual({ type: 'json_object' })
  })

  it('sends a JSON schema and parses the answer', async () => {
    server.handle((_req, res) => json(res, 200, completion('{"ok":true}')))
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }
    const out = await call({ prompt: 'x', stream: false, responseFormat: { jsonSchema: { name: 'result', schema, strict: true } } }, context().ctx)
    expect(out.json).toEqual({ ok: true })
    expect(server.requests[0]?.body['response_format']).toEqual({ type: 'json_schema', json_schema: { name: 'result', schema, strict: true } })
  })

  it('fails retryably on invalid JSON, and for good when the answer was cut by maxTokens, usage reported either way', async () => {
    server.handle((_req, res) => json(res, 200, completion('not json')))
    const c = context()
    expect(await failure(call({ prompt: 'x', stream: false, responseFormat: 'json' }, c.ctx))).toMatchObject({ code: 'TW_LLM', retryable: true, details: { reason: 'invalid_json' } })
    expect(c.usage).toHaveLength(1)
    server.handle((_req, res) => json(res, 200, completion('{"a": [1, 2', { finish: 'length' })))
    expect(await failure(call({ prompt: 'x', stream: false, responseFormat: 'json', maxTokens: 5 }, context().ctx))).toMatchObject({
      code: 'TW_LLM',
      retryable: false,
      details: { finishReason: 'length' },
    })
  })
})

describe('llm.chat and the engine', () => {
  it('names its rate key and estimates its tokens from the input', () => {
    const t = tool()
    const port = new URL(server.baseURL).port
    expect(t.rateKeyOf?.(chatInput.parse({ prompt: 'x' }))).toBe(`127.0.0.1:${port}:gpt-4o-mini`)
    expect(t.rateKeyOf?.(chatInput.parse({ prompt: 'x', model: 'gpt-4o' }))).toBe(`127.0.0.1:${port}:gpt-4o`)
    expect(tool({ provider: 'local' }).rateKeyOf?.(chatInput.parse({ prompt: 'x' }))).toBe('local:gpt-4o-mini')
    expect(t.estimateTokens?.(chatInput.parse({ prompt: 'hello world', maxTokens: 100 }))).toBeGreaterThanOrEqual(109)
    expect(t.idempotent).toBe(true)
    expect(t.name).toBe('llm.chat')
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
