/**
 * Benchmark `report`: 100,000 no-op tasks at concurrency 64 as in `noop`, but the time also covers
 * reading the per-task report, every entry of `result.tasks`, as a caller that looks at its results
 * does; p-queue keeps every task's result in an array. Then 1,000,000 tasks (taskweave alone, cold)
 * to check the whole thing stays linear: time and peak RSS at both sizes.
 * Run alone with `node --import tsx bench/report.ts`.
 * @module
 */
import { check, measure, WARM } from './lib/harness.js'
import type { ContenderResult, ContenderSpec, Sample } from './lib/harness.js'
import { atLeastBothWays, bothWays, COLD_WARM_HEADERS, coldWarmCells, measurePair, method, oneRunPeakKiB, speedup } from './lib/cold-warm.js'
import { int, median, mib, ms, times } from './lib/format.js'
import { pQueueContender } from './lib/peers.js'
import { benchMain } from './lib/main.js'
import type { BenchReport } from './lib/report.js'
import { noopEngine } from './lib/taskweave.js'
import { noopWork as work } from './lib/work.js'

const TASKS = 100_000
const BIG = 1_000_000
const CONCURRENCY = 64
const ROUNDS = 3
/** Cold children for the 1,000,000-task run (each takes seconds). */
const BIG_CHILDREN = 3


function taskweave(n: number): ContenderSpec {
  return {
    ...WARM,
    async setup() {
      const engine = await noopEngine(work, CONCURRENCY)
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const tasks = new Array<{ id: string; tool: string }>(n)
        for (let i = 0; i < n; i++) tasks[i] = { id: `t${i}`, tool: 'bench.noop' }
        const result = await engine.run({ id: 'report', tasks }, { concurrency: CONCURRENCY })
        // Every entry read, as a caller going through its results would.
        let succeeded = 0
        const reports = result.tasks
        for (const id in reports) if (reports[id]?.status === 'succeeded') succeeded++
        const elapsed = performance.now() - t0
        check(succeeded === n, `taskweave report lists ${succeeded} succeeded tasks of ${n}`)
        return { ms: elapsed, tasks: n }
      }
    },
  }
}

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  taskweave: taskweave(TASKS),
  'p-queue': pQueueContender(CONCURRENCY, async (queue) => {
    const results = new Array<{ status: string; output: undefined }>(TASKS)
    const one = (i: number) => async (): Promise<void> => {
      results[i] = { status: 'succeeded', output: await work() }
    }
    for (let i = 0; i < TASKS; i++) void queue.add(one(i))
    await queue.onIdle()
    let succeeded = 0
    for (const r of results) if (r.status === 'succeeded') succeeded++
    check(succeeded === TASKS, `p-queue recorded ${succeeded} results`)
    return { tasks: TASKS }
  }),
  'taskweave-1m': taskweave(BIG),
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const { taskweave: tw, peer: pq, ratio, all: results } = await measurePair(import.meta.url, ROUNDS)
  const big: ContenderResult[] = []
  for (let i = 0; i < BIG_CHILDREN; i++) big.push(await measure(import.meta.url, 'taskweave-1m', { env: { BENCH_COLD: '1' } }))
  const bigMs = median(big.map((b) => b.samplesMs[0] ?? 0))
  const bigRss = median(big.map((b) => b.maxRssKiB))
  const growth = bigMs / BIG / (tw.cold.medianMs / TASKS)
  const rows = Object.entries(results).map(([name, r]) => [name, int(TASKS), ...coldWarmCells(r), mib(oneRunPeakKiB(r)), r === tw ? '—' : bothWays(speedup(tw, r))])
  rows.push(['taskweave', int(BIG), '—', '—', '—', ms(bigMs), big.map((b) => int(b.samplesMs[0] ?? 0)).join(', '), ms(median(big.map((b) => b.cpuMs[0] ?? 0))), mib(bigRss), '—'])
  return {
    name: 'report',
    title: 'report — 100,000 no-op tasks including reading every `result.tasks` entry; 1,000,000 tasks',
    workload: `As \`noop\` (${int(TASKS)} independent no-op tasks, concurrency ${CONCURRENCY}), with the time running until every entry of \`result.tasks\` was read; p-queue stores a result object per task. ${method(ROUNDS)} ${int(BIG)} tasks: taskweave alone, ${BIG_CHILDREN} cold children.`,
    headers: ['contender', 'tasks', ...COLD_WARM_HEADERS, 'peak RSS, one run (median)', 'taskweave ÷ it (tasks/s)'],
    rows,
    targets: [
      ...atLeastBothWays('taskweave tasks/s ÷ p-queue tasks/s, report read', ratio, 3),
      { what: 'time per task at 1,000,000 ÷ at 100,000 (cold; linear: about 1)', target: '≤ 1.5×', measured: times(growth), pass: growth <= 1.5 },
    ],
    notes: [
      `Peak RSS of one run (cold children): taskweave ${mib(oneRunPeakKiB(tw))} at ${int(TASKS)} tasks, ${mib(bigRss)} at ${int(BIG)} (each child's: ${big.map((b) => mib(b.maxRssKiB)).join(', ')}); p-queue ${mib(oneRunPeakKiB(pq))} at ${int(TASKS)}.`,
      '"Linear" is judged on cold runs of both sizes; a figure well above 1 means the per-task cost grows with the run (the report was once built in a way that did).',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

await benchMain(import.meta.url, contenders, run)
