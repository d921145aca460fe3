/**
 * Agents: stateful workers with sessions. An agent says how to create an instance for a session,
 * how to run one execution on it (and, optionally, how to stream one), and how to dispose of it.
 * The {@link AgentSessionPool} decides when instances are created, reused and disposed.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import type { z } from 'zod'
import type { Logger } from '../core/logger.js'

const AGENT_MARK = Symbol.for('taskweave.agent')

/** Agent names: they become tool names (`agent.<name>`), so the same alphabet, 122 characters at most. */
export const AGENT_NAME_PATTERN = /^[A-Za-z][\w.-]{0,121}$/

/** What one execution receives besides its instance and input. */
export interface AgentExecutionContext {
  /**
   * Aborted when the caller aborts, a stream's consumer stops reading, or the pool is force-closed.
   * The pool waits for the execution to return before the session's next execution starts, so an
   * agent that ignores it holds its session up.
   */
  readonly signal: AbortSignal
  readonly agentName: string
  readonly sessionId: string
  /** Unique within the pool (`<agent>#<session>/<n>`), for logs. */
  readonly executionId: string
  /** Logger scoped to this execution. */
  readonly logger: Logger
}

/** Definition of an agent, as passed to {@link defineAgent}. */
export interface AgentDefinition<Instance, Input, Output, Chunk = unknown> {
  /** Unique name within a pool; the agent tool is named `agent.<name>`. */
  readonly name: string
  /** What the agent does (shown by the CLI and given to LLMs). */
  readonly description?: string
  /** Schema of the input; checked before every execution (its output is what `execute` receives). */
  readonly input?: z.ZodType<Input>
  /**
   * True when one instance may serve several executions at once. When false, the executions of a
   * session run one at a time in submission order. @default false
   */
  readonly concurrentSafe?: boolean
  /**
   * Creates the instance of a session, on the session's first execution. `signal` aborts when the
   * instance is no longer wanted (evicted, idle, or the pool closes) before creation finished.
   */
  create(sessionId: string, signal: AbortSignal): Instance | Promise<Instance>
  /** Runs one execution. Must honour `ctx.signal`. */
  execute(instance: Instance, input: Input, ctx: AgentExecutionContext): Output | Promise<Output>
  /**
   * Runs one execution as a stream of chunks (an async generator is the usual form; its `return`
   * value becomes the `done` chunk's data). Without it, `stream()` runs `execute` and sends its
   * output as the `done` chunk.
   */
  stream?(instance: Instance, input: Input, ctx: AgentExecutionContext): AsyncIterable<Chunk>
  /** Releases what the instance holds; called once, after its last execution. */
  dispose?(instance: Instance): void | Promise<void>
}

/** A defined agent. */
export interface Agent<Instance = unknown, Input = unknown, Output = unknown, Chunk = unknown>
  extends AgentDefinition<Instance, Input, Output, Chunk> {
  readonly [AGENT_MARK]: true
}

/** An agent of any instance, input and output type (what a pool holds). */
// Methods are bivariant in their parameters, so every Agent<I, In, O, C> is assignable to this.
export type AnyAgent = Agent<unknown, unknown, unknown, unknown>

/**
 * Defines an agent.
 * @example
 * const chat = defineAgent({
 *   name: 'chat',
 *   input: z.object({ message: z.string() }),
 *   create: (sessionId) => ({ sessionId, history: [] as string[] }),
 *   async execute(state, { message }, ctx) {
 *     ctx.signal.throwIfAborted()
 *     state.history.push(message)
 *     return { reply: `echo ${message}`, turn: state.history.length }
 *   },
 * })
 */
export function defineAgent<Instance, Input, Output, Chunk = unknown>(
  definition: AgentDefinition<Instance, Input, Output, Chunk>,
): Agent<Instance, Input, Output, Chunk> {
  if (typeof definition !== 'object' || definition === null) throw new TaskweaveError('TW_INVALID_OPTION', 'defineAgent() takes an object { name, create, execute, … }', { retryable: false })
  if (typeof definition.name !== 'string' || !AGENT_NAME_PATTERN.test(definition.name)) {
    throw new TaskweaveError('TW_INVALID_OPTION', `agent name must match ${String(AGENT_NAME_PATTERN)}; received ${JSON.stringify(definition.name)}`, { retryable: false, details: { option: 'name' } })
  }
  for (const method of ['create', 'execute'] as const) {
    if (typeof definition[method] !== 'function') throw new TaskweaveError('TW_INVALID_OPTION', `agent "${definition.name}": ${method} must be a function`, { retryable: false, details: { option: method } })
  }
  for (const method of ['stream', 'dispose'] as const) {
    if (definition[method] !== undefined && typeof definition[method] !== 'function') {
      throw new TaskweaveError('TW_INVALID_OPTION', `agent "${definition.name}": ${method} must be a function when given`, { retryable: false, details: { option: method } })
    }
  }
  // As defineTool does: a typo (`concurentSafe`) is named, not silently taken for the default.
  refuseUnknownOptions('defineAgent', definition, ['name', 'description', 'input', 'concurrentSafe', 'create', 'execute', 'stream', 'dispose'])
  if (definition.concurrentSafe !== undefined && typeof definition.concurrentSafe !== 'boolean') throw new TaskweaveError('TW_INVALID_OPTION', `agent "${definition.name}": concurrentSafe must be true or false; received ${JSON.stringify(definition.concurrentSafe)}`, { retryable: false, details: { option: 'concurrentSafe' } })
  if (definition.description !== undefined && typeof definition.description !== 'string') throw new TaskweaveError('TW_INVALID_OPTION', `agent "${definition.name}": description must be a string`, { retryable: false, details: { option: 'description' } })
  const input = (definition as { readonly input?: unknown }).input
  if (input !== undefined && (typeof input !== 'object' || input === null || typeof (input as { safeParse?: unknown }).safeParse !== 'function')) throw new TaskweaveError('TW_INVALID_OPTION', `agent "${definition.name}": input must be a zod schema`, { retryable: false, details: { option: 'input' } })
  return Object.freeze({ ...definition, [AGENT_MARK]: true as const })
}

/** True when `value` was made by {@link defineAgent}. */
export function isAgent(value: unknown): value is AnyAgent {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[AGENT_MARK] === true
}
