/**
 * `llm.chat`: chat completions from any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, a
 * gateway) as a tool that works with the engine's rate limits: a rate key per provider and
 * model, token estimates reserved before a call, usage and provider limits reported after it,
 * and a 429 turned into `RateLimitedError`. The `openai` client and the tokenizer load lazily, so
 * importing this costs nothing at start-up.
 *
 * @example
 * import { createEngine } from 'taskweave'
 * const engine = createEngine({ tools: [createChatTool({ baseURL: 'http://localhost:11434/v1', model: 'llama3.2' })] })
 * @module
 */
export { createChatTool } from './chat-tool.js'
export type { ChatOutput, ChatTool, ChatUsage } from './chat-tool.js'
export type { ChatToolOptions, MaxTokensParam, ResolvedChatToolOptions } from './options.js'
export { resolveChatToolOptions } from './options.js'
export { DEFAULT_MODEL, NO_KEY_PLACEHOLDER, OPENAI_BASE_URL, resolveLlmConnection } from './config.js'
export type { Env, LlmConnection, ResolvedLlmConnection } from './config.js'
export { chatInput } from './input.js'
export type { ChatInput, ChatMessageInput, ContentPartInput } from './input.js'
export { DEFAULT_PRICES, costOf, priceOf } from './prices.js'
export type { ModelPrice, PriceTable } from './prices.js'
export { DEFAULT_EXPECTED_OUTPUT_TOKENS, estimateCallTokens, preloadTokenizer } from './estimate.js'
export { parseProviderLimits, parseResetDuration, retryAfterMsOf } from './headers.js'
export type { HeaderSource } from './headers.js'
export { redact } from './redact.js'
export type { ChatProgressData } from './progress.js'
