/**
 * The fake OpenAI-compatible server, driven by the official `openai` client as users drive it.
 */
import { countTokens, encodeChat } from 'gpt-tokenizer/encoding/o200k_base'
import OpenAI from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { startFakeLlm } from '../../src/llm/fake/index.js'
import type { FakeLlm, FakeLlmOptions } from '../../src/llm/fake/index.js'
import { rejection } from '../helpers.js'

const open: FakeLlm[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((fake) => fake.close()))
})

async function fakeAndClient(options: FakeLlmOptions = {}): Promise<{ fake: FakeLlm; client: OpenAI }> {
  const fake = await startFakeLlm(options)
  open.push(fake)
  return { fake, client: new OpenAI({ baseURL: fake.url, apiKey: 'fake', maxRetries: 0 }) }
}

const user = (content: string): OpenAI.ChatCompletionMessageParam[] => [{ role: 'user', content }]

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  expect(condition()).toBe(true)
}

describe('startFakeLlm with the openai client', () => {
  it('answers a completion with counted usage and text within max_tokens', async () => {
    const { fake, client } = await fakeAndClient()
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say something about foxes.' },
    ] as const
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [...messages], max_tokens: 12 })
    const content = completion.choices[0]?.message.content ?? ''
    expect(content.length).toBeGreaterThan(0)
    expect(completion.object).toBe('chat.completion')
    expect(completion.model).toBe('gpt-4o-mini')
    expect(completion.choices[0]?.finish_reason).toBe('stop')
    const promptTokens = encodeChat([...messages], 'gpt-4o').length
    expect(completion.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: countTokens(content), total_tokens: promptTokens + countTokens(content) })
    expect(completion.usage?.completion_tokens).toBeLessThanOrEqual(12)
    expect(fake.stats()).toMatchObject({ requests: 1, completed: 1, inputTokens: promptTokens, outputTokens: countTokens(content), inFlight: 0 })
    expect(fake.requests()[0]).toMatchObject({ index: 0, model: 'gpt-4o-mini', maxTokens: 12, stream: false, promptTokens, messages })
    expect(fake.requests()[0]?.headers['authorization']).toBe('Bearer fake')
  })

  it('draws the default answer length with the injected randomness, up to max_tokens', async () => {
    const { client } = await fakeAndClient({ random: () => 0.999 })
    const long = await client.chat.completions.create({ model: 'm', messages: user('hi'), max_completion_tokens: 30 })
    expect(long.usage?.completion_tokens).toBe(30)
    const { client: other } = await fakeAndClient({ random: () => 0 })
    const short = await other.chat.completions.create({ model: 'm', messages: user('hi'), max_tokens: 30 })
    expect(short.usage?.completion_tokens).toBe(1)
  })

  it('streams chunks that join to the answer, then a usage chunk with include_usage', async () => {
    const { fake, client } = await fakeAndClient({ script: ['Hello there, streaming world!'], latencyMs: 40 })
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: user('stream please'), stream: true, stream_options: { include_usage: true } })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')
    expect(text).toBe('Hello there, streaming world!')
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
    expect(chunks.filter((chunk) => (chunk.choices[0]?.delta.content ?? '') !== '').length).toBe(4)
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop')
    const last = chunks.at(-1)
    expect(last?.choices).toEqual([])
    const promptTokens = encodeChat([{ role: 'user', content: 'stream please' }], 'gpt-4o').length
    expect(last?.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: countTokens(text), total_tokens: promptTokens + countTokens(text) })
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1)
    expect(fake.stats()).toMatchObject({ completed: 1, outputTokens: countTokens(text) })
  })

  it('streams without a usage chunk unless asked', async () => {
    const { client } = await fakeAndClient({ script: ['one two'] })
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: user('x'), stream: true })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.every((chunk) => chunk.choices.length === 1 && chunk.usage === undefined)).toBe(true)
  })

  it('paces a stream at tokensPerSecond after the latency', async () => {
    const { client } = await fakeAndClient({ script: ['a b c d e'], latencyMs: 50, tokensPerSecond: 50 })
    const startedAt = performance.now()
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: user('x'), stream: true })
    const arrivals: number[] = []
    for await (const chunk of stream) if ((chunk.choices[0]?.delta.content ?? '') !== '') arrivals.push(performance.now() - startedAt)
    expect(arrivals).toHaveLength(5)
    // First piece after the 50 ms latency, then one every 20 ms: the last at about 130 ms.
    expect(arrivals[0]).toBeGreaterThanOrEqual(45)
    expect(arrivals[4]).toBeGreaterThanOrEqual(120)
  })

  it('answers scripted replies in order, then default answers; a scripted 429 carries retry headers', async () => {
    const { fake, client } = await fakeAndClient({ script: ['first', { content: 'second', usage: { promptTokens: 100, completionTokens: 7 } }, { status: 429, retryAfterMs: 1500 }] })
    const first = await client.chat.completions.create({ model: 'm', messages: user('1') })
    expect(first.choices[0]?.message.content).toBe('first')
    const second = await client.chat.completions.create({ model: 'm', messages: user('2') })
    expect(second.choices[0]?.message.content).toBe('second')
    expect(second.usage).toEqual({ prompt_tokens: 100, completion_tokens: 7, total_tokens: 107 })
    const err = await rejection(client.chat.completions.create({ model: 'm', messages: user('3') }))
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    const limited = err as InstanceType<typeof OpenAI.RateLimitError>
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after-ms')).toBe('1500')
    expect(limited.headers.get('retry-after')).toBe('2')
    expect(limited.code).toBe('rate_limit_exceeded')
    const fourth = await client.chat.completions.create({ model: 'm', messages: user('4') })
    expect(fourth.choices[0]?.message.content).not.toBe('')
    expect(fake.requests().map((request) => request.messages[0]?.content)).toEqual(['1', '2', '3', '4'])
    expect(fake.stats()).toMatchObject({ requests: 4, completed: 3, rateLimited: 1, errors: 0 })
  })

  it('a script function sees each request and its position; undefined means the default answer', async () => {
    const seen: number[] = []
    const { client } = await fakeAndClient({
      script: (request, index) => {
        seen.push(index)
        return request.messages[0]?.content === 'echo' ? `echo ${index}` : undefined
      },
    })
    expect((await client.chat.completions.create({ model: 'm', messages: user('echo') })).choices[0]?.message.content).toBe('echo 0')
    expect((await client.chat.completions.create({ model: 'm', messages: user('other') })).choices[0]?.message.content).not.toMatch(/^echo/)
    expect((await client.chat.completions.create({ model: 'm', messages: user('echo') })).choices[0]?.message.content).toBe('echo 2')
    expect(seen).toEqual([0, 1, 2])
  })

  it('a scripted 500 and a throwing script function are answered 500', async () => {
    const { fake, client } = await fakeAndClient({
      script: (_request, index) => {
        if (index === 0) return { status: 503, error: 'overloaded' }
        throw new Error('script bug')
      },
    })
    const overloaded = await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    expect(overloaded).toBeInstanceOf(OpenAI.InternalServerError)
    expect((overloaded as InstanceType<typeof OpenAI.APIError>).status).toBe(503)
    expect((overloaded as InstanceType<typeof OpenAI.APIError>).message).toContain('overloaded')
    const bug = await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    expect((bug as InstanceType<typeof OpenAI.APIError>).message).toContain('script bug')
    expect(fake.stats()).toMatchObject({ errors: 2, inFlight: 0 })
  })

  it('answers scripted tool calls, plain and streamed', async () => {
    const toolCalls = [{ id: 'call_1', name: 'lookup', arguments: { q: 'fox' } }]
    const { client } = await fakeAndClient({ script: [{ toolCalls }, { toolCalls }] })
    const plain = await client.chat.completions.create({ model: 'm', messages: user('x') })
    expect(plain.choices[0]?.finish_reason).toBe('tool_calls')
    expect(plain.choices[0]?.message.content).toBeNull()
    expect(plain.choices[0]?.message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"fox"}' } }])
    const final = await client.chat.completions.stream({ model: 'm', messages: user('x') }).finalChatCompletion()
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: 'call_1', function: { name: 'lookup', arguments: '{"q":"fox"}' } })
  })

  it('answers {} to a json_schema response format', async () => {
    const { client } = await fakeAndClient()
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: user('x'),
      response_format: { type: 'json_schema', json_schema: { name: 'thing', schema: { type: 'object', properties: {} } } },
    })
    expect(completion.choices[0]?.message.content).toBe('{}')
  })

  it('enforces rpm: the 4th immediate request of 3 per minute gets 429 with retry-after-ms ≈ 20000', async () => {
    const { fake, client } = await fakeAndClient({ rpm: 3, windowMs: 60_000 })
    const { response } = await client.chat.completions.create({ model: 'm', messages: user('x') }).withResponse()
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3')
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('2')
    // One request short of full: 20 s (minus the few ms since, rounded up to the ms).
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(20|19\.\d{1,3})s$/)
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBeNull()
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    const err = await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    const limited = err as InstanceType<typeof OpenAI.RateLimitError>
    expect(limited.type).toBe('requests')
    expect(limited.code).toBe('rate_limit_exceeded')
    expect(limited.message).toContain('Rate limit reached for requests')
    // The refusal uses a request too (as OpenAI counts them): two requests' refill, about 40 s.
    const retryAfterMs = Number(limited.headers.get('retry-after-ms'))
    expect(retryAfterMs).toBeGreaterThan(39_000)
    expect(retryAfterMs).toBeLessThanOrEqual(40_000)
    expect(limited.headers.get('retry-after')).toBe('40')
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(fake.stats()).toMatchObject({ requests: 4, completed: 3, rateLimited: 1 })
  })

  it('lets requests through again as the request bucket refills', async () => {
    const { client } = await fakeAndClient({ rpm: 2, windowMs: 200 })
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    const err = (await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))) as InstanceType<typeof OpenAI.RateLimitError>
    const wait = Number(err.headers.get('retry-after-ms'))
    // The refusal used a request too (as OpenAI counts them): two requests' refill, not one.
    expect(wait).toBeGreaterThan(100)
    expect(wait).toBeLessThanOrEqual(200)
    await new Promise((resolve) => setTimeout(resolve, wait + 5))
    await expect(client.chat.completions.create({ model: 'm', messages: user('x') })).resolves.toBeDefined()
  })

  it('with refusalsCount: false a refusal uses nothing', async () => {
    const { client } = await fakeAndClient({ rpm: 2, windowMs: 200, refusalsCount: false })
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    const err = (await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))) as InstanceType<typeof OpenAI.RateLimitError>
    expect(Number(err.headers.get('retry-after-ms'))).toBeLessThanOrEqual(100)
  })

  it('enforces tpm: max_tokens is reserved at arrival and the unused part refunded on completion', async () => {
    const { fake, client } = await fakeAndClient({ tpm: 1000, windowMs: 60_000, script: ['ok', { content: 'ok', latencyMs: 150 }, 'ok'] })
    const prompt = encodeChat([{ role: 'user', content: 'x' }], 'gpt-4o').length
    const { response } = await client.chat.completions.create({ model: 'm', messages: user('x'), max_tokens: 400 }).withResponse()
    // The header is read after the reservation of prompt + 400 (plus the refill of a few ms).
    const remaining = Number(response.headers.get('x-ratelimit-remaining-tokens'))
    expect(remaining).toBeGreaterThanOrEqual(1000 - prompt - 400)
    expect(remaining).toBeLessThanOrEqual(1000 - prompt - 400 + 2)
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('1000')
    // 399 of the 400 came back (the answer used 1): without the refund the bucket would hold
    // about 590, not enough for prompt + 900.
    const slow = client.chat.completions.create({ model: 'm', messages: user('x'), max_tokens: 900 })
    await until(() => fake.stats().inFlight === 1)
    // While it runs its whole reservation is held: another prompt + 900 does not fit.
    const err = (await rejection(client.chat.completions.create({ model: 'm', messages: user('x'), max_tokens: 900 }))) as InstanceType<typeof OpenAI.RateLimitError>
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err.type).toBe('tokens')
    expect(err.message).toContain('Rate limit reached for tokens')
    // Held: 1000 - (prompt + 1) - (prompt + 900); needed: prompt + 900; at 1000 tokens per minute (60 ms each).
    const missing = prompt + 900 - (1000 - (prompt + 1) - (prompt + 900))
    const retryAfterMs = Number(err.headers.get('retry-after-ms'))
    expect(retryAfterMs).toBeGreaterThan(missing * 60 - 1000)
    expect(retryAfterMs).toBeLessThanOrEqual(missing * 60)
    expect(err.headers.get('retry-after')).toBe(String(Math.ceil(retryAfterMs / 1000)))
    await slow
    // Once it is answered, its unused 899 come back and the same request fits.
    await client.chat.completions.create({ model: 'm', messages: user('x'), max_tokens: 900 })
    expect(fake.stats()).toMatchObject({ completed: 3, rateLimited: 1, inputTokens: 3 * prompt, outputTokens: 3 })
  })

  it('answers a request larger than the whole token quota "Request too large", without retry headers', async () => {
    const { client } = await fakeAndClient({ tpm: 100 })
    const err = (await rejection(client.chat.completions.create({ model: 'm', messages: user('x'), max_tokens: 200 }))) as InstanceType<typeof OpenAI.RateLimitError>
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err.type).toBe('tokens')
    expect(err.code).toBe('rate_limit_exceeded')
    expect(err.message).toContain('Request too large')
    expect(err.headers.get('retry-after')).toBeNull()
    expect(err.headers.get('retry-after-ms')).toBeNull()
    expect(err.headers.get('x-ratelimit-remaining-tokens')).toBe('100')
  })

  it('sends no rate-limit headers with headers: false', async () => {
    const { client } = await fakeAndClient({ rpm: 10, tpm: 1000, headers: false })
    const { response } = await client.chat.completions.create({ model: 'm', messages: user('x') }).withResponse()
    expect([...response.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).toEqual([])
  })

  it('errorRate 1 answers every request 500 server_error after the latency', async () => {
    const { fake, client } = await fakeAndClient({ errorRate: 1, latencyMs: 30 })
    const startedAt = performance.now()
    const err = await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(25)
    expect(err).toBeInstanceOf(OpenAI.InternalServerError)
    expect((err as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(500)
    expect((err as InstanceType<typeof OpenAI.InternalServerError>).type).toBe('server_error')
    await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    expect(fake.stats()).toMatchObject({ requests: 2, errors: 2, completed: 0 })
  })

  it('answers concurrently after the latency and counts the most in flight', async () => {
    const { fake, client } = await fakeAndClient({ latencyMs: { min: 200, max: 250 } })
    const startedAt = performance.now()
    await Promise.all(Array.from({ length: 6 }, () => client.chat.completions.create({ model: 'm', messages: user('x') })))
    const elapsed = performance.now() - startedAt
    expect(elapsed).toBeGreaterThanOrEqual(195)
    // Six answers of ≥ 200 ms one after the other would take ≥ 1200 ms.
    expect(elapsed).toBeLessThan(1000)
    expect(fake.stats()).toMatchObject({ completed: 6, maxConcurrent: 6, inFlight: 0 })
  })

  it('close() with a request in flight ends it and resolves', async () => {
    const { fake, client } = await fakeAndClient({ latencyMs: 10_000 })
    const pending = rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    await until(() => fake.stats().inFlight === 1)
    const startedAt = performance.now()
    await fake.close()
    expect(performance.now() - startedAt).toBeLessThan(1000)
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError)
    expect(fake.stats()).toMatchObject({ inFlight: 0, disconnected: 1, completed: 0 })
    await expect(fake.close()).resolves.toBeUndefined()
  })

  it('a client that aborts leaves no timer behind and the server answers on', async () => {
    const { fake, client } = await fakeAndClient({ latencyMs: (request) => (request.messages[0]?.content === 'slow' ? 5_000 : 0) })
    const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    const before = timers()
    const controller = new AbortController()
    const pending = rejection(client.chat.completions.create({ model: 'm', messages: user('slow') }, { signal: controller.signal }))
    await until(() => fake.stats().inFlight === 1)
    expect(timers()).toBeGreaterThan(before)
    controller.abort()
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError)
    await until(() => fake.stats().inFlight === 0)
    expect(fake.stats().disconnected).toBe(1)
    await until(() => timers() <= before)
    const next = await client.chat.completions.create({ model: 'm', messages: user('fast') })
    expect(next.choices[0]?.message.content).not.toBe('')
    expect(fake.stats()).toMatchObject({ completed: 1, disconnected: 1 })
  })

  it('reset() zeroes the statistics, fills the buckets and rewinds the script', async () => {
    const { fake, client } = await fakeAndClient({ rpm: 1, windowMs: 60_000, script: ['one'], timeline: true })
    await client.chat.completions.create({ model: 'm', messages: user('x') })
    await rejection(client.chat.completions.create({ model: 'm', messages: user('x') }))
    expect(fake.stats().timeline?.map((entry) => entry.status)).toEqual([200, 429])
    fake.reset()
    expect(fake.stats()).toMatchObject({ requests: 0, completed: 0, rateLimited: 0, timeline: [] })
    expect(fake.requests()).toEqual([])
    const again = await client.chat.completions.create({ model: 'm', messages: user('x') })
    expect(again.choices[0]?.message.content).toBe('one')
    expect(fake.requests()[0]?.index).toBe(0)
  })

  it('lists models, and answers unknown routes 404 and bad JSON 400 with OpenAI error bodies', async () => {
    const { fake, client } = await fakeAndClient()
    const models = await client.models.list()
    expect(models.data.map((model) => model.id)).toContain('gpt-4o-mini')
    const missing = await fetch(`${fake.url}/embeddings`, { method: 'POST', body: '{}' })
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: { message: 'Invalid URL (POST /v1/embeddings)', type: 'invalid_request_error', param: null, code: 'unknown_url' } })
    const bad = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_json' } })
    const noMessages = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{"model":"m"}' })
    expect(noMessages.status).toBe(400)
    expect(await noMessages.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'messages' } })
  })

  it('closes when its signal aborts, and refuses invalid options', async () => {
    const controller = new AbortController()
    const fake = await startFakeLlm({ signal: controller.signal })
    open.push(fake)
    expect((await fetch(`${fake.url}/models`)).status).toBe(200)
    controller.abort()
    // Only the signal closes it: connections are refused soon after.
    let refused = false
    for (let i = 0; i < 100 && !refused; i++) {
      try {
        await fetch(`${fake.url}/models`)
        await new Promise((resolve) => setTimeout(resolve, 5))
      } catch {
        refused = true
      }
    }
    expect(refused).toBe(true)
    await expect(startFakeLlm({ errorRate: 2 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(startFakeLlm({ latencyMs: { min: 10, max: 5 } })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(startFakeLlm({ rpm: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
  })
})
