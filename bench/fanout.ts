/**
 * Benchmark `fanout`: 1 → 10,000 → 1. A task lists 10,000 numbers, a `forEach` task runs once per
 * number, an aggregate task sums the 10,000 outputs. taskweave against LangGraph (`Send` fan-out to
 * a worker node with a reducer) and, for scale, p-queue. Run alone with `node --import tsx bench/fanout.ts`.
 * @module
 */
import { check, childMain, isMain, measure, measureColdWarm, WARM } from './lib/harness.js'
import type { ColdWarm, ContenderResult, ContenderSpec, Sample } from './lib/harness.js'
import { bothWays, COLD_WARM_HEADERS, coldWarmCells, method, oneRunPeakKiB, speedup } from './lib/cold-warm.js'
import { int, median, mib, ms, times } from './lib/format.js'
import { renderReport } from './lib/report.js'
import type { BenchReport } from './lib/report.js'

const ITEMS = 10_000
/** LangGraph runs at ITEMS unless that takes over 3 minutes; then at this many (set by the parent). */
const LANGGRAPH_FALLBACK_ITEMS = 1_000
const LANGGRAPH_LIMIT_MS = 3 * 60_000
const LANGGRAPH_ITEMS = Number(process.env['BENCH_FANOUT_LANGGRAPH_ITEMS'] ?? ITEMS)
const CONCURRENCY = 64
/** taskweave and p-queue: 5 children per mode (warm, cold), in turn; the cold ones also give the peak RSS of one run. */
const ROUNDS = 5
/** LangGraph's warm-up: a small fan-out, then one measured run at full size. */
const LANGGRAPH_WARMUP_ITEMS = 100

const expectedSum = (n: number): number => (n * (n - 1)) / 2

