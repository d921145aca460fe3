/**
 * A tiny OpenAI-compatible server for the `llm.chat` tests: `POST /v1/chat/completions` answered
 * by whatever handler the test sets, with helpers for a JSON answer, an SSE stream (with usage),
 * an error status, and a stall. Every request is recorded (headers and parsed body), and whether
 * its connection was closed by the client.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request the server received. */
export interface SeenRequest {
  readonly path: string
  readonly headers: IncomingMessage['headers']
  readonly body: Record<string, unknown>
  /** Set once the client closed the connection before the answer ended. */
  aborted: boolean
}

export type Handler = (req: SeenRequest, res: ServerResponse) => void | Promise<void>

export const RATE_HEADERS = {
  'x-ratelimit-limit-requests': '500',
  'x-ratelimit-remaining-requests': '499',
  'x-ratelimit-reset-requests': '120ms',
  'x-ratelimit-limit-tokens': '200000',
  'x-ratelimit-remaining-tokens': '199000',
  'x-ratelimit-reset-tokens': '6m0s',
} as const

export async function startFakeOpenAi() {
  const requests: SeenRequest[] = []
  let handler: Handler = (_req, res) => json(res, 500, { error: { message: 'no handler' } })
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const seen: SeenRequest = { path: req.url ?? '', headers: req.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), aborted: false }
      requests.push(seen)
      res.on('close', () => {
        if (!res.writableFinished) seen.aborted = true
      })
      if (seen.path !== '/v1/chat/completions') return json(res, 404, { error: { message: `no route ${seen.path}` } })
      void Promise.resolve(handler(seen, res)).catch(() => res.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    handle(next: Handler) {
      handler = next
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** A complete, non-streamed answer. */
export function completion(content: string, options: { model?: string; usage?: { prompt_tokens: number; completion_tokens: number } | null; finish?: string } = {}) {
  const usage = options.usage === undefined ? { prompt_tokens: 12, completion_tokens: 5 } : options.usage
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 0,
    model: options.model ?? 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: options.finish ?? 'stop', logprobs: null }],
    ...(usage === null ? {} : { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
  }
}

/** One SSE chunk of a streamed answer. */
export function chunk(delta: Record<string, unknown>, finish: string | null = null, model = 'gpt-4o-mini-2024-07-18') {
  return { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] }
}

/** Starts an SSE answer; write `data:` events with the returned function. */
export function startSse(res: ServerResponse, headers: Record<string, string> = {}): (data: unknown) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers })
  return (data) => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
}

/** A whole streamed answer: one chunk per piece, the finish, the usage chunk, `[DONE]`. */
export function streamAnswer(res: ServerResponse, pieces: readonly string[], options: { usage?: { prompt_tokens: number; completion_tokens: number } | null; headers?: Record<string, string> } = {}): void {
  const send = startSse(res, options.headers)
  send(chunk({ role: 'assistant', content: '' }))
  for (const piece of pieces) send(chunk({ content: piece }))
  send(chunk({}, 'stop'))
  const usage = options.usage === undefined ? { prompt_tokens: 20, completion_tokens: pieces.length } : options.usage
  if (usage !== null) send({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini-2024-07-18', choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })
  send('[DONE]')
  res.end()
}
