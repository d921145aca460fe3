/**
 * The `llm.chat` tool: one Chat Completions call to an OpenAI-compatible endpoint through the
 * official `openai` client, made to cooperate with the engine's rate limits:
 *
 * - before: `rateKeyOf(input)` names the key (`<provider>:<model>`) and `estimateTokens(input)`
 *   the tokens to reserve (prompt by tokenizer + `maxTokens`, see `estimate.ts`);
 * - during: the provider's `x-ratelimit-*` headers go to `ctx.reportLimits` as soon as they
 *   arrive; a streamed answer's text goes to `ctx.progress`, throttled;
 * - after: `ctx.reportUsage` with the provider's token counts and the price table's cost;
 * - on refusal: a 429 becomes `RateLimitedError` (the key pauses, the task goes back to ready
 *   without spending an attempt); see `errors.ts` for the rest.
 *
 * The endpoint is fixed by the tool's options, never by its input, so a workflow cannot point the
 * tool (and its key) at another host. The key never appears in what the tool returns or throws.
 * @module
 */
import type OpenAI from 'openai'
import { TaskweaveError } from '../../core/errors.js'
import type { LlmUsage } from '../../core/rate.js'
import { defineTool, type Tool, type ToolContext } from '../../core/tool.js'
import { completeChat, streamChat, type RawAnswer } from './call.js'
import { createClientLoader, type LoadedClient } from './client.js'
import { translateChatError } from './errors.js'
import { countPromptTokens, countTextTokens, estimateCallTokens, preloadTokenizer } from './estimate.js'
import { parseProviderLimits, type HeaderSource } from './headers.js'
import { chatInput, messagesOf, wantsJson, type ChatInput } from './input.js'
import { resolveChatToolOptions, type ChatToolOptions, type ResolvedChatToolOptions } from './options.js'
import { costOf } from './prices.js'
import { createStreamProgress } from './progress.js'
import { redact, sanitizedError } from './redact.js'
import { chatRequestBody } from './request.js'

/** Tokens of one call, as the provider counted them (or as estimated when it did not say). */
export interface ChatUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly totalTokens: number
}

/** What `llm.chat` returns. */
export interface ChatOutput {
  /** The answer's text. */
  readonly content: string
  /** The model that answered (as the provider names it, often with a date: `gpt-4o-mini-2024-07-18`). */
  readonly model: string
  readonly usage: ChatUsage
  /** What the call cost, when the price table knows the model. */
  readonly costUsd?: number
  /** Why the answer ended: `stop`, `length` (hit `maxTokens`), `content_filter`, `tool_calls`… */
  readonly finishReason: string
  /** The answer parsed, when `responseFormat` asked for JSON. */
  readonly json?: unknown
  /** The model's refusal, when it refused. */
  readonly refusal?: string
}

/** The `llm.chat` tool. */
export type ChatTool = Tool<typeof chatInput, ChatOutput>

/**
 * Creates `llm.chat` (or a tool of another `name`) for one OpenAI-compatible endpoint. Options
 * are checked here (bad ones throw `TW_INVALID_OPTION`); the `openai` package loads on the first
 * call, and the tokenizer starts loading now unless `preloadTokenizer: false`.
 *
 * @example
 * const engine = createEngine({ tools: [createChatTool({ model: 'gpt-4o-mini' })] })
 * // in a workflow: { id: 'summary', tool: 'llm.chat', input: { system: 'Be brief.', prompt: 'Summarise: {{ tasks.page.output.body }}', maxTokens: 200 } }
 * // local Ollama: createChatTool({ baseURL: 'http://localhost:11434/v1', model: 'llama3.2' })
 */
