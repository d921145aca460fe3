// An owner process for the distributed takeover test: it starts a durable run on a PostgreSQL
// store whose tasks run on `taskweave worker` processes through a broker, prints "started <runId>"
// and goes on until it is killed. Its lease is short, so another process may take the run over
// soon after it dies.
//
// Usage: node owner-child.mjs <pgUrl> <schema> <type> <brokerUrl> <prefix> <runId> <tasks> <ms>
import { createEngine } from '../../dist/lib/index.js'
import { createRemoteRunner } from '../../dist/lib/distributed.js'
import { createTransport } from '../../dist/queues/index.js'
import { openPostgresStore } from '../../dist/stores/postgres/index.js'
import { work } from './fixture-tools.mjs'

const [pgUrl, schema, type, url, prefix, runId, count, ms] = process.argv.slice(2)
const store = await openPostgresStore({ connectionString: pgUrl, schema })
const transport = await createTransport({ type, url, prefix })
const runner = createRemoteRunner({ transport, reconcileEveryMs: 1000 })
await runner.listen()
const engine = createEngine({ tools: [work], builtins: false, runner, store, concurrency: 4, durability: { owner: `owner-child-${process.pid}`, leaseTtlMs: 2000 } })
const tasks = Array.from({ length: Number(count) }, (_, k) => ({ id: `t${k}`, tool: 'ledger.work', input: { n: k, ms: Number(ms) } }))
const handle = engine.start({ id: 'taken-over', tasks }, { runId })
console.log(`started ${handle.id}`)
await handle.result
console.log('finished')
