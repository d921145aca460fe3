/**
 * The JSON bodies the fake sends, in OpenAI's chat completions format: a completion, the chunks
 * of a streamed one, the model list and error bodies. Only the shapes live here; when and how
 * they are sent is the handler's business.
 * @module
 */

/** A tool call of an answer, with its arguments as JSON text. */
export interface AnswerToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: string
}

/** Everything an answer says, streamed or not. */
export interface Answer {
  /** `chatcmpl-…`, shared by all chunks of one stream. */
  readonly id: string
  readonly model: string
  /** Unix seconds. */
  readonly created: number
  readonly content: string | null
  readonly toolCalls: readonly AnswerToolCall[]
  readonly finishReason: string
  readonly promptTokens: number
  readonly completionTokens: number
}

// The fake's systems are all one: clients that log the fingerprint see where answers came from.
const FINGERPRINT = 'fp_taskweave_fake'

/** `usage` as OpenAI reports it. */
export function usageBody(answer: Answer): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: answer.promptTokens, completion_tokens: answer.completionTokens, total_tokens: answer.promptTokens + answer.completionTokens }
}

/** A non-streamed `chat.completion`. */
export function completionBody(answer: Answer): object {
  const message = {
    role: 'assistant',
    content: answer.content,
    refusal: null,
    ...(answer.toolCalls.length > 0 ? { tool_calls: answer.toolCalls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })) } : {}),
  }
  return {
    id: answer.id,
    object: 'chat.completion',
    created: answer.created,
    model: answer.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: answer.finishReason }],
    usage: usageBody(answer),
    system_fingerprint: FINGERPRINT,
  }
}

/**
 * The streamed pieces of an answer: its text cut before each run of whitespace (about one token
 * per piece, and the pieces join back to the text exactly), then one piece per tool call.
 */
export function streamPieces(answer: Answer): readonly StreamPiece[] {
  const text: StreamPiece[] = (answer.content?.match(/\s*\S+|\s+$/g) ?? []).map((content) => ({ content }))
  return [...text, ...answer.toolCalls.map((call, index) => ({ toolCall: { index, call } }))]
}

/** One paced unit of a stream: some text or one tool call. */
export type StreamPiece = { readonly content: string } | { readonly toolCall: { readonly index: number; readonly call: AnswerToolCall } }

/**
 * The `chat.completion.chunk` bodies of a stream, grouped by when they are sent: one group per
 * piece (at least one group), the first group opening with the role chunk, the last closing with
 * the finish chunk and, when `includeUsage`, the usage chunk (empty `choices`). With
 * `includeUsage`, every other chunk carries `usage: null`, as OpenAI's do.
 */
export function chunkGroups(answer: Answer, pieces: readonly StreamPiece[], includeUsage: boolean): readonly (readonly object[])[] {
  const chunk = (delta: object, finishReason: string | null): object => ({
    id: answer.id,
    object: 'chat.completion.chunk',
    created: answer.created,
    model: answer.model,
    system_fingerprint: FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  })
  const groups: object[][] = pieces.map((piece) =>
    'content' in piece
      ? [chunk({ content: piece.content }, null)]
      : [chunk({ tool_calls: [{ index: piece.toolCall.index, id: piece.toolCall.call.id, type: 'function', function: { name: piece.toolCall.call.name, arguments: piece.toolCall.call.arguments } }] }, null)],
  )
  if (groups.length === 0) groups.push([])
  groups[0]?.unshift(chunk({ role: 'assistant', content: answer.content === null ? null : '', refusal: null }, null))
  const last = groups[groups.length - 1]
  last?.push(chunk({}, answer.finishReason))
  if (includeUsage) last?.push({ id: answer.id, object: 'chat.completion.chunk', created: answer.created, model: answer.model, system_fingerprint: FINGERPRINT, choices: [], usage: usageBody(answer) })
  return groups
}

/** An OpenAI error body: `{ error: { message, type, param, code } }`. */
export function errorBody(message: string, type: string, code: string | null, param: string | null = null): object {
  return { error: { message, type, param, code } }
}

/** The models `GET /v1/models` lists (the fake answers any model name in a request). */
export const FAKE_MODELS = ['gpt-4o-mini', 'gpt-4o'] as const

/** The body of `GET /v1/models`. */
export function modelsBody(created: number): object {
  return { object: 'list', data: FAKE_MODELS.map((id) => ({ id, object: 'model', created, owned_by: 'taskweave-fake' })) }
}
