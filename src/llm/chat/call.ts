/**
 * One Chat Completions call, streamed or not, through the official client.
 *
 * Headers for both: `.withResponse()` on the client's `APIPromise` gives the raw `Response`
 * beside the parsed data. Without streaming it resolves once the body is parsed; with streaming
 * it resolves as soon as the headers arrive, with the `Stream` not yet read. Either way the
 * `x-ratelimit-*` headers are reported (`onHeaders`) before the answer is used, so the rate key
 * follows the provider even when reading the answer fails.
 *
 * A stream aborted through the signal ends quietly in the client (no error), so the caller
 * checks the signal after the loop; a stream that ends without a `finish_reason` was cut short.
 * @module
 */
import type OpenAI from 'openai'
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions'
import type { HeaderSource } from './headers.js'
import type { StreamProgress } from './progress.js'

/** What the provider answered. */
export interface RawAnswer {
  readonly content: string
  /** The model that answered, as the provider names it (undefined when it did not say). */
  readonly model: string | undefined
  readonly finishReason: string
  /** The provider's count; undefined when it sent none (a server ignoring `include_usage`, say). */
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number } | undefined
  /** The model's refusal, when it refused. */
  readonly refusal: string | undefined
}

/** What a call needs besides its body. */
export interface CallHooks {
  readonly signal: AbortSignal
  /** Called with the response headers as soon as they arrive. */
  readonly onHeaders: (headers: HeaderSource) => void
  /** For a streamed call: where the chunks' text goes. */
  readonly progress?: StreamProgress | undefined
}

/** Makes a call without streaming. */
export async function completeChat(client: OpenAI, body: ChatCompletionCreateParamsNonStreaming, hooks: CallHooks): Promise<RawAnswer> {
  const { data, response } = await client.chat.completions.create(body, { signal: hooks.signal }).withResponse()
  hooks.onHeaders(response.headers)
  const choice = data.choices[0]
  return {
    content: choice?.message.content ?? '',
    model: nonEmpty(data.model),
    finishReason: choice?.finish_reason ?? 'unknown',
    usage: usageOf(data.usage),
    refusal: choice?.message.refusal ?? undefined,
  }
}

/** Makes a streamed call, passing each chunk's text to `hooks.progress`. */
export async function streamChat(client: OpenAI, body: ChatCompletionCreateParamsNonStreaming, hooks: CallHooks): Promise<RawAnswer> {
  const { data: stream, response } = await client.chat.completions
    .create({ ...body, stream: true, stream_options: { include_usage: true } }, { signal: hooks.signal })
    .withResponse()
  hooks.onHeaders(response.headers)
  const parts: string[] = []
  let refusal = ''
  let model: string | undefined
  let finishReason: string | undefined
  let usage: RawAnswer['usage']
  for await (const chunk of stream) {
    model ??= nonEmpty(chunk.model)
    if (chunk.usage) usage = usageOf(chunk.usage)
    const choice = chunk.choices[0]
    if (choice === undefined) continue
    const delta = choice.delta?.content
    if (typeof delta === 'string' && delta !== '') {
      parts.push(delta)
      hooks.progress?.push(delta)
    }
    if (typeof choice.delta?.refusal === 'string') refusal += choice.delta.refusal
    if (choice.finish_reason) finishReason = choice.finish_reason
  }
  hooks.signal.throwIfAborted()
  if (finishReason === undefined) {
    throw new Error(`the answer stream ended after ${parts.length} chunks without a finish_reason: the answer is incomplete`)
  }
  hooks.progress?.finish()
  return { content: parts.join(''), model, finishReason, usage, refusal: refusal === '' ? undefined : refusal }
}

function usageOf(usage: OpenAI.CompletionUsage | null | undefined): RawAnswer['usage'] {
  if (!usage || typeof usage.prompt_tokens !== 'number' || typeof usage.completion_tokens !== 'number') return undefined
  return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}
