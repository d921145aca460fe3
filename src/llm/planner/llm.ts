/**
 * Where the planner's calls go: a connection (resolved like `llm.chat`'s, its client made on the
 * first call) or a client the caller already made. Either way the `openai` package is imported
 * only when a call is made, never when the planner is imported.
 * @module
 */
import type OpenAI from 'openai'
import { InvalidOptionError } from '../../core/errors.js'
import { createClientLoader, type ClientLoader } from '../chat/client.js'
import { DEFAULT_MODEL, resolveLlmConnection, type Env, type LlmConnection, type ResolvedLlmConnection } from '../chat/config.js'

/**
 * The model the planner asks: a connection (`{ baseURL, apiKey, model }`; every field optional,
 * defaults from `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `TASKWEAVE_LLM_MODEL`), one already
 * resolved, or an `OpenAI` client instance.
 */
export type PlannerLlm = LlmConnection | ResolvedLlmConnection | OpenAI

/** A planner's client and what its errors are reported with. */
export interface PlannerClient {
  readonly load: ClientLoader
  readonly model: string
  /** Rate-key prefix and what errors name: `openai`, or the base URL's host. */
  readonly provider: string
  /** The API key, to keep out of errors (undefined when none is sent). */
  readonly secret: string | undefined
  readonly timeoutMs: number
  /** Set when no call can succeed: OpenAI's own endpoint without a key (the variable to set). */
  readonly missingKeyEnv: string | undefined
}

/** Resolves `llm` once; a bad connection option throws `TW_INVALID_OPTION`. `model` overrides the default model. */
export function plannerClient(llm: PlannerLlm, env: Env, model?: string): PlannerClient {
  if (model !== undefined && (typeof model !== 'string' || model.length === 0 || model.length > 200)) {
    throw new InvalidOptionError('model', 'a non-empty string of at most 200 characters', model)
  }
  if (isClient(llm)) {
    // The caller's client, with its own settings (retries included). Its error classes come from
    // the `openai` package, imported now: it is loaded already, since the client exists.
    const client = llm
    return {
      load: async () => ({ client, module: await import('openai') }),
      model: model ?? nonEmpty(env['TASKWEAVE_LLM_MODEL']) ?? DEFAULT_MODEL,
      provider: hostOf(client.baseURL),
      secret: typeof client.apiKey === 'string' && client.apiKey !== '' ? client.apiKey : undefined,
      timeoutMs: client.timeout,
      missingKeyEnv: undefined,
    }
  }
  const connection = isResolved(llm) ? llm : resolveLlmConnection(llm, env)
  return {
    load: createClientLoader(connection),
    model: model ?? connection.model,
    provider: connection.provider,
    secret: connection.apiKey,
    timeoutMs: connection.timeoutMs,
    missingKeyEnv: connection.isOpenAi && connection.apiKey === undefined ? connection.apiKeyEnv : undefined,
  }
}

/** An `OpenAI` client, told apart by shape: `instanceof` would need the package loaded. */
function isClient(llm: PlannerLlm): llm is OpenAI {
  const chat = (llm as { chat?: { completions?: { create?: unknown } } }).chat
  return typeof chat?.completions?.create === 'function'
}

function isResolved(llm: LlmConnection | ResolvedLlmConnection): llm is ResolvedLlmConnection {
  return typeof (llm as { isOpenAi?: unknown }).isOpenAi === 'boolean'
}

function hostOf(baseURL: string): string {
  try {
    const url = new URL(baseURL)
    return url.hostname === 'api.openai.com' ? 'openai' : url.host
  } catch {
    return 'llm'
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}
