/**
 * Seed 002, "async task management", in TypeScript: the seed's AgentTaskManager is taskweave's
 * agent session pool (`AgentSessionPool` from `taskweave/agents`), which runs agent
 * executions from an in-memory queue, keeps one agent instance per `agent#session` (conversation
 * context survives between requests), streams chunks in a standard shape, cleans up idle
 * instances, and reports health and metrics.
 *
 * This pool runs the executions in this process (the seed's `MESSAGE_QUEUE_TYPE=memory`); with
 * `redis` or `rabbitmq`, executions travel through the broker to worker processes: see
 * `002-agent-queue.ts`.
 *
 * Run: npx tsx examples/seeds/002-agent-sessions.ts
 */
import { z } from 'zod'
import { AgentSessionPool, defineAgent } from 'taskweave/agents'
import type { AgentChunk, AgentPoolHealth, AgentPoolMetrics } from 'taskweave/agents'
import { sleep, systemClock } from 'taskweave'

/** The seed's settings, read from the environment with the seed's defaults. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): { maxConcurrent: number; idleTimeoutMs: number } {
  const queueType = env['MESSAGE_QUEUE_TYPE'] ?? 'memory'
  if (queueType !== 'memory') {
    throw new Error(`MESSAGE_QUEUE_TYPE=${queueType}: this example's pool runs executions in this process; for executions through a ${queueType} queue to workers, run examples/seeds/002-agent-queue.ts`)
  }
  return {
    maxConcurrent: Number(env['TASK_MANAGER_WORKERS'] ?? 10), // TASK_MANAGER_WORKERS=10
    idleTimeoutMs: Number(env['INSTANCE_TIMEOUT'] ?? 7200) * 1000, // INSTANCE_TIMEOUT=7200 (seconds)
  }
}

/** A conversation agent instance: what the seed's framework used to rebuild on every request. */
interface Conversation {
  readonly id: number
  readonly sessionId: string
  readonly history: { role: 'user' | 'assistant'; text: string }[]
}

/** Counts kept by the example's agent, to show instance reuse and parallelism. */
interface Observed {
  instances: number
  running: number
  maxRunning: number
}

/** A stand-in for an LLM-backed agent: ~25 ms "model latency", history kept in the instance. */
function createAssistant(observed: Observed) {
  return defineAgent({
    name: 'assistant',
    description: 'Answers in a conversation, remembering what was said before.',
    input: z.object({ message: z.string().min(1) }),
    async create(sessionId, signal): Promise<Conversation> {
      await sleep(systemClock, 10, signal) // loading prompts, tools, a client…
      return { id: ++observed.instances, sessionId, history: [] }
    },
    async execute(conversation: Conversation, { message }, ctx) {
      observed.running++
      observed.maxRunning = Math.max(observed.maxRunning, observed.running)
      try {
        await sleep(systemClock, 25, ctx.signal)
        const reply = respond(conversation, message)
        return { reply, turn: conversation.history.length / 2, instance: conversation.id }
      } finally {
        observed.running--
      }
    },
    async *stream(conversation: Conversation, { message }, ctx) {
      const reply = respond(conversation, message)
      for (const token of reply.split(/(?<= )/)) {
        await sleep(systemClock, 2, ctx.signal)
        yield token
      }
      return { turn: conversation.history.length / 2, instance: conversation.id }
    },
    dispose(conversation: Conversation) {
      conversation.history.length = 0
    },
  })
}

function respond(conversation: Conversation, message: string): string {
  const turn = conversation.history.filter((m) => m.role === 'user').length + 1
  const reply = turn === 1 ? `Hello! You said "${message}".` : `Turn ${turn}: you said "${message}", after ${turn - 1} earlier message(s).`
  conversation.history.push({ role: 'user', text: message }, { role: 'assistant', text: reply })
  return reply
}

/** What the example shows, for the tests. */
export interface SeedTwoResult {
  readonly first: { reply: string; turn: number; instance: number }
  readonly second: { reply: string; turn: number; instance: number }
  readonly streamed: { readonly text: string; readonly chunks: readonly AgentChunk<string>[] }
  readonly parallel: { readonly sessions: number; readonly maxRunning: number }
  readonly health: AgentPoolHealth
  readonly metrics: AgentPoolMetrics
  readonly afterClose: AgentPoolMetrics
}

/** Runs the example and returns what it saw. */
export async function main(log: (line: string) => void = console.log): Promise<SeedTwoResult> {
  const config = configFromEnv({})
  const observed: Observed = { instances: 0, running: 0, maxRunning: 0 }
  const assistant = createAssistant(observed)
  const manager = new AgentSessionPool({ agents: [assistant], maxConcurrent: config.maxConcurrent, idleTimeout: config.idleTimeoutMs })
  try {
    // Standard execution: the first request of a session creates its agent instance.
    const first = await manager.execute(assistant, 'conv-1', { message: 'Hi there' })
    log(`standard  conv-1 → ${first.reply}`)
    // Session reuse: the same instance answers, with the conversation so far.
    const second = await manager.execute(assistant, 'conv-1', { message: 'What did I say?' })
    log(`reuse     conv-1 → ${second.reply} (instance #${second.instance})`)

    // Streaming execution: delta chunks, then done (or error), each with its index.
    const chunks: AgentChunk<string>[] = []
    for await (const chunk of manager.stream(assistant, 'conv-1', { message: 'Stream it' })) chunks.push(chunk)
    const text = chunks.map((c) => (c.type === 'delta' ? c.data : '')).join('')
    log(`streaming conv-1 → ${text} [${chunks.length} chunks, last: ${chunks.at(-1)?.type}]`)

    // Different sessions run in parallel (up to TASK_MANAGER_WORKERS at once).
    observed.maxRunning = 0
    const sessions = ['conv-2', 'conv-3', 'conv-4']
    await Promise.all(sessions.map((id) => manager.execute(assistant, id, { message: `hello from ${id}` })))
    log(`parallel  ${sessions.length} sessions, up to ${observed.maxRunning} at once`)

    const health = manager.health()
    const metrics = manager.metrics()
    log(`health    ${JSON.stringify(health)}`)
    log(`metrics   ${JSON.stringify(metrics.agents['assistant'])}`)
    await manager.close()
    const afterClose = manager.metrics()
    log(`closed    instances disposed: ${afterClose.agents['assistant']?.instancesDisposed}`)
    return { first, second, streamed: { text, chunks }, parallel: { sessions: sessions.length, maxRunning: observed.maxRunning }, health, metrics, afterClose }
  } finally {
    await manager.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
