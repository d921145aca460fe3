/**
 * Seed 001, "parallel task execution in a workflow", in TypeScript: the seed's example workflow
 *
 *   task_1 web_search ─┐
 *                      ├─► task_3 summarize_results ─► task_6 publish
 *   task_2 calculate ──┘
 *   task_4 fetch_prices ─► task_5 chart_prices
 *
 * run by the engine: the dependency graph comes from `{{ tasks.… }}` references, independent
 * tasks run at the same time (I/O on the event loop, the CPU-bound `calculate` in a worker
 * thread), outputs are substituted into dependents when they become ready, a failing branch
 * (task_4) is isolated (task_5 is skipped, everything else finishes), and every state change is
 * reported live as an event.
 *
 * Run: npx tsx examples/seeds/001-parallel-workflow.ts
 */
import { z } from 'zod'
import { createEngine, defineTool, sleep, systemClock, TerminalError, workflow } from 'taskweave'
import type { RunResult } from 'taskweave'
import { defineWorkerTool, WorkerPools } from 'taskweave/workers'

/** I/O-bound: a stand-in for a search API call (40 ms of waiting, no CPU). */
const webSearch = defineTool({
  name: 'web_search',
  input: z.object({ query: z.string() }),
  run: async ({ query }, ctx) => {
    await sleep(systemClock, 40, ctx.signal)
    return { results: [`${query}: overview`, `${query}: benchmarks`, `${query}: pitfalls`] }
  },
})

const summarize = defineTool({
  name: 'summarize_results',
  input: z.object({ results: z.array(z.string()), primes: z.number(), below: z.number() }),
  run: ({ results, primes, below }) => `${results.length} sources (${results.join('; ')}); ${primes} primes below ${below}.`,
})

/** Fails for good: its branch stops here, the rest of the workflow carries on. */
const fetchPrices = defineTool({
  name: 'fetch_prices',
  input: z.object({ symbol: z.string() }),
  run: async ({ symbol }, ctx) => {
    await sleep(systemClock, 10, ctx.signal)
    throw new TerminalError(`price service refused symbol ${symbol}`, { type: 'Refused' })
  },
})

const chartPrices = defineTool({
  name: 'chart_prices',
  input: z.object({ prices: z.array(z.number()) }),
  run: ({ prices }) => `chart of ${prices.length} prices`,
})

const publish = defineTool({
  name: 'publish',
  input: z.object({ summary: z.string() }),
  run: ({ summary }) => ({ published: true, characters: summary.length }),
})

/** What the example shows, for the tests. */
export interface SeedOneResult {
  readonly result: RunResult
  /** The live status lines, in the order the events arrived. */
  readonly lines: readonly string[]
  /** True when task_1 and task_2 were running at the same moment. */
  readonly ranInParallel: boolean
  /** The worker thread that ran `calculate` (0 would mean the main thread). */
  readonly calculateThread: number
}

/** Runs the example and returns what it saw. */
export async function main(log: (line: string) => void = console.log): Promise<SeedOneResult> {
  // Own pools so the example cleans up after itself; most programs use the shared ones and
  // call closeWorkerPools() at shutdown.
  await using pools = new WorkerPools()
  /** CPU-bound: counting primes runs in a worker thread, so the event loop stays free for task_1. */
  const calculate = defineWorkerTool({
    name: 'calculate',
    input: z.object({ below: z.number().int().positive() }),
    output: z.object({ below: z.number(), primes: z.number(), threadId: z.number() }),
    module: new URL('./fixtures/cpu-work.ts', import.meta.url),
    exportName: 'countPrimes',
    pool: { maxThreads: 2 },
    timeout: '30s',
    pools,
  })
  await using engine = createEngine({ tools: [webSearch, calculate, summarize, fetchPrices, chartPrices, publish], builtins: false })

  const flow = workflow({
    id: 'parallel-research',
    inputs: { topic: { type: 'string', default: 'parallel workflows' }, below: { type: 'number', default: 200_000 } },
  })
    .task('task_1', webSearch, { input: { query: '{{ inputs.topic }}' } })
    .task('task_2', calculate, { input: { below: '{{ inputs.below }}' } })
    .task('task_3', summarize, {
      input: { results: '{{ tasks.task_1.output.results }}', primes: '{{ tasks.task_2.output.primes }}', below: '{{ tasks.task_2.output.below }}' },
    })
    .task('task_4', fetchPrices, { input: { symbol: 'ACME' } })
    .task('task_5', chartPrices, { input: { prices: '{{ tasks.task_4.output }}' } })
    .task('task_6', publish, { input: { summary: '{{ tasks.task_3.output }}' } })
    .build()

  const lines: string[] = []
  const handle = engine.start(flow)
  const startedAt = engine.clock.now()
  // Real-time reporting: one line per state change, as it happens.
  handle.onAny((event) => {
    if (!event.type.startsWith('task:') || !('taskId' in event)) return
    const extra = event.type === 'task:failed' ? ` (${event.error.code}: ${event.error.message})` : event.type === 'task:skipped' ? ` (${event.reason})` : ''
    const line = `+${String(Math.round(event.at - startedAt)).padStart(4)} ms  ${event.type.padEnd(14)} ${event.taskId}${extra}`
    lines.push(line)
    log(line)
  })
  const result = await handle.result
  log(`run ${result.status}: ${String(result.tasks['task_3']?.output)}`)

  const a = result.tasks['task_1']
  const b = result.tasks['task_2']
  const ranInParallel = a?.startedAt !== undefined && b?.startedAt !== undefined && a.startedAt < (b.finishedAt ?? 0) && b.startedAt < (a.finishedAt ?? 0)
  const calculateThread = (b?.output as { threadId?: number } | undefined)?.threadId ?? 0
  return { result, lines, ranInParallel, calculateThread }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
