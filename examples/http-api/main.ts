/**
 * The HTTP API from a client's side: an engine served with `startServer`, a workflow started with
 * `POST /api/runs`, its events followed live (Server-Sent Events), the finished run read back, and
 * the engine's Prometheus metrics. `npx taskweave serve` serves the same API (and the dashboard).
 * Run: npx tsx examples/http-api/main.ts
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { startServer } from 'taskweave/server'
import type { ApiRun } from 'taskweave/server'

const fetchPage = defineTool({
  name: 'web.fetchPage',
  input: z.object({ url: z.string() }),
  run: async ({ url }, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    ctx.signal.throwIfAborted()
    return { url, words: url.length * 100 }
  },
})

const summarize = defineTool({
  name: 'text.summarize',
  input: z.object({ pages: z.array(z.object({ words: z.number() })) }),
  run: ({ pages }) => ({ pages: pages.length, words: pages.reduce((sum, page) => sum + page.words, 0) }),
})

/** The workflow a client sends: the same schema as a YAML file, as JSON. */
const workflow = {
  id: 'read-and-summarize',
  tasks: [
    { id: 'docs', tool: 'web.fetchPage', input: { url: 'https://example.com/docs' } },
    { id: 'blog', tool: 'web.fetchPage', input: { url: 'https://example.com/blog' } },
    { id: 'summary', tool: 'text.summarize', dependsOn: ['docs', 'blog'], input: { pages: ['{{ tasks.docs.output }}', '{{ tasks.blog.output }}'] } },
  ],
}

/** Reads a Server-Sent Events stream until its `end` event; calls `onEvent` with each event's type and data. */
async function follow(response: Response, onEvent: (type: string, data: Record<string, unknown>) => void): Promise<void> {
  if (response.body === null) return
  let buffer = ''
  for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const fields = Object.fromEntries(buffer.slice(0, end).split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]))
      buffer = buffer.slice(end + 2)
      if (fields['event'] === 'end') return
      if (fields['data'] !== undefined && fields['event'] !== undefined) onEvent(fields['event'], JSON.parse(fields['data']) as Record<string, unknown>)
    }
  }
}

/** Runs the example and returns the finished run as the API shows it (the tests call this). */
export async function main(log: (line: string) => void = console.log): Promise<ApiRun> {
  const engine = createEngine({ builtins: false, tools: [fetchPage, summarize] })
  const token = randomBytes(24).toString('base64url')
  const server = await startServer({ engine, token, port: 0 })
  const auth = { authorization: `Bearer ${token}` }
  try {
    const started = await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ workflow, labels: { team: 'docs' } }) })
    const { id } = (await started.json()) as { id: string }
    log(`started run ${id} (${started.status})`)

    // Without Last-Event-ID the stream starts at the oldest event kept, so nothing is missed.
    await follow(await fetch(`${server.url}/api/runs/${id}/events`, { headers: auth }), (type, data) => {
      if (type === 'task:succeeded') log(`  ${String(data['taskId'])} succeeded in ${Number(data['durationMs']).toFixed(0)} ms`)
      if (type === 'run:finished') log(`  run ${String(data['status'])}`)
    })

    const run = (await (await fetch(`${server.url}/api/runs/${id}`, { headers: auth })).json()) as ApiRun
    const summary = (await (await fetch(`${server.url}/api/runs/${id}/tasks/summary`, { headers: auth })).json()) as { task: { output: unknown } }
    log(`summary: ${JSON.stringify(summary.task.output)}`)
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text()
    log(metrics.split('\n').find((line) => line.startsWith('taskweave_runs_finished_total{')) ?? '')
    return run
  } finally {
    await server.close()
    await engine.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
