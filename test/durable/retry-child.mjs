// A process that runs (or resumes) one durable run of a single task that fails five times and then
// succeeds, with exponential backoff, on a SQLite store: the crash test kills it while a retry
// waits and starts it again. Its tool writes a ledger line (attempt, phase, wall time) at each
// start and failure, the oracle the test checks the schedule against.
//
// Usage: node retry-child.mjs <db> <ledger> <runId>
import { appendFileSync } from 'node:fs'
import { z } from 'zod'
import { createEngine, defineTool } from '../../dist/lib/index.js'
import { openSqliteStore } from '../../dist/stores/sqlite/index.js'

const [db, ledger, runId] = process.argv.slice(2)

const note = (ctx, phase) => appendFileSync(ledger, `${JSON.stringify({ attempt: ctx.attempt, phase, at: Date.now(), pid: process.pid })}\n`)

const flaky = defineTool({
  name: 'flaky',
  input: z.object({}),
  run: async (_input, ctx) => {
    note(ctx, 'start')
    if (ctx.attempt <= 5) {
      note(ctx, 'fail')
      throw new Error(`attempt ${ctx.attempt} fails`)
    }
    return 'done'
  },
})

const flow = { id: 'backoff', tasks: [{ id: 'flaky', tool: 'flaky', retry: { maxAttempts: 6, initialDelay: 150, factor: 2, jitter: 'none' } }] }

const store = await openSqliteStore({ path: db })
const engine = createEngine({ tools: [flaky], store, builtins: false })
const existing = await store.load(runId)
const handle = existing === undefined ? engine.start(flow, { runId }) : await engine.resume(runId)
process.stdout.write('ready\n')
const result = await handle.result
await engine.close()
await store.close()
process.stdout.write(`${JSON.stringify({ status: result.status, attempts: result.tasks['flaky']?.attempts })}\n`)
