// A process that runs (or resumes) one durable run of a 2,000-task DAG on a SQLite store, for the
// crash tests: they kill it with SIGKILL (at a named crash point, or at a random time) and start
// it again until the run has finished. Its tool writes a ledger line when an attempt starts and
// when it ends (appendFileSync: a killed process cannot lose what the kernel already has), the
// oracle the tests check the store against.
//
// Usage: node crash-child.mjs <db> <ledger> <runId> [layers] [width]
import { appendFileSync } from 'node:fs'
import { z } from 'zod'
import { createEngine, defineTool } from '../../dist/lib/index.js'
import { openSqliteStore } from '../../dist/stores/sqlite/index.js'

const [db, ledger, runId, layersArg, widthArg] = process.argv.slice(2)
const layers = Number(layersArg ?? 40)
const width = Number(widthArg ?? 50)

const work = defineTool({
  name: 'ledger.work',
  input: z.object({ n: z.number() }),
  run: async ({ n }, ctx) => {
    appendFileSync(ledger, `${JSON.stringify({ runId: ctx.runId, taskId: ctx.taskId, attempt: ctx.attempt, pid: process.pid, phase: 'start' })}\n`)
    // A little real waiting, so kills land while attempts are in flight.
    if (n % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    else await new Promise((resolve) => setImmediate(resolve))
    appendFileSync(ledger, `${JSON.stringify({ runId: ctx.runId, taskId: ctx.taskId, attempt: ctx.attempt, pid: process.pid, phase: 'end' })}\n`)
    return { n }
  },
})

function dag() {
  const tasks = []
  for (let l = 0; l < layers; l++) {
    for (let k = 0; k < width; k++) {
      const id = `t${l}_${k}`
      const dependsOn = l === 0 ? [] : [`t${l - 1}_${k}`, `t${l - 1}_${(k + 1) % width}`]
      tasks.push({ id, tool: 'ledger.work', input: { n: l * width + k }, ...(dependsOn.length > 0 ? { dependsOn } : {}) })
    }
  }
  return { id: 'crash-dag', tasks, limits: { concurrency: 16 } }
}

const store = await openSqliteStore({ path: db })
// Random kills may interrupt the same task several times: it must still run again, not fail TW_UNCERTAIN.
// MAX_STARTS sets the default back (3) for a test that counts the starts a crash loop burns.
const engine = createEngine({ tools: [work], store, builtins: false, durability: { maxStartsWithoutOutcome: Number(process.env.MAX_STARTS ?? 1_000) } })
const existing = await store.load(runId)
let result
if (existing?.status !== undefined && existing.status !== 'running') result = { status: existing.status }
else {
  const handle = existing === undefined ? engine.start(dag(), { runId }) : await engine.resume(runId)
  // The test times its random kill from here, so a slow start (a loaded machine) still leaves
  // time for the run to make progress between kills.
  process.stdout.write('ready\n')
  result = await handle.result
}
await engine.close()
await store.close()
process.stdout.write(`${JSON.stringify({ status: result.status })}\n`)
