/**
 * Reads a chat completion request body into a {@link FakeChatRequest}, or says what is wrong
 * with it (answered 400 `invalid_request_error`, as OpenAI does).
 * @module
 */
import { isJsonArray, isJsonObject } from './json.js'
import type { TokenCounter } from './tokens.js'
import type { FakeChatMessage, FakeChatRequest, FakeJson } from './types.js'

/** The outcome of {@link parseChatRequest}. */
export type ParsedChatRequest = { readonly ok: true; readonly request: Omit<FakeChatRequest, 'index'> } | { readonly ok: false; readonly message: string; readonly param: string }

/**
 * Checks the parts of the body the fake relies on (`messages`; the types of `max_tokens`,
 * `max_completion_tokens` and `stream`) and counts the prompt's tokens. Other fields are kept
 * as sent and not checked: the fake answers any model. The caller numbers valid requests.
 */
export function parseChatRequest(body: FakeJson, headers: Readonly<Record<string, string>>, tokens: TokenCounter): ParsedChatRequest {
  if (!isJsonObject(body)) return invalid('The request body must be a JSON object.', '')
  const messages = body['messages']
  if (!isJsonArray(messages) || messages.length === 0) return invalid("'messages' must be a non-empty array.", 'messages')
  const checked: FakeChatMessage[] = []
  for (const [i, message] of messages.entries()) {
    if (!isJsonObject(message) || typeof message['role'] !== 'string') return invalid(`'messages[${i}]' must be an object with a string 'role'.`, `messages[${i}]`)
    checked.push(message as FakeChatMessage)
  }
  const maxCompletion = body['max_completion_tokens']
  const maxTokens = body['max_tokens']
  for (const [name, value] of [['max_completion_tokens', maxCompletion], ['max_tokens', maxTokens]] as const) {
    if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isInteger(value) && value >= 1)) return invalid(`'${name}' must be an integer ≥ 1.`, name)
  }
  const stream = body['stream']
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') return invalid("'stream' must be a boolean.", 'stream')
  const streamOptions = body['stream_options']
  const model = body['model']
  const request: Omit<FakeChatRequest, 'index'> = {
    model: typeof model === 'string' ? model : undefined,
    messages: checked,
    maxTokens: typeof maxCompletion === 'number' ? maxCompletion : typeof maxTokens === 'number' ? maxTokens : undefined,
    stream: stream === true,
    includeUsage: isJsonObject(streamOptions) && streamOptions['include_usage'] === true,
    responseFormat: body['response_format'],
    promptTokens: tokens.prompt(checked, body['tools']),
    body,
    headers,
  }
  return { ok: true, request }
}

function invalid(message: string, param: string): ParsedChatRequest {
  return { ok: false, message, param }
}
