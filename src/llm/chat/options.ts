/** Options of `llm.chat`, checked once when the tool is created. @module */
import { InvalidOptionError } from '../../core/errors.js'
import { optionNames, refuseUnknownOptions } from '../../core/known-options.js'
import { resolveLlmConnection, type Env, type LlmConnection, type ResolvedLlmConnection } from './config.js'
import { DEFAULT_EXPECTED_OUTPUT_TOKENS } from './estimate.js'
import { DEFAULT_PRICES, type PriceTable } from './prices.js'

/** How the answer's token limit is sent: OpenAI's current name, or the older one most compatible servers read. */
export type MaxTokensParam = 'max_completion_tokens' | 'max_tokens'

/** Options of {@link createChatTool}: where to connect (see {@link LlmConnection}) and how the tool behaves. */
export interface ChatToolOptions extends LlmConnection {
  /** The tool's name; give another to register a second connection beside the first. @default 'llm.chat' */
  readonly name?: string
  /**
   * Prices turning usage into `costUsd`. Replaces the default table; spread it to extend it
   * (`{ ...DEFAULT_PRICES, 'my-model': { inputPerMillion: 1, outputPerMillion: 2 } }`), or pass
   * `{}` for no costs. @default DEFAULT_PRICES
   */
  readonly prices?: PriceTable
  /** Answer tokens reserved for a call whose input sets no `maxTokens`. @default 256 */
  readonly expectedOutputTokens?: number
  /** Least time between two progress events of a streamed answer, in ms; 0 sends one per chunk. @default 100 */
  readonly progressIntervalMs?: number
  /**
   * The request field that carries `maxTokens`.
   * @default 'max_completion_tokens' for OpenAI's endpoint (its o-series refuses `max_tokens`), else 'max_tokens'
   */
  readonly maxTokensParam?: MaxTokensParam
  /**
   * Start loading the tokenizer when the tool is created, so estimates are exact by the time
   * calls are admitted. False loads it on the first estimate or call instead. @default true
   */
  readonly preloadTokenizer?: boolean
  /** Environment the connection defaults are read from. @default process.env */
  readonly env?: Env
}

/** {@link ChatToolOptions} with defaults applied. */
export interface ResolvedChatToolOptions {
  readonly name: string
  readonly connection: ResolvedLlmConnection
  readonly prices: PriceTable
  readonly expectedOutputTokens: number
  readonly progressIntervalMs: number
  readonly maxTokensParam: MaxTokensParam
  readonly preloadTokenizer: boolean
}

/** Every option of {@link ChatToolOptions} (its connection's among them). */
export const CHAT_TOOL_OPTION_NAMES = optionNames<ChatToolOptions>()([
  'baseURL',
  'apiKey',
  'apiKeyEnv',
  'model',
  'provider',
  'timeoutMs',
  'organization',
  'project',
  'headers',
  'name',
  'prices',
  'expectedOutputTokens',
  'progressIntervalMs',
  'maxTokensParam',
  'preloadTokenizer',
  'env',
])

/** Checks the options (throwing `TW_INVALID_OPTION` naming the bad one) and applies defaults. */
export function resolveChatToolOptions(options: ChatToolOptions = {}): ResolvedChatToolOptions {
  // A typo here (`baseUrl`) would send the calls, and the key, to the default provider.
  refuseUnknownOptions('createChatTool', options, CHAT_TOOL_OPTION_NAMES, 'llm.')
  const { name = 'llm.chat', prices = DEFAULT_PRICES, expectedOutputTokens = DEFAULT_EXPECTED_OUTPUT_TOKENS, progressIntervalMs = 100, preloadTokenizer = true, env, ...connectionOptions } = options
  const connection = resolveLlmConnection(connectionOptions, env)
  if (typeof name !== 'string' || !/^[A-Za-z][\w.-]{0,127}$/.test(name)) throw new InvalidOptionError('llm.name', 'a tool name matching /^[A-Za-z][\\w.-]{0,127}$/', name)
  checkPrices(prices)
  checkInteger('llm.expectedOutputTokens', expectedOutputTokens, 0, 10_000_000)
  checkInteger('llm.progressIntervalMs', progressIntervalMs, 0, 3_600_000)
  if (typeof preloadTokenizer !== 'boolean') throw new InvalidOptionError('llm.preloadTokenizer', 'a boolean', preloadTokenizer)
  const maxTokensParam = options.maxTokensParam ?? (connection.isOpenAi ? 'max_completion_tokens' : 'max_tokens')
  if (maxTokensParam !== 'max_completion_tokens' && maxTokensParam !== 'max_tokens') {
    throw new InvalidOptionError('llm.maxTokensParam', "'max_completion_tokens' or 'max_tokens'", maxTokensParam)
  }
  return Object.freeze({ name, connection, prices: Object.freeze({ ...prices }), expectedOutputTokens, progressIntervalMs, maxTokensParam, preloadTokenizer })
}

function checkPrices(prices: unknown): void {
  if (typeof prices !== 'object' || prices === null || Array.isArray(prices)) throw new InvalidOptionError('llm.prices', 'an object of { inputPerMillion, outputPerMillion } by model', prices)
  for (const [model, price] of Object.entries(prices)) {
    const p = price as { inputPerMillion?: unknown; outputPerMillion?: unknown } | null
    for (const field of ['inputPerMillion', 'outputPerMillion'] as const) {
      const value = p?.[field]
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidOptionError(`llm.prices[${JSON.stringify(model)}].${field}`, 'a finite number ≥ 0', value)
    }
  }
}

function checkInteger(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new InvalidOptionError(option, `an integer from ${min} to ${max}`, value)
}