export function createChatTool(options: ChatToolOptions = {}): ChatTool {
  const resolved = resolveChatToolOptions(options)
  const { connection } = resolved
  const loadClient = createClientLoader(connection)
  if (resolved.preloadTokenizer) void preloadTokenizer()
  return defineTool({
    name: resolved.name,
    description:
      'Asks a chat model (OpenAI-compatible API) and returns its answer: give `prompt` (with an optional `system`) or `messages`; ' +
      "`responseFormat: 'json'` or `{ jsonSchema }` also returns the answer parsed as `json`.",
    input: chatInput,
    cost: 2000,
    idempotent: true,
    rateKeyOf: (input) => `${connection.provider}:${input.model ?? connection.model}`,
    estimateTokens(input) {
      if (!resolved.preloadTokenizer) void preloadTokenizer()
      return estimateCallTokens(input, resolved.expectedOutputTokens)
    },
    async run(input, ctx) {
      ctx.signal.throwIfAborted()
      void preloadTokenizer()
      const model = input.model ?? connection.model
      if (connection.isOpenAi && connection.apiKey === undefined) {
        throw new TaskweaveError('TW_LLM', `llm.chat ${connection.provider}:${model}: no API key; set ${connection.apiKeyEnv} or pass apiKey`, {
          retryable: false,
          details: { provider: connection.provider, model, reason: 'auth' },
        })
      }
      const facts = {
        provider: connection.provider,
        model,
        timeoutMs: connection.timeoutMs,
        secret: connection.apiKey,
        signal: ctx.signal,
        reportLimits: ctx.reportLimits?.bind(ctx),
      }
      let loaded: LoadedClient
      try {
        loaded = await loadClient()
      } catch (err) {
        if (ctx.signal.aborted) throw ctx.signal.reason
        throw new TaskweaveError('TW_LLM', `llm.chat: the openai package could not be loaded: ${redact(String(err), connection.apiKey)}`, {
          retryable: false,
          cause: sanitizedError(err, connection.apiKey),
          details: { provider: connection.provider, model, reason: 'client' },
        })
      }
      try {
        ctx.signal.throwIfAborted()
        const answer = await ask(loaded.client, input, model, ctx, resolved)
        return finish(answer, input, model, ctx, resolved)
      } catch (err) {
        // Read now, not at the start: a Retry-After date counts from when the refusal came.
        throw translateChatError(err, loaded.module, { ...facts, now: ctx.clock?.wallNow() ?? Date.now() })
      }
    },
  })
}

async function ask(client: OpenAI, input: ChatInput, model: string, ctx: ToolContext, options: ResolvedChatToolOptions): Promise<RawAnswer> {
  const body = chatRequestBody(input, model, options.maxTokensParam)
  const onHeaders = (headers: HeaderSource): void => {
    const limits = parseProviderLimits(headers)
    if (limits !== undefined) ctx.reportLimits?.(limits)
  }
  if (!input.stream) return completeChat(client, body, { signal: ctx.signal, onHeaders })
  const clock = ctx.clock
  const progress = createStreamProgress({
    emit: (p) => ctx.progress(p),
    intervalMs: options.progressIntervalMs,
    now: clock === undefined ? () => performance.now() : () => clock.now(),
    maxTokens: input.maxTokens,
  })
  return streamChat(client, body, { signal: ctx.signal, onHeaders, progress })
}

/** Reports usage, prices the call and shapes the output; parses JSON last, since the tokens were spent either way. */
function finish(answer: RawAnswer, input: ChatInput, requested: string, ctx: ToolContext, options: ResolvedChatToolOptions): ChatOutput {
  const model = answer.model ?? requested
  const counted = answer.usage ?? { inputTokens: countPromptTokens(messagesOf(input)), outputTokens: countTextTokens(answer.content) }
  const costUsd = costOf(counted, model, options.prices) ?? costOf(counted, requested, options.prices)
  const usage: LlmUsage = { ...counted, costUsd, model }
  ctx.reportUsage?.(usage)
  if (answer.usage === undefined) ctx.logger.debug('llm.chat: the provider reported no usage; tokens estimated', { model })
  const output: ChatOutput = {
    content: answer.content,
    model,
    usage: { ...counted, totalTokens: counted.inputTokens + counted.outputTokens },
    ...(costUsd === undefined ? {} : { costUsd }),
    finishReason: answer.finishReason,
    ...(answer.refusal === undefined ? {} : { refusal: answer.refusal }),
  }
  return wantsJson(input) ? { ...output, json: parseAnswer(answer, model, options.connection.provider) } : output
}

function parseAnswer(answer: RawAnswer, model: string, provider: string): unknown {
  try {
    return JSON.parse(answer.content) as unknown
  } catch {
    // Cut off by the token limit, the same call would be cut again; otherwise the model may do better.
    const truncated = answer.finishReason === 'length'
    const why = truncated ? 'it was cut off by maxTokens' : answer.refusal !== undefined ? 'the model refused' : 'it is not valid JSON'
    throw new TaskweaveError('TW_LLM', `llm.chat ${provider}:${model}: JSON was asked for, but ${why}`, {
      retryable: !truncated && answer.refusal === undefined,
      details: { provider, model, reason: 'invalid_json', finishReason: answer.finishReason, contentChars: answer.content.length },
    })
  }
}
