/**
 * Benchmark `background`: 100,000 small async functions through `engine.background` (submit, then
 * await every outcome) against p-queue running the same functions, time and peak RSS of one run.
 * `engine.background` has no concurrency limit of its own (every submitted function starts on the
 * next microtask), so p-queue runs with its default, unlimited concurrency too.
 * Run alone with `node --import tsx bench/background.ts`.
 * @module
 */
import { check, WARM } from './lib/harness.js'
import type { ContenderSpec, Sample } from './lib/harness.js'
import { atLeastBothWays, bothWays, COLD_WARM_HEADERS, coldWarmCells, measurePair, method, oneRunPeakKiB } from './lib/cold-warm.js'
import { int, mib } from './lib/format.js'
import { pQueueContender } from './lib/peers.js'
import { benchMain } from './lib/main.js'
import type { BenchReport } from './lib/report.js'

const TASKS = 100_000
/** Conversations the functions are spread over (a service has many at once). */
const CONVERSATIONS = 100
const ROUNDS = 3

/** The work of every function, the same for every contender: a small result. */
const work = async (): Promise<number> => 1

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  taskweave: {
    ...WARM,
    async setup() {
      const { createEngine } = await import('../dist/lib/index.js')
      const engine = createEngine({ builtins: false })
      const background = engine.background
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const outcomes = new Array<Promise<{ status: string } | undefined>>(TASKS)
        for (let i = 0; i < TASKS; i++) outcomes[i] = background.result(background.submit({ conversationId: `c${i % CONVERSATIONS}`, name: 'small', run: work }))
        const done = await Promise.all(outcomes)
        const ms = performance.now() - t0
        let succeeded = 0
        for (const o of done) if (o?.status === 'succeeded') succeeded++
        check(succeeded === TASKS, `engine.background: ${succeeded} of ${TASKS} succeeded`)
        // Finished tasks stay readable for a while (TTL, inbox); dropping the conversations keeps warm runs alike.
        for (let c = 0; c < CONVERSATIONS; c++) background.endConversation(`c${c}`)
        return { ms, tasks: TASKS }
      }
    },
  },
  'p-queue': pQueueContender(Infinity, async (queue) => {
    const outcomes = new Array<Promise<number>>(TASKS)
    for (let i = 0; i < TASKS; i++) outcomes[i] = queue.add(work)
    const done = await Promise.all(outcomes)
    check(done.length === TASKS, `p-queue: ${done.length} results`)
    return { tasks: TASKS }
  }),
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const { taskweave: tw, peer: pq, ratio, all } = await measurePair(import.meta.url, ROUNDS)
  const rows = Object.entries(all).map(([name, r]) => [name === 'taskweave' ? 'engine.background' : name, ...coldWarmCells(r), mib(oneRunPeakKiB(r)), r === tw ? '—' : bothWays(ratio)])
  return {
    name: 'background',
    title: 'background — 100,000 small functions through `engine.background`',
    workload: `${int(TASKS)} \`async () => 1\` functions over ${CONVERSATIONS} conversations: \`submit\` each, then await every \`result(id)\`; p-queue: \`add\` each (default concurrency, unlimited like \`engine.background\`) and \`Promise.all\`. ${method(ROUNDS)}`,
    headers: ['contender', ...COLD_WARM_HEADERS, 'peak RSS, one run (median)', 'taskweave ÷ it (tasks/s)'],
    rows,
    targets: [
      ...atLeastBothWays('engine.background tasks/s ÷ p-queue tasks/s', ratio, 1),
      { what: 'engine.background peak RSS vs p-queue (one run each)', target: '< p-queue', measured: `${mib(oneRunPeakKiB(tw))} vs ${mib(oneRunPeakKiB(pq))}`, pass: oneRunPeakKiB(tw) < oneRunPeakKiB(pq) },
    ],
    notes: [
      'The engine is created once per process (`builtins: false`, default background settings: finished tasks kept 10 minutes, at most 10,000); after each timed run the benchmark ends the 100 conversations so the next warm run starts from the same state (not timed).',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

await benchMain(import.meta.url, contenders, run)
