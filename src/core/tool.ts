/**
 * Tools: named async functions with a zod input schema. A tool's input and output are plain
 * serializable data, so the same tool can later run on a remote worker or be checkpointed.
 * @module
 */
import type { z } from 'zod'
import type { Logger } from './logger.js'
import type { Clock } from './clock.js'
import type { TaskSpec } from './spec.js'
import type { LlmUsage, ProviderLimits } from './rate.js'
import { describeValue, InvalidOptionError, TaskweaveError } from './errors.js'
import { optionNames, refuseUnknownOptions } from './known-options.js'

const TOOL_MARK = Symbol.for('taskweave.tool')

/** What a tool's name may be: a letter, then letters, digits, `_`, `.` and `-`, 128 characters at most. @internal */
export const TOOL_NAME = /^[A-Za-z][\w.-]{0,127}$/

/** What a tool receives besides its input. */
export interface ToolContext {
  /** Aborted when the attempt times out or the run is cancelled. Pass it to every I/O call. */
  readonly signal: AbortSignal
  /** The run this attempt belongs to. */
  readonly runId: string
  /** The task being executed. */
  readonly taskId: string
  /** 1 for the first attempt, 2 for the first retry… */
  readonly attempt: number
  /** Stable across attempts of one task (`runId/taskId`): use it to make side effects idempotent. */
  readonly idempotencyKey: string
  /**
   * Names this attempt alone (`runId/taskId#attempt`): differs between attempts, and between a run
   * and its resumption. Always set by the engine; optional so hand-made contexts may omit it.
   */
  readonly attemptId?: string
  /** Structured logger scoped to this run, task and attempt. */
  readonly logger: Logger
  /**
   * The engine's clock: wait on it (`sleep(ctx.clock, ms, ctx.signal)`) so a manual clock in tests
   * moves the tool's waits too. Always set by the engine; optional so hand-made contexts may omit it.
   */
  readonly clock?: Clock
  /** Reports progress; becomes a `task:progress` event. */
  progress(progress: ToolProgress): void
  /**
   * Adds a task to the running workflow. Takes effect only if this attempt succeeds (a failed
   * attempt adds nothing), and the added task's result joins the same run report.
   */
  addTask(task: TaskSpec): void
  /**
   * Reports what this attempt consumed (an LLM call's tokens and cost): the task's rate key takes
   * back what its estimate over-reserved, run budgets count it, and the task's report shows it.
   * Always set by the engine; optional so hand-made contexts may omit it.
   */
  reportUsage?(usage: LlmUsage): void
  /**
   * Reports what the provider said about its limits (its `x-ratelimit-*` headers), so the task's
   * rate key follows the provider's own count. Always set by the engine; optional as above.
   */
  reportLimits?(limits: ProviderLimits): void
}

/** A progress report: a fraction done, a message, or both, plus any data. */
export interface ToolProgress {
  /** Between 0 and 1. */
  readonly fraction?: number
  readonly message?: string
  readonly data?: unknown
}

/** Definition of a tool, as passed to {@link defineTool}. */
export interface ToolDefinition<Schema extends z.ZodType, Output> {
  /** Unique name, e.g. `fs.readFile` or `search.web`. */
  readonly name: string
  /** What the tool does (shown by the CLI and given to LLMs). */
  readonly description?: string
  /** Schema of the input; validated before every attempt (and statically where the input is known). */
  readonly input: Schema
  /** Limit on the JSON size of the output, in bytes. @default the engine's `maxOutputBytes` (1 MiB) */
  readonly maxOutputBytes?: number
  /** Mean cost hint (ms) used to order the ready queue before any duration is measured. */
  readonly cost?: number
  /**
   * False when calling the tool twice with the same input would do harm (a payment, an email):
   * in a durable run its start is written before it runs, and after a crash during the call the
   * task fails `TW_UNCERTAIN` instead of running again. A task's own `idempotent` overrides it.
   * @default true
   */
  readonly idempotent?: boolean
  /**
   * A keyed limit of the tool's own, decided per call from its input: the engine admits at most
   * `limit` attempts with the same key at once, engine-wide, before it gives one a slot. A task
   * waiting for its key holds no slot, and its timeout starts only when it runs. The agent tools
   * use it so one session runs one execution at a time (`session:<agent>#<session>`).
   */
  readonly permit?: ToolPermit<z.output<Schema>>
  /** The rate key every call counts against (`openai:gpt-4o`); a task's own `rateKey` overrides it. See `limits.rates`. */
  readonly rateKey?: string
  /** The rate key of one call, decided from its input (the model it names, say); wins over {@link rateKey}. */
  rateKeyOf?(input: z.output<Schema>): string | undefined
  /**
   * Tokens a call will use at most (prompt + completion), reserved from its rate key's token
   * budget before it starts and reconciled with {@link ToolContext.reportUsage} after.
   */
  estimateTokens?(input: z.output<Schema>): number
  /** Does the work. Must honour `ctx.signal`. */
  run(input: z.output<Schema>, ctx: ToolContext): Promise<Output> | Output
}

/** A keyed limit a tool asks for per call (see {@link ToolDefinition.permit}). */
export interface ToolPermit<Input> {
  /** The limiter key of a call, or undefined for no limit. */
  key(input: Input, call: { readonly runId: string }): string | undefined
  /** Calls with one key at once. */
  readonly limit: number
}

/** A registered tool. */
export interface Tool<Schema extends z.ZodType = z.ZodType, Output = unknown> extends ToolDefinition<Schema, Output> {
  readonly [TOOL_MARK]: true
}

/** A tool of any input and output type (what registries hold). */
export type AnyTool = Tool<z.ZodType, unknown>

