/**
 * Benchmark `http`: 2,000 small runs started through `taskweave serve`'s HTTP API by 16 clients
 * on keep-alive connections, each run a 3-task chain of no-op tools, until every run has
 * finished; beside the same runs started in the process (`engine.start`, the floor without HTTP)
 * and a bare Fastify route that takes the same JSON body and answers 201 (the floor of HTTP
 * alone). Reports runs/s and the latency of the POST (p50, p99).
 * Run alone with `node --import tsx bench/http.ts`.
 * @module
 */
import { request, Agent } from 'node:http'
import { check, WARM } from './lib/harness.js'
import type { ContenderSpec, Sample } from './lib/harness.js'
import { measureRounds } from './lib/harness.js'
import { int, mib } from './lib/format.js'
import { benchMain } from './lib/main.js'
import type { BenchReport } from './lib/report.js'

const RUNS = Number(process.env["BENCH_HTTP_RUNS"] ?? 2_000)
const CLIENTS = 16
const ROUNDS = 5
const TOKEN = 'bench-token-0123456789abcdef'
const WORKFLOW = {
  id: 'chain',
  tasks: [
    { id: 'a', tool: 'bench.noop' },
    { id: 'b', tool: 'bench.noop', dependsOn: ['a'] },
    { id: 'c', tool: 'bench.noop', dependsOn: ['b'] },
  ],
}
const BODY = JSON.stringify({ workflow: WORKFLOW })

/** The value at fraction `q` of sorted `values`. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

/** POSTs the body `RUNS` times from `CLIENTS` clients at once; resolves to each request's latency (ms). */
async function post(port: number, path: string, headers: Readonly<Record<string, string>>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })
  const latencies: number[] = []
  let next = 0
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now()
      const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(BODY)), ...headers } }, (res) => {
        res.resume()
        res.on('end', () => {
          latencies.push(performance.now() - t0)
          if (res.statusCode !== 201) reject(new Error(`POST answered ${res.statusCode}`))
          else resolve()
        })
      })
      req.on('error', reject)
      req.end(BODY)
    })
  const client = async (): Promise<void> => {
    while (next < RUNS) {
      next++
      await one()
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, client))
  agent.destroy()
  return latencies
}

async function noopEngine() {
  const [{ createEngine, defineTool }, { z }] = await Promise.all([import('../dist/lib/index.js'), import('zod')])
  const noop = defineTool({ name: 'bench.noop', input: z.object({}), run: async () => undefined })
  return createEngine({ builtins: false, tools: [noop] })
}

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  'taskweave-http': {
    ...WARM,
    async setup() {
      const engine = await noopEngine()
      const { startServer } = await import('../dist/lib/server.js')
      // No metrics and no dashboard files: the API path alone. Runs kept after they finish: the default 200.
      const server = await startServer({ engine, token: TOKEN, port: 0, metrics: false, dashboard: false })
      const run = async (): Promise<Sample> => {
        let finished = 0
        let succeeded = 0
        let allDone!: () => void
        const done = new Promise<void>((resolve) => (allDone = resolve))
        const stop = engine.events.on('run:finished', (event: { readonly status: string }) => {
          finished++
          if (event.status === 'succeeded') succeeded++
          if (finished === RUNS) allDone()
        })
        const t0 = performance.now()
        const latencies = await post(server.port, '/api/runs', { authorization: `Bearer ${TOKEN}` })
        await done
        const ms = performance.now() - t0
        stop()
        check(succeeded === RUNS, `${succeeded} of ${RUNS} runs succeeded`)
        latencies.sort((x, y) => x - y)
        return { ms, tasks: RUNS, info: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) } }
      }
      // A listening server keeps the child's event loop alive: closed once the timed runs are done.
      return { run, finish: async () => (await server.close(), await engine.close(), undefined) }
    },
  },
  'taskweave-direct': {
    ...WARM,
    async setup() {
      const engine = await noopEngine()
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const results = []
        for (let i = 0; i < RUNS; i++) results.push(engine.start(WORKFLOW).result)
        let succeeded = 0
        for (const result of await Promise.all(results)) if (result.status === 'succeeded') succeeded++
        const ms = performance.now() - t0
        check(succeeded === RUNS, `${succeeded} of ${RUNS} runs succeeded`)
        return { ms, tasks: RUNS }
      }
    },
  },
  'fastify-201': {
    ...WARM,
    async setup() {
      const { default: Fastify } = await import('fastify')
      const app = Fastify({ logger: false })
      let taken = 0
      app.post('/api/runs', async (request, reply) => {
        if ((request.body as { workflow?: unknown }).workflow !== undefined) taken++
        return reply.code(201).send({ id: String(taken) })
      })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      const run = async (): Promise<Sample> => {
        taken = 0
        const t0 = performance.now()
        const latencies = await post(port, '/api/runs', {})
        const ms = performance.now() - t0
        check(taken === RUNS, `${taken} of ${RUNS} bodies taken`)
        latencies.sort((x, y) => x - y)
        return { ms, tasks: RUNS, info: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) } }
      }
      return { run, finish: async () => (await app.close(), undefined) }
    },
  },
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const results = await measureRounds(import.meta.url, Object.keys(contenders), { rounds: ROUNDS })
  const http = results['taskweave-http']
  const direct = results['taskweave-direct']
  const floor = results['fastify-201']
  const latency = (name: string): string => {
    const info = results[name]?.info as { p50?: number; p99?: number } | undefined
    return info?.p50 !== undefined ? `${info.p50.toFixed(2)} ms / ${(info.p99 ?? 0).toFixed(2)} ms` : '—'
  }
  const rows = Object.entries(results).map(([name, r]) => [name, int(r.tasksPerSec), `${r.medianMs.toFixed(0)} ms`, r.samplesMs.map((s) => s.toFixed(0)).join(', '), latency(name), mib(r.maxRssKiB)])
  const notes = [
    `Each figure is the median of ${ROUNDS} fresh child processes, each timing one run after 5 untimed ones (contenders take turns). taskweave-http counts from the first POST to the last run's \`run:finished\`; the server has no store (the API's own cost, not a journal's), no metrics and no dashboard files; its default limits hold (1,000 unfinished runs, 1 MiB bodies).`,
    http !== undefined && direct !== undefined ? `Through the API, a run costs ${((1000 / http.tasksPerSec) * 1000).toFixed(0)} µs against ${((1000 / direct.tasksPerSec) * 1000).toFixed(0)} µs started in the process; a bare Fastify route that only parses the same body takes ${floor !== undefined ? ((1000 / floor.tasksPerSec) * 1000).toFixed(0) : '—'} µs a request.` : 'A contender did not finish.',
  ]
  return {
    name: 'http',
    title: `http — ${int(RUNS)} runs started through the HTTP API`,
    workload: `${int(RUNS)} runs of a 3-task chain of no-op tools, POSTed to \`/api/runs\` by ${CLIENTS} clients on keep-alive connections (bearer token checked, body validated, workflow compiled, run started), timed until every run finished; beside \`engine.start\` of the same runs in the process and a bare Fastify route that parses the same body and answers 201.`,
    headers: ['contender', 'runs (or requests)/s', 'median', 'runs', 'POST p50 / p99', 'peak RSS'],
    rows,
    targets: [],
    notes,
    seconds: (performance.now() - started) / 1000,
  }
}

await benchMain(import.meta.url, contenders, run)
