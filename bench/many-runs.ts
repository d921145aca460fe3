/**
 * Benchmark `many-runs`: 10,000 runs of a 5-task diamond (`a` → `b`, `c`, `d` → `e`), 100 runs in
 * flight, the conversation use case (many small runs rather than one big one). taskweave
 * (`engine.run` per run) against p-queue running the same 50,000 functions with the same
 * dependencies (each run's `b`, `c`, `d` wait for its `a`, its `e` for all three), the same 100 runs
 * in flight and the same engine-wide concurrency. Run alone with `node --import tsx bench/many-runs.ts`.
 * @module
 */
import type { Engine, RunResult } from '../dist/index.js'
import { check, measureColdWarm, WARM } from './lib/harness.js'
import type { ColdWarm, ContenderResult, ContenderSpec, Sample } from './lib/harness.js'
import { atLeastBothWays, bothWays, COLD_WARM_HEADERS, coldWarmCells, method, speedup } from './lib/cold-warm.js'
import { int } from './lib/format.js'
import { pQueueContender } from './lib/peers.js'
import { benchMain } from './lib/main.js'
import type { BenchReport } from './lib/report.js'
import { noopEngine } from './lib/taskweave.js'
import { noopWork as work } from './lib/work.js'

const RUNS = 10_000
const TASKS_PER_RUN = 5
const IN_FLIGHT = 100
/** Tasks running at once across all runs: the engine's slots, p-queue's concurrency. */
const CONCURRENCY = 64
const ROUNDS = 3


/** Runs `one(k)` for k = 0 … RUNS-1 with at most IN_FLIGHT at once (the same driver for every contender). */
async function drive(one: () => Promise<boolean>): Promise<number> {
  let started = 0
  let ok = 0
  const lane = async (): Promise<void> => {
    while (started < RUNS) {
      started++
      if (await one()) ok++
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  return ok
}

/** A new spec object per run, as a service building each conversation's run would. */
function diamond(): { id: string; tasks: { id: string; tool: string; dependsOn?: string[] }[] } {
  return {
    id: 'diamond',
    tasks: [
      { id: 'a', tool: 'bench.noop' },
      { id: 'b', tool: 'bench.noop', dependsOn: ['a'] },
      { id: 'c', tool: 'bench.noop', dependsOn: ['a'] },
      { id: 'd', tool: 'bench.noop', dependsOn: ['a'] },
      { id: 'e', tool: 'bench.noop', dependsOn: ['b', 'c', 'd'] },
    ],
  }
}

/** taskweave, each run through `one(engine)`: `engine.run`, or `engine.start` and its handle's result. */
function taskweave(one: (engine: Engine) => Promise<RunResult>): ContenderSpec {
  return {
    ...WARM,
    async setup() {
      const engine = await noopEngine(work, CONCURRENCY)
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const ok = await drive(async () => (await one(engine)).status === 'succeeded')
        const ms = performance.now() - t0
        check(ok === RUNS, `taskweave: ${ok} of ${RUNS} runs succeeded`)
        return { ms, tasks: RUNS * TASKS_PER_RUN }
      }
    },
  }
}

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  taskweave: taskweave((engine) => engine.run(diamond())),
  // What a service that follows or cancels its runs pays: a handle per run (not a target).
  'taskweave (engine.start)': taskweave((engine) => engine.start(diamond()).result),
  'p-queue': pQueueContender(CONCURRENCY, async (queue) => {
    const ok = await drive(async () => {
      await queue.add(work)
      await Promise.all([queue.add(work), queue.add(work), queue.add(work)])
      await queue.add(work)
      return true
    })
    check(ok === RUNS, `p-queue: ${ok} of ${RUNS} runs`)
    return { tasks: RUNS * TASKS_PER_RUN }
  }),
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const all = await measureColdWarm(import.meta.url, ['taskweave', 'p-queue', 'taskweave (engine.start)'], { rounds: ROUNDS })
  const tw = all['taskweave'] as ColdWarm
  const pq = all['p-queue'] as ColdWarm
  const ratio = speedup(tw, pq)
  const runsPerSec = (r: ContenderResult): string => int((r.tasks / TASKS_PER_RUN / r.medianMs) * 1000)
  const rows = Object.entries(all).map(([name, r]) => [name, runsPerSec(r.warm), runsPerSec(r.cold), ...coldWarmCells(r), r === pq ? '—' : bothWays(speedup(r, pq))])
  return {
    name: 'many-runs',
    title: 'many-runs — 10,000 runs of a 5-task diamond, 100 in flight',
    workload: `${int(RUNS)} runs of \`a → (b, c, d) → e\`, no-op async work, ${IN_FLIGHT} runs in flight, ${CONCURRENCY} tasks at once across runs. ${method(ROUNDS)}`,
    headers: ['contender', 'runs/s (warm)', 'runs/s (cold)', ...COLD_WARM_HEADERS, 'it ÷ p-queue (runs/s)'],
    rows,
    targets: atLeastBothWays('taskweave runs/s ÷ p-queue runs/s', ratio, 1),
    notes: [
      'taskweave: `engine.run(spec)` per run with a new 5-task spec object each time (validation and compilation included), on one engine (`concurrency: 64`) created outside the timing; a run counts once its result is in.',
      'taskweave (engine.start): the same runs through `engine.start(spec)` and its handle\'s `result`, as a service that follows or cancels its runs would; shown beside the target, not judged.',
      'p-queue: one queue (`concurrency: 64`) shared by all runs; a run `add()`s `a`, awaits it, `add()`s `b`, `c`, `d` and awaits all three, then `add()`s `e`. Both contenders use the same driver: 100 async lanes, each starting the next run when its previous one ended.',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

await benchMain(import.meta.url, contenders, run)
