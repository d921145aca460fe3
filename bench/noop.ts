/**
 * Benchmark `noop`: 100,000 independent no-op async tasks at concurrency 64. Measures the cost of
 * scheduling alone: taskweave (one workflow of 100,000 tasks, validation included) against p-queue
 * and p-limit. Run alone with `node --import tsx bench/noop.ts`.
 * @module
 */
import { check, childMain, isMain, measureColdWarm, WARM } from './lib/harness.js'
import type { ColdWarm, ContenderSpec } from './lib/harness.js'
import { baseRssKiB, bothWays, COLD_WARM_HEADERS, coldWarmCells, method, oneRunPeakKiB, speedup } from './lib/cold-warm.js'
import { int, mib, times } from './lib/format.js'
import { renderReport } from './lib/report.js'
import type { BenchReport } from './lib/report.js'
import { noopEngine } from './lib/taskweave.js'

const TASKS = 100_000
const CONCURRENCY = 64
/** Children per contender and mode (warm, cold), started in turn. */
const ROUNDS = 5

/** The work of every task, the same function for every contender. */
const work = async (): Promise<undefined> => undefined

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  taskweave: {
    ...WARM,
    async setup() {
      const engine = await noopEngine(work, CONCURRENCY)
      return async () => {
        const t0 = performance.now()
        const tasks: { id: string; tool: string }[] = new Array<{ id: string; tool: string }>(TASKS)
        for (let i = 0; i < TASKS; i++) tasks[i] = { id: `t${i}`, tool: 'bench.noop' }
        const result = await engine.run({ id: 'noop', tasks }, { concurrency: CONCURRENCY })
        const ms = performance.now() - t0
        check(result.status === 'succeeded' && result.counts.succeeded === TASKS, `taskweave run ended ${result.status} with ${result.counts.succeeded} succeeded`)
        // Whether the engine defers the per-task report to the first read of `result.tasks` (not read here).
        const lazyReport = Object.getOwnPropertyDescriptor(result, 'tasks')?.get !== undefined
        return { ms, tasks: TASKS, info: { lazyReport } }
      }
    },
  },
  'p-queue': {
    ...WARM,
    async setup() {
      const { default: PQueue } = await import('p-queue')
      return async () => {
        const t0 = performance.now()
        const queue = new PQueue({ concurrency: CONCURRENCY })
        let done = 0
        const counted = async (): Promise<void> => {
          await work()
          done++
        }
        for (let i = 0; i < TASKS; i++) void queue.add(counted)
        await queue.onIdle()
        const ms = performance.now() - t0
        check(done === TASKS, `p-queue ran ${done} tasks`)
        return { ms, tasks: TASKS }
      }
    },
  },
  'p-limit': {
    ...WARM,
    async setup() {
      const { default: pLimit } = await import('p-limit')
      return async () => {
        const t0 = performance.now()
        const limit = pLimit(CONCURRENCY)
        const all: Promise<undefined>[] = new Array<Promise<undefined>>(TASKS)
        for (let i = 0; i < TASKS; i++) all[i] = limit(work)
        const results = await Promise.all(all)
        const ms = performance.now() - t0
        check(results.length === TASKS, `p-limit ran ${results.length} tasks`)
        return { ms, tasks: TASKS }
      }
    },
  },
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const names = Object.keys(contenders)
  const results = await measureColdWarm(import.meta.url, names, { rounds: ROUNDS })
  const tw = results['taskweave'] as ColdWarm
  const pq = results['p-queue'] as ColdWarm
  const rows = names.map((name) => {
    const r = results[name] as ColdWarm
    const peaks = r.coldChildren.map((c) => (c.maxRssKiB / 1024).toFixed(0)).join(', ')
    return [name, int(r.warm.tasksPerSec), ...coldWarmCells(r), `${mib(oneRunPeakKiB(r))} (${peaks})`, mib(baseRssKiB(r)), r === tw ? '—' : bothWays(speedup(tw, r))]
  })
  const vsPq = speedup(tw, pq)
  return {
    name: 'noop',
    title: '1. noop — 100,000 no-op tasks, concurrency 64',
    workload: `${int(TASKS)} independent tasks, each \`async () => undefined\`, concurrency ${CONCURRENCY}. ${method(ROUNDS)}`,
    headers: ['contender', 'tasks/s (warm)', ...COLD_WARM_HEADERS, 'peak RSS, one run: median (each)', 'RSS before work', 'taskweave ÷ it (tasks/s)'],
    rows,
    targets: [
      { what: 'taskweave tasks/s ÷ p-queue tasks/s (warm)', target: '≥ 2×', measured: times(vsPq.warm), pass: vsPq.warm >= 2 },
      { what: 'taskweave peak RSS vs p-queue peak RSS (one run each)', target: '≤ p-queue', measured: `${mib(oneRunPeakKiB(tw))} vs ${mib(oneRunPeakKiB(pq))}`, pass: oneRunPeakKiB(tw) <= oneRunPeakKiB(pq) },
    ],
    notes: [
      `taskweave time runs from building the 100,000-task spec array through \`await engine.run(spec, { concurrency: 64 })\`, so it includes schema validation and compilation of the workflow and the run. ${tw.warm.info['lazyReport'] === true ? 'The engine builds the per-task report (`result.tasks`) lazily on first read; the benchmark reads only `status` and `counts`, so the timing does not include that report (p-queue and p-limit produce none either; `report.ts` measures it).' : 'It also includes building the per-task report (`result.tasks`).'} The engine (\`builtins: false\`) is created once per process, outside the timing.`,
      `Cold taskweave ÷ p-queue: ${times(vsPq.cold)} (no target).`,
      'CPU time is user + system time of the child (all its threads, GC included) during a timed run: on a busy machine it moves less than wall time and shows the work each library does.',
      'p-queue: `new PQueue({ concurrency: 64 })`, 100,000 `add()`, then `onIdle()`. p-limit: `pLimit(64)` over 100,000 calls and `Promise.all`. Their timing includes creating the queue/limiter.',
      `Peak RSS is \`process.resourceUsage().maxRSS\` of a contender's own child. "One run" (the figure judged against the target) is the median over the cold children, which each run the workload exactly once (each child's peak in MiB in brackets). Every child loads tsx; the taskweave child also loads \`dist/\` and zod. "RSS before work" is the cold children's RSS after those imports, before the first task — a floor included in their peak.`,
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

if (isMain(import.meta.url)) {
  if (process.argv[2] !== undefined) await childMain(contenders)
  else console.log(renderReport(await run()))
}
