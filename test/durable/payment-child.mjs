// A process that runs (or resumes) one durable checkout run on a SQLite store, for the
// uncertain-outcome crash test (RELIABILITY CR-05): each `pay` task charges a card through a
// loopback payment service, sending its `ctx.idempotencyKey` as the `Idempotency-Key` header, and
// is marked `idempotent: false` with the `onUncertain` policy given. The test kills it with a crash
// point after the charges were applied and before their outcomes were committed, then starts it
// again. It prints one JSON line: the run's status and the tasks it parked.
//
// Usage: node payment-child.mjs <db> <runId> <retry|park> <paymentUrl> <payments>
import { z } from 'zod'
import { createEngine, defineTool } from '../../dist/lib/index.js'
import { openSqliteStore } from '../../dist/stores/sqlite/index.js'

const [db, runId, policy, paymentUrl, paymentsArg] = process.argv.slice(2)
const payments = Number(paymentsArg ?? 5)

const pay = defineTool({
  name: 'payment.charge',
  input: z.object({ order: z.string(), cents: z.number() }),
  idempotent: false,
  run: async ({ order, cents }, ctx) => {
    const response = await fetch(paymentUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey }, body: JSON.stringify({ order, cents }), signal: ctx.signal })
    if (!response.ok) throw new Error(`payment service answered ${response.status}`)
    return await response.json()
  },
})
const receipt = defineTool({ name: 'payment.receipt', input: z.object({ charge: z.object({ chargeId: z.string() }) }), run: ({ charge }) => `receipt for ${charge.chargeId}` })

const tasks = []
for (let k = 1; k <= payments; k++) {
  tasks.push({ id: `pay${k}`, tool: 'payment.charge', input: { order: `order-${k}`, cents: 100 * k }, onUncertain: policy })
  tasks.push({ id: `receipt${k}`, tool: 'payment.receipt', input: { charge: `{{ tasks.pay${k}.output }}` } })
}

const store = await openSqliteStore({ path: db })
const engine = createEngine({ tools: [pay, receipt], store, builtins: false })
const existing = await store.load(runId)
const handle = existing === undefined ? engine.start({ id: 'checkout', tasks }, { runId }) : await engine.resume(runId)
const parked = []
handle.on('run:parked', (event) => void parked.push(event.taskId))
const result = await handle.result
await engine.close()
await store.close()
process.stdout.write(`${JSON.stringify({ status: result.status, parked, outputs: Object.fromEntries(Object.entries(result.tasks).map(([id, task]) => [id, task.output])) })}\n`)
