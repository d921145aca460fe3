/**
 * The answer to a request no script answers: plausible filler text of a random length, so that
 * usage and the token quota vary from call to call as they do with a real model.
 * @module
 */
import { isJsonObject } from './json.js'
import type { TokenCounter } from './tokens.js'
import type { FakeChatRequest } from './types.js'

/** Length limit of a default answer when the request sets none. */
export const DEFAULT_MAX_ANSWER_TOKENS = 64

// Common words that are one o200k token each (with their leading space), so the word count is
// the token count and the answer needs at most one trimming pass.
const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'a', 'lazy', 'dog', 'and', 'then', 'runs', 'back', 'to', 'its', 'home', 'in', 'time', 'for', 'dinner']

/**
 * The default answer to `request`: `'{}'` when it asks for JSON (`response_format` of type
 * `json_schema` or `json_object`: always valid JSON, and valid against a schema without required
 * fields); otherwise 1 to `maxTokens` (default {@link DEFAULT_MAX_ANSWER_TOKENS}) tokens of
 * text, the count drawn with `random`. The words are always the same sequence, so only the
 * length varies.
 */
export function defaultContent(request: FakeChatRequest, random: () => number, tokens: TokenCounter): string {
  const format = request.responseFormat
  if (isJsonObject(format) && (format['type'] === 'json_schema' || format['type'] === 'json_object')) return '{}'
  const limit = request.maxTokens ?? DEFAULT_MAX_ANSWER_TOKENS
  const count = 1 + Math.min(limit - 1, Math.floor(random() * limit))
  const words: string[] = []
  for (let i = 0; i < count; i++) words.push(WORDS[i % WORDS.length] ?? 'the')
  // A word may merge or split differently next to its neighbours: drop words until the text fits.
  while (words.length > 1 && tokens.text(words.join(' ')) > limit) words.pop()
  return words.join(' ')
}
