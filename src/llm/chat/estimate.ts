/**
 * How many tokens a call will use, before it is made: the prompt counted with a real tokenizer
 * (gpt-tokenizer's `o200k_base`, the encoding of the GPT-4o and later families) plus the answer's
 * `maxTokens`, or an expected answer length when the input sets none. The engine reserves this
 * much of the rate key's token budget before the call and reconciles with the reported usage after.
 *
 * Loading the tokenizer: `estimateTokens` is synchronous, but the tokenizer is a 2.4 MB module
 * (its BPE ranks) that takes 130–190 ms and about 15 MB of heap to load. Measured both ways:
 * `createRequire` of the CommonJS build blocks the event loop for the whole load (~165 ms in one
 * piece); an ESM `import()` spreads it (longest single block ~95 ms). So {@link preloadTokenizer}
 * starts an `import()` when the tool is created (never at `import 'taskweave'`), and a call
 * estimated before it resolved gets {@link conservativePromptTokens} instead: an over-estimate the
 * engine gives back once the call reports its usage.
 * @module
 */
import type * as O200k from 'gpt-tokenizer/encoding/o200k_base'
import type { ChatInput, ChatMessageInput } from './input.js'
import { messagesOf } from './input.js'

/** The answer length reserved for a call whose input sets no `maxTokens`. @default 256 */
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 256
/** Tokens counted for an image part of `detail: 'low'` (OpenAI's flat rate for it). */
export const LOW_DETAIL_IMAGE_TOKENS = 85
/** Tokens counted for any other image part: a 2048×768 image at high detail, a generous middle. */
export const IMAGE_TOKENS = 1105
/** Tokens of framing around one message (start, role, separator, end) in the fallback estimate. */
const MESSAGE_OVERHEAD_TOKENS = 4
/** Tokens that prime the answer (`<|im_start|>assistant<|im_sep|>`) in the fallback estimate. */
const REPLY_PRIMER_TOKENS = 3
/** Count special-token text (`<|endoftext|>` typed by a user) as plain text instead of throwing. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() }

type Tokenizer = typeof O200k

let tokenizer: Tokenizer | undefined
let loading: Promise<Tokenizer | undefined> | undefined

/**
 * Starts loading the tokenizer (once per process) and resolves when it is ready, or with
 * undefined if it could not load (estimates then stay conservative). Never rejects.
 */
export function preloadTokenizer(): Promise<Tokenizer | undefined> {
  loading ??= import('gpt-tokenizer/encoding/o200k_base').then(
    (module) => (tokenizer = module),
    () => undefined,
  )
  return loading
}

/** Whether exact counts are available yet. */
export function isTokenizerReady(): boolean {
  return tokenizer !== undefined
}

/**
 * Tokens of a prompt as OpenAI counts a chat (the o200k chat format: framing per message plus
 * the reply primer), with multi-part contents counted as their text plus {@link IMAGE_TOKENS} (or
 * {@link LOW_DETAIL_IMAGE_TOKENS}) per image. Before the tokenizer has loaded, the conservative estimate.
 */
export function countPromptTokens(messages: readonly ChatMessageInput[]): number {
  if (tokenizer === undefined) return conservativePromptTokens(messages)
  const flat = messages.map((m) => ({ role: m.role, content: textOf(m), ...(m.name === undefined ? {} : { name: m.name }) }))
  // The model name only picks the chat format; gpt-4o's is the o200k one whatever model is called.
  return tokenizer.encodeChat(flat, 'gpt-4o', PLAIN_TEXT).length + imageTokens(messages)
}

/**
 * The estimate used before the tokenizer has loaded: half a token per UTF-8 byte of text, plus
 * framing per message. Byte-level BPE never gives more tokens than bytes, and ordinary text
 * (English, code, CJK) runs 3 to 5 bytes per token, so this over-reserves ordinary text about
 * twice, on purpose: under-reserving could overrun the provider's limit, over-reserving only
 * delays a call until the engine reconciles.
 */
export function conservativePromptTokens(messages: readonly ChatMessageInput[]): number {
  let total = REPLY_PRIMER_TOKENS
  for (const m of messages) total += MESSAGE_OVERHEAD_TOKENS + Math.ceil(Buffer.byteLength(textOf(m) + (m.name ?? ''), 'utf8') / 2)
  return total + imageTokens(messages)
}

/** Tokens of a piece of text (an answer whose usage the provider did not report): exact once loaded, else about four bytes a token. */
export function countTextTokens(text: string): number {
  return tokenizer === undefined ? Math.ceil(Buffer.byteLength(text, 'utf8') / 4) : tokenizer.countTokens(text, PLAIN_TEXT)
}

const exactPromptCounts = new WeakMap<object, number>()

/**
 * Tokens a call will use at most: its prompt plus `maxTokens`, or plus `expectedOutputTokens`
 * when the input sets no `maxTokens`. Exact prompt counts are remembered per input object, since
 * the engine may ask again for the same call (after a 429, say). Never throws.
 */
export function estimateCallTokens(input: Pick<ChatInput, 'messages' | 'prompt' | 'system' | 'maxTokens'>, expectedOutputTokens = DEFAULT_EXPECTED_OUTPUT_TOKENS): number {
  let prompt = exactPromptCounts.get(input)
  if (prompt === undefined) {
    const messages = messagesOf(input)
    try {
      prompt = countPromptTokens(messages)
    } catch {
      prompt = conservativePromptTokens(messages)
    }
    if (tokenizer !== undefined) exactPromptCounts.set(input, prompt)
  }
  return prompt + (input.maxTokens ?? expectedOutputTokens)
}

function textOf(message: ChatMessageInput): string {
  if (typeof message.content === 'string') return message.content
  return message.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n')
}

function imageTokens(messages: readonly ChatMessageInput[]): number {
  let total = 0
  for (const m of messages) {
    if (typeof m.content === 'string') continue
    for (const part of m.content) if (part.type === 'image_url') total += part.image_url.detail === 'low' ? LOW_DETAIL_IMAGE_TOKENS : IMAGE_TOKENS
  }
  return total
}
