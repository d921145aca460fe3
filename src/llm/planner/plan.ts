/**
 * `planWorkflow`: a goal in, a compiled workflow out. The model is asked once for a workflow (as
 * JSON matching the plan schema, over the tool catalogue); its answer is checked by compiling it
 * against the tools, and an invalid answer is sent back with the problems found, for a corrected
 * one, up to `maxRepairs` times. What comes out has compiled, so `engine.run(planned.workflow)`
 * cannot fail validation (as long as the engine has the same tools).
 *
 * The calls go through the official `openai` client without streaming, and fail as `llm.chat`'s
 * do (`TW_LLM`, `TW_TIMEOUT`, `RateLimitedError` for a 429; see `chat/errors.ts`); the model
 * failing to produce a valid plan is `TW_PLAN`.
 * @module
 */
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import { InvalidOptionError, TaskweaveError, formatIssue, type ValidationIssue } from '../../core/errors.js'
import type { ToolRegistry } from '../../core/registry.js'
import type { WorkflowSpec } from '../../core/spec.js'
import type { CompiledWorkflow } from '../../workflow/compile.js'
import { ID_PATTERN } from '../../workflow/schema.js'
import { completeChat, type RawAnswer } from '../chat/call.js'
import type { Env } from '../chat/config.js'
import { translateChatError } from '../chat/errors.js'
import { countPromptTokens, countTextTokens } from '../chat/estimate.js'
import type { HeaderSource } from '../chat/headers.js'
import { redact } from '../chat/redact.js'
import { plannerRegistry, toolCatalogue, type PlannerTools } from './catalogue.js'
import { checkPlanAnswer } from './check.js'
import { plannerClient, type PlannerClient, type PlannerLlm } from './llm.js'
import { goalMessage, plannerSystemPrompt, repairMessage } from './prompt.js'
import { planJsonSchema } from './schema.js'

/** Options of {@link planWorkflow}. */
export interface PlanWorkflowOptions {
  /** What the workflow is to achieve, in words. */
  readonly goal: string
  /** The tools the plan may use (a registry, or any iterable of tools); the plan is compiled against them. */
  readonly tools: PlannerTools
  /** The model to ask: a connection, or an `OpenAI` client instance (see {@link PlannerLlm}). */
  readonly llm: PlannerLlm
  /** Aborts the call in flight; the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** Corrected answers asked for after an invalid one (0: none). @default 1 */
  readonly maxRepairs?: number
  /** The model, instead of the connection's (or `TASKWEAVE_LLM_MODEL`, else gpt-4o-mini). */
  readonly model?: string
  /** The workflow's id, instead of the one the model chooses. */
  readonly id?: string
  /** Environment the connection's defaults are read from. @default process.env */
  readonly env?: Env
}

/** Tokens the planning calls used, all attempts together. */
export interface PlanUsage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/** A workflow the model planned, compiled and ready to run. */
export interface PlannedWorkflow {
  /** The compiled workflow: `engine.run(planned.workflow)`. */
  readonly workflow: CompiledWorkflow
  /** The plan as a definition (id, description, tasks), for a YAML or JSON file. */
  readonly spec: WorkflowSpec
  /** Calls made: 1 when the first answer was valid, 2 after one repair… */
  readonly attempts: number
  readonly usage: PlanUsage
  /** The model that answered last, as the provider names it. */
  readonly model: string
}

/** Default of {@link PlanWorkflowOptions.maxRepairs}. */
export const DEFAULT_MAX_REPAIRS = 1

/** Longest raw answer kept in a `TW_PLAN` error's details. */
const MAX_ANSWER_CHARS = 20_000

/**
 * Asks the model to turn `goal` into a workflow over `tools`, repairs an invalid answer (up to
 * `maxRepairs` times) by sending the problems back, and returns the compiled workflow.
 *
 * Throws `TW_INVALID_OPTION` for a bad option, `TW_PLAN` (not retryable; `details.issues` and
 * `details.answer` say why) when the last answer is still invalid, and what `llm.chat` throws
 * when a call fails.
 *
 * @example
 * const planned = await planWorkflow({ goal: 'Summarise README.md in French', tools: engine.registry, llm: { model: 'gpt-4o-mini' } })
 * const result = await engine.run(planned.workflow)
 */
export async function planWorkflow(options: PlanWorkflowOptions): Promise<PlannedWorkflow> {
  const client = plannerClient(options.llm, options.env ?? process.env, options.model)
  return runPlanner(client, plannerRegistry(options.tools), {
    goal: options.goal,
    signal: options.signal,
    maxRepairs: options.maxRepairs,
    id: options.id,
  })
}

/** What one planning needs besides the client and the tools. */
export interface PlannerRequest {
  readonly goal: string
  readonly signal?: AbortSignal | undefined
  readonly maxRepairs?: number | undefined
  readonly id?: string | undefined
  /** Called after every call that was answered (valid or not), with the tokens it used. */
  readonly onAnswer?: ((usage: PlanUsage, model: string) => void) | undefined
  /** Called with each answer's response headers. */
  readonly onHeaders?: ((headers: HeaderSource) => void) | undefined
  /** Wall time now (epoch ms), for a `Retry-After` date. @default Date.now */
  readonly now?: (() => number) | undefined
}

