// A process that runs (or resumes) one orchestrator workflow on a SQLite store, for the crash test
// of WorkflowOrchestrator's checkpointing: `plan` has a completion handler add 30 `fetch` tasks
// and a `merge` after them. Each agent writes a ledger line when it starts and when it ends
// (appendFileSync: what the kernel has survives a SIGKILL), the oracle the test checks.
//
// Usage: node orchestrator-child.mjs <db> <ledger> start|resume
import { appendFileSync } from 'node:fs'
import { createEngine } from '../../dist/lib/index.js'
import { WorkflowOrchestrator } from '../../dist/lib/compat-beeai.js'
import { openSqliteStore } from '../../dist/stores/sqlite/index.js'

const [db, ledger, mode] = process.argv.slice(2)
const FETCHES = 30

const logged = (agent) => async (data, ctx) => {
  appendFileSync(ledger, `${JSON.stringify({ taskId: ctx.taskId, pid: process.pid, phase: 'start' })}\n`)
  await new Promise((resolve) => setTimeout(resolve, 3))
  const output = agent(data, ctx)
  appendFileSync(ledger, `${JSON.stringify({ taskId: ctx.taskId, pid: process.pid, phase: 'end' })}\n`)
  return output
}

const store = await openSqliteStore({ path: db })
const engine = createEngine({ store, builtins: false, concurrency: 4 })
const orchestrator = new WorkflowOrchestrator({
  engine,
  name: 'nightly',
  dynamicTasks: true,
  agents: {
    plan: logged(() => ({ sources: FETCHES })),
    fetch: logged((data) => ({ source: data.source })),
    merge: logged((_data, ctx) => ({ merged: Object.keys(ctx.dependencies).length })),
  },
})
orchestrator.onTaskComplete('plan', (result, run) => {
  const ids = []
  for (let k = 0; k < result.output.sources; k++) {
    ids.push(`fetch_${k}`)
    // Braces a template would read: the data must come back as written after the crash.
    run.addTask({ id: `fetch_${k}`, agentType: 'fetch', data: { source: `{{ source ${k} }}` } })
  }
  run.addTask({ id: 'merge', agentType: 'merge', dependencies: ids })
})

let result
if (mode === 'start') {
  orchestrator.addTask({ id: 'plan', agentType: 'plan' })
  const running = orchestrator.executeWorkflow({ runId: 'nightly-1' })
  process.stdout.write('ready\n')
  result = await running
} else {
  const unfinished = await store.list({ status: 'running', labels: { orchestrator: 'nightly' } })
  if (unfinished.length !== 1) throw new Error(`expected one unfinished run, found ${unfinished.length}`)
  result = await orchestrator.resumeWorkflow(unfinished[0].runId)
}
await engine.close()
await store.close()
process.stdout.write(`${JSON.stringify({ status: result.status, results: result.results, handlerErrors: result.handlerErrors })}\n`)
