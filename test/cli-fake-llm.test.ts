/**
 * `taskweave dev fake-llm`: the built CLI serves the fake until SIGTERM; flags reach the server.
 */
import OpenAI from 'openai'
import { beforeAll, describe, expect, it } from 'vitest'
import { devFakeLlmCommand } from '../src/cli/commands/dev-fake-llm.js'
import type { DevFakeLlmCommandArgs } from '../src/cli/commands/dev-fake-llm.js'
import { EXIT } from '../src/cli/io.js'
import { main } from '../src/cli/main.js'
import { collect, ensureBuilt, spawnBin } from './cli-bin.js'
import { startFakeLlm } from '../src/llm/fake/index.js'
import { captureIo } from './cli-io.js'

beforeAll(ensureBuilt, 120_000)

const URL_LINE = /listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/

describe('taskweave dev fake-llm (built CLI)', () => {
  it('prints its URL, answers the openai client, and exits 0 on SIGTERM', async () => {
    const child = spawnBin(['dev', 'fake-llm', '--port', '0', '--rpm', '100'])
    // Listening from the start: collect() must see the first line too.
    const exited = collect(child, 20_000)
    const url = await new Promise<string>((resolve, reject) => {
      let seen = ''
      child.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        const match = URL_LINE.exec(seen)
        if (match?.[1] !== undefined) resolve(match[1])
      })
      child.once('exit', () => reject(new Error(`exited before listening: ${seen}`)))
    })
    const client = new OpenAI({ baseURL: url, apiKey: 'fake', maxRetries: 0 })
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
    expect(data.usage?.total_tokens).toBeGreaterThan(0)
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('100')
    child.kill('SIGTERM')
    const { code, signal, stdout, stderr } = await exited
    expect(signal, stderr).toBeNull()
    expect(code, stderr).toBe(0)
    expect(stdout).toContain(`OPENAI_BASE_URL=${url} OPENAI_API_KEY=fake`)
    expect(stderr).toContain('SIGTERM received: stopping the fake LLM')
    expect(stderr).toContain('1 request, 1 completed')
  })
})

describe('dev fake-llm flags', () => {
  /** Runs the command in-process until `use` is done with the URL; returns the exit code and output. */
  async function serving(args: Partial<DevFakeLlmCommandArgs>, use: (client: OpenAI) => Promise<void>): Promise<{ code: number; io: ReturnType<typeof captureIo> }> {
    const io = captureIo()
    const stop = new AbortController()
    const running = devFakeLlmCommand({ port: '0', headers: true, ...args }, io, stop.signal)
    for (let i = 0; i < 400 && !io.out.some((line) => URL_LINE.test(line)); i++) await new Promise((resolve) => setTimeout(resolve, 5))
    const url = URL_LINE.exec(io.out.join('\n'))?.[1]
    expect(url, io.text()).toBeDefined()
    try {
      await use(new OpenAI({ baseURL: url, apiKey: 'fake', maxRetries: 0 }))
    } finally {
      stop.abort()
    }
    return { code: await running, io }
  }

  it('--rpm, --window, --latency and --no-headers reach the server', async () => {
    const { code, io } = await serving({ rpm: '1', window: '60000', latency: '30..40ms', headers: false }, async (client) => {
      const startedAt = performance.now()
      const { response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).withResponse()
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(25)
      expect(response.headers.get('x-ratelimit-limit-requests')).toBeNull()
      const err = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(OpenAI.RateLimitError)
      // One request per minute, and the refusal used one too: the next one in about 120 s.
      expect(Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after'))).toBe(120)
    })
    expect(code).toBe(EXIT.ok)
    expect(io.out.join('\n')).toContain('quota: 1 request per 60s; latency: 30–40 ms; error rate: 0%; rate-limit headers: off')
    expect(io.err.join('\n')).toContain('2 requests, 1 completed, 1 rate-limited (429)')
  })

  it('--error-rate 1 answers 500s', async () => {
    const { code } = await serving({ errorRate: '1' }, async (client) => {
      await expect(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.InternalServerError)
    })
    expect(code).toBe(EXIT.ok)
  })

  it('says so and exits 1 when the port is taken', async () => {
    const taken = await startFakeLlm()
    try {
      const io = captureIo()
      expect(await main(['dev', 'fake-llm', '--port', String(taken.port)], io)).toBe(EXIT.failed)
      expect(io.err.join('\n')).toContain(`cannot listen on 127.0.0.1:${taken.port} (EADDRINUSE)`)
    } finally {
      await taken.close()
    }
  })

  it.each([
    [['dev'], '"dev" needs a command: fake-llm'],
    [['dev', 'other'], 'unknown dev command "other"'],
    [['dev', 'fake-llm', '--latency', 'soon'], '--latency'],
    [['dev', 'fake-llm', '--latency', '300..100'], '--latency'],
    [['dev', 'fake-llm', '--error-rate', '2'], '--error-rate'],
    [['dev', 'fake-llm', '--rpm', '1.5'], '--rpm'],
    [['dev', 'fake-llm', '--port', '70000'], '--port'],
    [['dev', 'fake-llm', '--window', '0s'], '--window'],
    [['dev', 'fake-llm', 'file.yaml'], 'takes no file'],
  ])('%j is refused with exit 2', async (argv, message) => {
    const io = captureIo()
    expect(await main(argv, io)).toBe(2)
    expect(io.err.join('\n')).toContain(message)
  })
})