/**
 * Defines a tool.
 * @example
 * const add = defineTool({
 *   name: 'math.add',
 *   input: z.object({ a: z.number(), b: z.number() }),
 *   run: ({ a, b }) => a + b,
 * })
 */
export function defineTool<Schema extends z.ZodType, Output>(definition: ToolDefinition<Schema, Output>): Tool<Schema, Output> {
  checkToolDefinition(definition)
  return Object.freeze({ ...definition, [TOOL_MARK]: true as const })
}

/**
 * @internal {@link defineTool} for the package's own tools that carry more than a definition
 * (a worker tool's `worker`): the definition is checked as ever, and `extra` joins it.
 */
export function defineToolWith<Schema extends z.ZodType, Output, Extra extends object>(definition: ToolDefinition<Schema, Output>, extra: Extra): Tool<Schema, Output> & Extra {
  checkToolDefinition(definition)
  // The spread of a generic `extra` is not one TypeScript can type as the intersection.
  return Object.freeze({ ...definition, ...extra, [TOOL_MARK]: true as const }) as unknown as Tool<Schema, Output> & Extra
}

/** Throws `TW_INVALID_OPTION` for a definition {@link defineTool} cannot make a tool of. */
function checkToolDefinition(definition: ToolDefinition<z.ZodType, unknown>): void {
  if (typeof definition !== 'object' || definition === null) throw new InvalidOptionError('defineTool', 'an object with name, input and run', definition)
  if (typeof definition.name !== 'string' || !TOOL_NAME.test(definition.name)) {
    throw new InvalidOptionError('name', 'a tool name matching /^[A-Za-z][\\w.-]{0,127}$/', definition.name)
  }
  const name = definition.name
  refuseUnknownOptions('defineTool', definition, TOOL_DEFINITION_NAMES)
  // A plain object of schemas (`input: { query: z.string() }`) is a common slip for z.object(...):
  // said here, with the tool's name, rather than as "safeParse is not a function" at its first call.
  const input: unknown = definition.input
  if (typeof (input as { safeParse?: unknown } | null | undefined)?.safeParse !== 'function') {
    const received = typeof input === 'object' && input !== null ? `an object with the keys ${Object.keys(input).join(', ') || '(none)'}` : String(input)
    throw new TaskweaveError('TW_INVALID_OPTION', `tool "${name}": input must be a zod schema, such as z.object({ query: z.string() }); received ${received}`, { retryable: false, details: { tool: name, option: 'input' } })
  }
  if (typeof definition.run !== 'function') throw new TaskweaveError('TW_INVALID_OPTION', `tool "${name}": run must be a function`, { retryable: false, details: { tool: name, option: 'run' } })
  checkOptionalFields(name, definition)
}

/**
 * The optional fields, each checked for what it must be: a `permit` of limit 0 would hold every
 * call back for ever, a `cost` of NaN would poison the ready queue's order, and a `maxOutputBytes`
 * of -1 would fail every call; each is refused here, naming the tool and the field.
 */
function checkOptionalFields(name: string, definition: ToolDefinition<z.ZodType, unknown>): void {
  const refuse = (option: string, expected: string, received: unknown): never => {
    throw new TaskweaveError('TW_INVALID_OPTION', `tool "${name}": ${option} must be ${expected}; received ${describeValue(received)}`, { retryable: false, details: { tool: name, option } })
  }
  const { description, maxOutputBytes, cost, idempotent, permit, rateKey } = definition
  // Read as values, not called: whether they are functions is what is checked.
  const fields = definition as unknown as Readonly<Record<string, unknown>>
  const rateKeyOf = fields['rateKeyOf']
  const estimateTokens = fields['estimateTokens']
  if (description !== undefined && typeof description !== 'string') refuse('description', 'a string', description)
  if (maxOutputBytes !== undefined && !(Number.isSafeInteger(maxOutputBytes) && maxOutputBytes > 0)) refuse('maxOutputBytes', 'a whole number of bytes above 0', maxOutputBytes)
  if (cost !== undefined && !(typeof cost === 'number' && Number.isFinite(cost) && cost >= 0)) refuse('cost', 'a finite number of ms, 0 or more', cost)
  if (idempotent !== undefined && typeof idempotent !== 'boolean') refuse('idempotent', 'true or false', idempotent)
  if (rateKey !== undefined && !(typeof rateKey === 'string' && rateKey.length > 0)) refuse('rateKey', 'a non-empty string', rateKey)
  if (rateKeyOf !== undefined && typeof rateKeyOf !== 'function') refuse('rateKeyOf', 'a function', rateKeyOf)
  if (estimateTokens !== undefined && typeof estimateTokens !== 'function') refuse('estimateTokens', 'a function', estimateTokens)
  if (permit !== undefined) {
    if (typeof permit !== 'object' || permit === null) refuse('permit', 'an object { key, limit }', permit)
    const key = (permit as unknown as Readonly<Record<string, unknown>>)['key']
    if (typeof key !== 'function') refuse('permit.key', 'a function of the call\'s input giving its key', key)
    if (!(Number.isSafeInteger(permit.limit) && permit.limit > 0)) refuse('permit.limit', 'a whole number of calls above 0', permit.limit)
  }
}


/** Every field of {@link ToolDefinition}. */
const TOOL_DEFINITION_NAMES = optionNames<ToolDefinition<z.ZodType, unknown>>()(['name', 'description', 'input', 'maxOutputBytes', 'cost', 'idempotent', 'permit', 'rateKey', 'rateKeyOf', 'estimateTokens', 'run'])

/** True when `value` was made by {@link defineTool}. */
export function isTool(value: unknown): value is AnyTool {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TOOL_MARK] === true
}