/** The planning loop, shared by {@link planWorkflow} and the `llm.plan` tool. */
export async function runPlanner(client: PlannerClient, registry: ToolRegistry, request: PlannerRequest): Promise<PlannedWorkflow> {
  const { goal, id } = request
  const maxRepairs = request.maxRepairs ?? DEFAULT_MAX_REPAIRS
  if (typeof goal !== 'string' || goal.trim() === '') throw new InvalidOptionError('goal', 'a non-empty string', goal)
  if (typeof maxRepairs !== 'number' || !Number.isInteger(maxRepairs) || maxRepairs < 0 || maxRepairs > 10) throw new InvalidOptionError('maxRepairs', 'an integer from 0 to 10', maxRepairs)
  if (id !== undefined && (typeof id !== 'string' || !ID_PATTERN.test(id))) throw new InvalidOptionError('id', 'a workflow id ([A-Za-z0-9_-]{1,128})', id)
  if (client.missingKeyEnv !== undefined) {
    throw new TaskweaveError('TW_LLM', `planner ${client.provider}:${client.model}: no API key; set ${client.missingKeyEnv} or pass apiKey`, {
      retryable: false,
      details: { provider: client.provider, model: client.model, reason: 'auth' },
    })
  }
  // A signal that never aborts stands in for none, so every call passes one.
  const signal = request.signal ?? new AbortController().signal
  signal.throwIfAborted()

  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: plannerSystemPrompt(toolCatalogue(registry)) },
    { role: 'user', content: goalMessage(goal) },
  ]
  const schema = planJsonSchema()
  const usage = { inputTokens: 0, outputTokens: 0 }
  let last: { issues: readonly ValidationIssue[]; content: string } | undefined
  for (let attempts = 1; attempts <= maxRepairs + 1; attempts++) {
    signal.throwIfAborted()
    const body: ChatCompletionCreateParamsNonStreaming = {
      model: client.model,
      messages: [...messages],
      // Not strict: strict mode refuses open objects, and a task's input is one (its shape
      // depends on the tool). The schema still steers the model; compiling checks the rest.
      response_format: { type: 'json_schema', json_schema: { name: 'workflow', schema, strict: false } },
    }
    const answer = await ask(client, body, signal, request)
    const used = answer.usage ?? { inputTokens: countPromptTokens(messages.map(plainMessage)), outputTokens: countTextTokens(answer.content) }
    usage.inputTokens += used.inputTokens
    usage.outputTokens += used.outputTokens
    const model = answer.model ?? client.model
    request.onAnswer?.(used, model)

    const checked = checkPlanAnswer(answer, registry, id)
    if (checked.ok) return { workflow: checked.workflow, spec: checked.spec, attempts, usage: { ...usage }, model }
    last = { issues: checked.issues, content: answer.content }
    // The model sees its own answer and what is wrong with it: a correction of that answer is
    // more likely than a fresh plan to fix the problems without making new ones.
    messages.push({ role: 'assistant', content: answer.content === '' ? '(no answer)' : answer.content }, { role: 'user', content: repairMessage(checked.issues) })
  }
  throw planError(last as NonNullable<typeof last>, maxRepairs + 1, client)
}

/** One call; a failure becomes what `llm.chat` would throw (the signal's reason once aborted). */
async function ask(client: PlannerClient, body: ChatCompletionCreateParamsNonStreaming, signal: AbortSignal, request: PlannerRequest): Promise<RawAnswer> {
  const facts = { provider: client.provider, model: client.model, timeoutMs: client.timeoutMs, secret: client.secret, signal }
  const loaded = await client.load().catch((err: unknown) => {
    if (signal.aborted) throw signal.reason
    throw new TaskweaveError('TW_LLM', `planner: the openai package could not be loaded: ${redact(String(err), client.secret)}`, {
      retryable: false,
      details: { provider: client.provider, model: client.model, reason: 'client' },
    })
  })
  try {
    return await completeChat(loaded.client, body, { signal, onHeaders: (headers) => request.onHeaders?.(headers) })
  } catch (err) {
    const translated = translateChatError(err, loaded.module, { ...facts, now: request.now?.() ?? Date.now() })
    // A new error made by the translation (not the signal's reason, nor an error passed through)
    // names `llm.chat`; the planner made this call, and says so.
    if (translated !== err && TaskweaveError.is(translated) && translated.message.startsWith('llm.chat ')) translated.message = `planner ${translated.message.slice('llm.chat '.length)}`
    throw translated
  }
}

/** A message as the token counter takes it (the planner sends text only). */
function plainMessage(message: ChatCompletionMessageParam): { role: 'system' | 'user' | 'assistant'; content: string } {
  return { role: message.role as 'system' | 'user' | 'assistant', content: typeof message.content === 'string' ? message.content : '' }
}

function planError(last: { issues: readonly ValidationIssue[]; content: string }, attempts: number, client: PlannerClient): TaskweaveError {
  const { issues } = last
  const listed = issues.slice(0, 10).map((issue) => `  - ${formatIssue(issue)}`)
  if (issues.length > 10) listed.push(`  - …and ${issues.length - 10} more`)
  const answer = redact(last.content, client.secret)
  return new TaskweaveError(
    'TW_PLAN',
    `the model did not plan a valid workflow in ${attempts} attempt${attempts === 1 ? '' : 's'} (${issues.length} problem${issues.length === 1 ? '' : 's'} left):\n${listed.join('\n')}`,
    {
      retryable: false,
      details: {
        provider: client.provider,
        model: client.model,
        attempts,
        issues,
        answer: answer.length > MAX_ANSWER_CHARS ? `${answer.slice(0, MAX_ANSWER_CHARS)}…` : answer,
      },
    },
  )
}