/** The three pieces of work, the same for every contender. */
const listWork = async (n: number): Promise<number[]> => Array.from({ length: n }, (_, i) => i)
const itemWork = async (value: number): Promise<number> => value
const sumWork = async (values: readonly number[]): Promise<number> => {
  let sum = 0
  for (const v of values) sum += v
  return sum
}

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  taskweave: {
    ...WARM,
    async setup() {
      const [{ createEngine, defineTool }, { z }] = await Promise.all([import('../dist/lib/index.js'), import('zod')])
      const list = defineTool({ name: 'fan.list', input: z.object({ n: z.number().int() }), run: ({ n }) => listWork(n) })
      const each = defineTool({ name: 'fan.each', input: z.object({ value: z.number() }), run: ({ value }) => itemWork(value) })
      const aggregate = defineTool({ name: 'fan.aggregate', input: z.object({ values: z.array(z.number()) }), run: ({ values }) => sumWork(values) })
      const engine = createEngine({ builtins: false, tools: [list, each, aggregate], concurrency: CONCURRENCY })
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const result = await engine.run(
          {
            id: 'fanout',
            tasks: [
              { id: 'list', tool: 'fan.list', input: { n: ITEMS } },
              { id: 'each', tool: 'fan.each', forEach: '{{ tasks.list.output }}', input: { value: '{{ item }}' } },
              { id: 'aggregate', tool: 'fan.aggregate', input: { values: '{{ tasks.each.output }}' } },
            ],
          },
          { concurrency: CONCURRENCY },
        )
        // Reading the aggregate's output is part of the work (it may build the run's per-task report).
        const sum = result.tasks['aggregate']?.output
        const elapsed = performance.now() - t0
        check(result.status === 'succeeded' && sum === expectedSum(ITEMS), `taskweave run ended ${result.status}, sum ${String(sum)}`)
        return { ms: elapsed, tasks: ITEMS + 2, info: { items: ITEMS } }
      }
    },
  },
  'p-queue': {
    ...WARM,
    async setup() {
      const { default: PQueue } = await import('p-queue')
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const queue = new PQueue({ concurrency: CONCURRENCY })
        const items = (await queue.add(() => listWork(ITEMS))) as number[]
        const outputs = await Promise.all(items.map((value) => queue.add(() => itemWork(value)) as Promise<number>))
        const sum = (await queue.add(() => sumWork(outputs))) as number
        const elapsed = performance.now() - t0
        check(sum === expectedSum(ITEMS), `p-queue sum ${sum}`)
        return { ms: elapsed, tasks: ITEMS + 2, info: { items: ITEMS } }
      }
    },
  },
  langgraph: {
    reps: 1,
    warmups: 1,
    async setup() {
      const { Annotation, END, START, Send, StateGraph } = await import('@langchain/langgraph')
      const State = Annotation.Root({
        items: Annotation<number[]>({ reducer: (_, next) => next, default: () => [] }),
        results: Annotation<number[]>({ reducer: (all, next) => all.concat(next), default: () => [] }),
        total: Annotation<number>({ reducer: (_, next) => next, default: () => 0 }),
      })
      const fanOut = async (n: number): Promise<Sample> => {
        const t0 = performance.now()
        const app = new StateGraph(State)
          .addNode('list', async () => ({ items: await listWork(n) }))
          .addNode('worker', async (input: { item: number }) => ({ results: [await itemWork(input.item)] }))
          .addNode('aggregate', async (state) => ({ total: await sumWork(state.results) }))
          .addEdge(START, 'list')
          .addConditionalEdges('list', (state) => state.items.map((item) => new Send('worker', { item })), ['worker'])
          .addEdge('worker', 'aggregate')
          .addEdge('aggregate', END)
          .compile()
        const out = await app.invoke({}, { maxConcurrency: CONCURRENCY })
        const elapsed = performance.now() - t0
        check(out.total === expectedSum(n), `LangGraph sum ${out.total}`)
        return { ms: elapsed, tasks: n + 2, info: { items: n } }
      }
      return { run: () => fanOut(LANGGRAPH_ITEMS), warmup: () => fanOut(LANGGRAPH_WARMUP_ITEMS) }
    },
  },
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const both = await measureColdWarm(import.meta.url, ['taskweave', 'p-queue'], { rounds: ROUNDS })
  let lg: ContenderResult
  let langGraphReduced = false
  try {
    // The warm-up is small; the limit is on the one full-size run.
    lg = await measure(import.meta.url, 'langgraph', { timeoutMs: LANGGRAPH_LIMIT_MS + 30_000 })
  } catch (err) {
    if (!(err instanceof Error && err.message.includes('SIGKILL'))) throw err
    langGraphReduced = true
    lg = await measure(import.meta.url, 'langgraph', { env: { BENCH_FANOUT_LANGGRAPH_ITEMS: String(LANGGRAPH_FALLBACK_ITEMS) } })
  }
  const twBoth = both['taskweave'] as ColdWarm
  const tw = twBoth.warm
  const display: Record<string, string> = { taskweave: 'taskweave', 'p-queue': 'p-queue (reference)' }
  const rows = Object.entries(both).map(([name, r]) => [display[name] ?? name, int(ITEMS), ...coldWarmCells(r), int(r.warm.tasksPerSec), mib(oneRunPeakKiB(r)), r === twBoth ? '—' : bothWays(speedup(twBoth, r))])
  // LangGraph's one child runs once at full size, after a tiny warm-up: its peak RSS is that of one run.
  rows.push(['LangGraph (1 run)', int(Number(lg.info['items'] ?? 0)), ms(lg.medianMs), lg.samplesMs.map((s) => int(s)).join(', '), ms(median(lg.cpuMs)), '—', '—', '—', int(lg.tasksPerSec), mib(lg.maxRssKiB), times(tw.tasksPerSec / lg.tasksPerSec)])
  return {
    name: 'fanout',
    title: '3. fanout — 1 → 10,000 → 1',
    workload: `\`list\` returns ${int(ITEMS)} numbers, one item task per number (returns it), \`aggregate\` sums the ${int(ITEMS)} outputs; concurrency ${CONCURRENCY} (also the engine default). taskweave and p-queue: ${method(ROUNDS)} LangGraph: 1 run after a ${LANGGRAPH_WARMUP_ITEMS}-item warm-up.`,
    headers: ['contender', 'items', ...COLD_WARM_HEADERS, 'tasks/s (warm)', 'peak RSS, one run', 'taskweave ÷ it (tasks/s)'],
    rows,
    targets: [{ what: 'taskweave time, 1 → 10,000 → 1 (warm)', target: '< 200 ms', measured: ms(tw.medianMs), pass: tw.medianMs < 200 }],
    notes: [
      `taskweave: \`list\` → \`each\` with \`forEach: '{{ tasks.list.output }}'\` and \`input: { value: '{{ item }}' }\` → \`aggregate\` with \`input: { values: '{{ tasks.each.output }}' }\`; the time includes validating the 3-task spec, expanding the forEach, validating every item's input against its zod schema, and reading the aggregate's output from \`result.tasks\` (which builds the report of all 10,003 tasks). The engine is created once per process.`,
      `LangGraph: \`addConditionalEdges('list', s => s.items.map(item => new Send('worker', { item })))\`, a concatenating reducer for \`results\`, then \`aggregate\`; \`invoke({}, { maxConcurrency: 64 })\`. ${langGraphReduced ? `The ${int(ITEMS)}-item run did not finish within 3 minutes, so LangGraph was measured once at ${int(LANGGRAPH_FALLBACK_ITEMS)} items (${ms(lg.medianMs)}); compare its tasks/s, not its time.` : `Measured once at ${int(ITEMS)} items (${ms(lg.medianMs)}, within the 3-minute limit, so not reduced to ${int(LANGGRAPH_FALLBACK_ITEMS)}).`} Its time includes building and compiling the graph.`,
      `Peak RSS (\`process.resourceUsage().maxRSS\`): for taskweave and p-queue the median over the cold children, which each run the workload once without warm-up; for LangGraph its one child (a ${LANGGRAPH_WARMUP_ITEMS}-item warm-up, then the measured run). Cold, taskweave takes ${ms(twBoth.cold.medianMs)} (no target).`,
      'p-queue is not a target; it shows what the same work costs with a plain promise queue (`add` the list, `add` each item, `Promise.all`, `add` the sum).',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

if (isMain(import.meta.url)) {
  if (process.argv[2] !== undefined) await childMain(contenders)
  else console.log(renderReport(await run()))
}
