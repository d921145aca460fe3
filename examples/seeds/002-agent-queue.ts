/**
 * Seed 002, "manage the io of the agent with a message queue": agent executions travel through a
 * queue to workers that hold each session's agent instance. The queue is the one
 * `MESSAGE_QUEUE_TYPE` names — `memory` (one process), `redis` (`REDIS_URL`) or `rabbitmq`
 * (`RABBITMQ_URL`) — and `TASK_MANAGER_WORKERS` / `INSTANCE_TIMEOUT` set each worker's
 * concurrency and how long an idle session's instance is kept, as in the seed.
 *
 * The client (an engine with a remote runner) submits executions as agent tasks
 * (`agent#session`); two workers run them; a session's later executions go to the worker that
 * holds its instance, so the conversation continues where it was.
 *
 * Run: MESSAGE_QUEUE_TYPE=redis npx tsx examples/seeds/002-agent-queue.ts
 */
import { z } from 'zod'
import { createEngine, defineAgent, sleep, systemClock } from 'taskweave'
import { createRemoteRunner, startWorker, workerSettingsFromEnv } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import { createMemoryBroker, createMemoryTransport, createTransport, messageQueueOptionsFromEnv } from 'taskweave/queues'
import type { Transport, TransportStats } from 'taskweave/queues'

/** A conversation agent: each instance remembers its session's messages and says which worker holds it. */
function createAssistant(worker: string) {
  return defineAgent({
    name: 'assistant',
    input: z.object({ message: z.string().min(1) }),
    create: (sessionId) => ({ sessionId, worker, history: [] as string[] }),
    async execute(conversation, { message }, ctx) {
      await sleep(systemClock, 20, ctx.signal) // the model's latency
      conversation.history.push(message)
      return { reply: `${conversation.sessionId}: turn ${conversation.history.length} ("${message}")`, turn: conversation.history.length, worker: conversation.worker }
    },
  })
}

/** What the example shows, for the tests. */
export interface SeedTwoQueueResult {
  readonly queueType: string
  /** conv-1's three turns, in order. */
  readonly turns: readonly { readonly reply: string; readonly turn: number; readonly worker: string }[]
  /** Which worker served each of the parallel sessions. */
  readonly parallel: Readonly<Record<string, string>>
  readonly stats: TransportStats
}

/** Runs the example against the queue the environment names (`prefix` keeps runs on a shared broker apart). */
export async function main(env: Readonly<Record<string, string | undefined>> = process.env, log: (line: string) => void = console.log, prefix = 'seed-002'): Promise<SeedTwoQueueResult> {
  const queue = messageQueueOptionsFromEnv(env)
  const broker = queue.type === 'memory' ? createMemoryBroker() : undefined
  // Each party has its own connection, as separate processes would.
  const open = (): Promise<Transport> => (broker !== undefined ? Promise.resolve(createMemoryTransport({ broker })) : createTransport({ type: queue.type, ...(queue.url !== undefined ? { url: queue.url } : {}), prefix }))
  const settings = workerSettingsFromEnv(env)
  const handles: Transport[] = []
  const workers: Worker[] = []
  try {
    for (const name of ['worker-a', 'worker-b']) {
      const transport = await open()
      handles.push(transport)
      workers.push(await startWorker({ transport, agents: [createAssistant(name)], builtins: false, worker: `${prefix}-${name}`, heartbeatMs: 500, ...settings }))
    }
    const transport = await open()
    handles.push(transport)
    const runner = createRemoteRunner({ transport })
    await runner.listen()
    await using engine = createEngine({ agents: [createAssistant('client')], builtins: false, runner })

    // Standard execution and session reuse: three turns of conv-1, one after the other.
    const turns: { reply: string; turn: number; worker: string }[] = []
    for (const message of ['Hi there', 'What did I say?', 'And now?']) {
      const result = await engine.run({ id: 'chat', tasks: [{ id: 'turn', agent: 'assistant', session: 'conv-1', input: { message } }] })
      const output = result.tasks['turn']?.output as { reply: string; turn: number; worker: string }
      turns.push(output)
      log(`conv-1 → ${output.reply} [${output.worker}]`)
    }

    // Different sessions in parallel, spread over the workers.
    const sessions = ['conv-2', 'conv-3', 'conv-4', 'conv-5']
    const result = await engine.run({ id: 'many', tasks: sessions.map((session) => ({ id: session, agent: 'assistant', session, input: { message: `hello from ${session}` } })) })
    const parallel = Object.fromEntries(sessions.map((session) => [session, (result.tasks[session]?.output as { worker: string }).worker]))
    log(`parallel ${JSON.stringify(parallel)}`)

    const stats = await transport.stats()
    log(`queue (${queue.type}) ${JSON.stringify(stats.queues)}; workers ${stats.workers.map((w) => w.worker).join(', ')}`)
    return { queueType: queue.type, turns, parallel, stats }
  } finally {
    for (const worker of workers) await worker.close({ graceMs: 1000 })
    for (const handle of handles) await handle.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
