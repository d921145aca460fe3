// A process that starts or resumes one durable run on a SQLite store, for the wall-clock jump
// test (RELIABILITY CK-01); the test runs the resume under libfaketime. `flaky` tasks fail their
// first attempt and are retried after `delayMs` (no jitter); `slow` tasks take 1.5 s under a 30 s
// timeout. Every start of a tool is appended to `<db>.starts`. Started, it prints `ready` once
// every flaky task waits for its retry and every slow one runs (the test then kills it); resumed,
// it prints one JSON line: the run's status, its timeouts, its time and the warnings logged.
//
// Usage: node clock-child.mjs <db> <runId> <start|resume> <delayMs>
import { appendFileSync } from 'node:fs'
import { z } from 'zod'
import { createEngine, defineTool } from '../../dist/lib/index.js'
import { openSqliteStore } from '../../dist/stores/sqlite/index.js'

const [db, runId, mode, delayArg] = process.argv.slice(2)
const delayMs = Number(delayArg)
const FLAKY = 50
const SLOW = 50

const started = (taskId, attempt) => appendFileSync(`${db}.starts`, `${taskId}#${attempt}\n`)
const flaky = defineTool({
  name: 'flaky',
  input: z.object({}),
  run: (_input, ctx) => {
    started(ctx.taskId, ctx.attempt)
    if (ctx.attempt === 1) throw Object.assign(new Error('first attempts fail'), { retryable: true })
    return ctx.attempt
  },
})
const slow = defineTool({
  name: 'slow',
  input: z.object({}),
  run: async (_input, ctx) => {
    started(ctx.taskId, ctx.attempt)
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, 1500)
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true })
    })
    return 'done'
  },
})

const tasks = []
for (let k = 0; k < FLAKY; k++) tasks.push({ id: `flaky${k}`, tool: 'flaky', retry: { maxAttempts: 3, initialDelay: delayMs, maxDelay: delayMs, jitter: 'none' } })
for (let k = 0; k < SLOW; k++) tasks.push({ id: `slow${k}`, tool: 'slow', timeout: '30s' })

const warnings = []
const logger = { debug() {}, info() {}, warn: (message) => void warnings.push(message), error: (message) => void warnings.push(message) }
logger.child = () => logger
const store = await openSqliteStore({ path: db })
const engine = createEngine({ tools: [flaky, slow], store, builtins: false, logger, concurrency: 200 })
const t0 = performance.now()
if (mode === 'start') {
  const handle = engine.start({ id: 'clock', tasks }, { runId })
  let retrying = 0
  let running = 0
  // Ready once the store holds what the resume must find: every retry's due time and every slow start.
  const check = async () => {
    if (retrying !== FLAKY || running !== SLOW) return
    for (;;) {
      const entries = (await store.load(runId))?.entries ?? []
      const fails = entries.filter((e) => e.kind === 'fail').length
      const starts = entries.filter((e) => e.kind === 'start' && e.taskId.startsWith('slow')).length
      if (fails === FLAKY && starts === SLOW) break
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    process.stdout.write('ready\n')
  }
  handle.on('task:retrying', () => {
    retrying++
    void check()
  })
  handle.on('task:started', (event) => {
    if (event.taskId.startsWith('slow')) running++
    void check()
  })
  await new Promise(() => {})
} else {
  const handle = await engine.resume(runId)
  const result = await handle.result
  const ms = Math.round(performance.now() - t0)
  await engine.close()
  await store.close()
  const timeouts = Object.values(result.tasks).filter((task) => task.error?.code === 'TW_TIMEOUT').length
  process.stdout.write(`${JSON.stringify({ status: result.status, counts: result.counts, timeouts, ms, now: new Date().toISOString(), warnings })}\n`)
}
