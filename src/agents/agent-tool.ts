/**
 * An agent as a workflow tool: `agent.<name>`, what a task's `agent: chat` field compiles to (and
 * what `tool: agent.chat` names directly).
 * @module
 */
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { describeThrown } from '../core/thrown.js'
import { defineTool } from '../core/tool.js'
import type { AnyTool } from '../core/tool.js'
import { unknownAgentError } from './errors.js'
import { EXECUTE_PARSED, sessionPermitKey } from './session-pool.js'
import type { AgentSessionPool } from './session-pool.js'

/** Options of {@link createAgentTool}. */
export interface AgentToolOptions {
  /** Tool description. @default the agent's description */
  readonly description?: string
  /** Mean cost hint (ms) for the ready queue's critical-path ordering. */
  readonly cost?: number
}

/**
 * Makes the tool `agent.<agentName>` that runs one execution of the agent in `pool`.
 *
 * Tool input: `{ session?: string, input: <the agent's input>, stream?: boolean }`. `session`
 * picks the instance; without it the run id is used, so the tasks of one run share one instance
 * and separate runs do not. With `stream: true` the execution runs the agent's `stream()` (its
 * `execute()` if it has none) and each chunk is reported as it comes, as the task's progress
 * (`task:progress` with `progress: { message: 'delta', data: <chunk> }`, carried from a remote
 * worker too); the task's output is then the stream's return value. The agent's input schema (if any) is part of the tool's schema, so static task inputs are
 * checked when the workflow compiles. The output is the agent's output; `ctx.signal` (task
 * timeout, run cancel) aborts the execution.
 * @example
 * await using pool = new AgentSessionPool({ agents: [chat] })
 * await using engine = createEngine({ tools: [createAgentTool(pool, 'chat')] })
 * const flow = workflow({ id: 'ask' })
 *   .task('first', 'agent.chat', { input: { session: 'user-42', input: { message: 'hello' } } })
 *   .task('second', 'agent.chat', { input: { session: 'user-42', input: { message: '{{ tasks.first.output.reply }}' } } })
 *   .build()
 * await engine.run(flow)
 */
export function createAgentTool(pool: AgentSessionPool, agentName: string, options: AgentToolOptions = {}): AnyTool {
  const agent = pool.agent(agentName)
  if (agent === undefined) throw unknownAgentError(agentName, pool.agentNames)
  const input = z
    .object({
      session: z.string().min(1).max(512).optional().describe('Session whose instance runs the execution. Default: the run id.'),
      input: (agent.input ?? z.unknown()).describe(`Input of agent "${agent.name}".`),
      stream: z.boolean().optional().describe("Run the agent's stream(): each chunk becomes a task:progress event (progress: { message: 'delta', data: chunk }), and the output is the stream's return value."),
    })
    .strict()
  const description = options.description ?? agent.description
  return defineTool({
    name: `agent.${agent.name}`,
    input,
    ...(description !== undefined ? { description } : {}),
    ...(options.cost !== undefined ? { cost: options.cost } : {}),
    // One execution per session at a time is decided by the engine before the task takes a slot,
    // so a task waiting for its session's turn holds none and its timeout does not run.
    // An agent marked concurrentSafe takes no such turn: its session's executions may overlap.
    ...(agent.concurrentSafe === true ? {} : { permit: { key: (task: { session?: string | undefined }, call: { readonly runId: string }) => sessionPermitKey(agent.name, task.session ?? call.runId), limit: 1 } }),
    // The engine admitted the task with the session's permit: the pool must not wait for it again.
    run: (task, ctx) => pool[EXECUTE_PARSED](agent, task.session ?? ctx.runId, task.input, { signal: ctx.signal }, agent.concurrentSafe !== true, task.stream === true ? (chunk) => ctx.progress({ message: 'delta', data: plainChunk(chunk, agent.name) }) : undefined),
  })
}

/**
 * A streamed chunk as the plain data a task's progress carries (the same here as from a remote
 * worker, whose report is JSON): a chunk JSON cannot carry fails the execution, naming the agent.
 */
function plainChunk(chunk: unknown, agentName: string): unknown {
  if (chunk === undefined || chunk === null || typeof chunk === 'string' || typeof chunk === 'boolean' || (typeof chunk === 'number' && Number.isFinite(chunk))) return chunk
  let text: string | undefined
  try {
    text = JSON.stringify(chunk)
  } catch (err) {
    throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `agent "${agentName}" streamed a chunk that is not plain data: ${describeThrown(err)}`, { retryable: false, cause: err, details: { agent: agentName } })
  }
  if (text === undefined) throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `agent "${agentName}" streamed a ${typeof chunk}, which is not plain data`, { retryable: false, details: { agent: agentName } })
  return JSON.parse(text) as unknown
}

