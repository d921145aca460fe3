/**
 * Token counts with OpenAI's o200k encoding (gpt-tokenizer), so the fake's usage and quota
 * arithmetic match what a real provider would charge closely enough for benchmarks. The
 * tokenizer's tables are large: they are imported on first use, not when this module loads.
 * @module
 */
import type * as O200k from 'gpt-tokenizer/encoding/o200k_base'
import { isJsonArray, isJsonObject } from './json.js'
import type { FakeChatMessage, FakeJson } from './types.js'

/** Counts tokens of text and of a chat prompt. */
export interface TokenCounter {
  /** Tokens of plain text. */
  text(text: string): number
  /** Tokens of a chat prompt: its messages in chat format, plus tool definitions if any. */
  prompt(messages: readonly FakeChatMessage[], tools?: FakeJson): number
}

// A type-only import: erased from the output, so the tables still load only on first use.
type Encoding = typeof O200k

// Special-token text in a prompt (`<|endoftext|>`) is counted as plain text, as providers treat
// user content; by default gpt-tokenizer throws on it.
const PLAIN = { disallowedSpecial: new Set<string>() }

/** Per-message overhead of the chat format (`<|im_start|>role<|im_sep|>…<|im_end|>`). */
const PER_MESSAGE = 4
/** The tokens that prime the assistant's reply. */
const REPLY_PRIMING = 3

let loading: Promise<TokenCounter> | undefined

/** The token counter, loading the tokenizer once per process. */
export function loadTokenCounter(): Promise<TokenCounter> {
  loading ??= import('gpt-tokenizer/encoding/o200k_base').then(counterOf)
  return loading
}

function counterOf(encoding: Encoding): TokenCounter {
  const text = (value: string): number => encoding.countTokens(value, PLAIN)
  return {
    text,
    prompt(messages, tools) {
      const toolTokens = tools === undefined || tools === null ? 0 : text(JSON.stringify(tools))
      return chatTokens(encoding, text, messages) + toolTokens
    },
  }
}

function chatTokens(encoding: Encoding, text: (value: string) => number, messages: readonly FakeChatMessage[]): number {
  // The exact chat encoding handles plain role/content messages; anything else (content parts,
  // tool calls, null content) is counted by the same rule by hand.
  if (messages.every(isPlain)) return encoding.encodeChat(messages.map(({ role, content, name }) => (name === undefined ? { role, content } : { role, content, name })), 'gpt-4o', PLAIN).length
  let total = REPLY_PRIMING
  for (const message of messages) {
    total += PER_MESSAGE
    for (const [key, value] of Object.entries(message)) {
      if (key === 'role' || value === undefined || value === null) continue
      total += key === 'content' ? contentTokens(value, text) : text(typeof value === 'string' ? value : JSON.stringify(value))
    }
  }
  return total
}

type PlainMessage = FakeChatMessage & { readonly content: string; readonly name?: string }

function isPlain(message: FakeChatMessage): message is PlainMessage {
  return Object.entries(message).every(([key, value]) => (key === 'role' || key === 'content' || key === 'name' ? typeof value === 'string' : value === undefined))
}

function contentTokens(content: FakeJson, text: (value: string) => number): number {
  if (typeof content === 'string') return text(content)
  if (!isJsonArray(content)) return text(JSON.stringify(content))
  let total = 0
  // A text part counts its text; other parts (images, audio) their JSON, a stand-in with some weight.
  for (const part of content) {
    const partText = isJsonObject(part) ? part['text'] : undefined
    total += text(typeof partText === 'string' ? partText : JSON.stringify(part))
  }
  return total
}

