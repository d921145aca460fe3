/**
 * Where `llm.chat` sends its calls: an OpenAI-compatible endpoint (OpenAI itself, Ollama, vLLM, a
 * gateway…), the key, the default model and the rate-key prefix. Resolved once, when the tool is
 * made, against an environment (`process.env` unless one is injected).
 *
 * The key is held as a non-enumerable property of the resolved connection, so spreading, logging
 * or `JSON.stringify` of the connection never shows it; `redact.ts` keeps it out of errors.
 * @module
 */
import { InvalidOptionError } from '../../core/errors.js'

/** OpenAI's own endpoint, the default base URL. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1'
/** The model used when neither the input nor the connection names one (and `TASKWEAVE_LLM_MODEL` is unset). */
export const DEFAULT_MODEL = 'gpt-4o-mini'
/**
 * Sent as the key to a server that needs none (Ollama, a local vLLM): the client insists on a key.
 * It is not a secret and is never redacted.
 */
export const NO_KEY_PLACEHOLDER = 'no-key'
/** Time to wait for a call's answer to begin (the whole answer when not streaming). @default 600000 (10 min, the client's own default) */
export const DEFAULT_TIMEOUT_MS = 600_000

/** An environment to read defaults from (`process.env` by default; inject one in tests). */
export type Env = Readonly<Record<string, string | undefined>>

/** How to reach an OpenAI-compatible chat endpoint. Every field is optional. */
export interface LlmConnection {
  /** Base URL of the API, up to and including `/v1`. @default env `OPENAI_BASE_URL`, else `https://api.openai.com/v1` */
  readonly baseURL?: string
  /**
   * The API key. Never appears in events, reports, logs or errors. When neither this nor the
   * environment gives one, a placeholder is sent (fine for servers that need no key, such as
   * Ollama), except to OpenAI's own endpoint, where a call fails at once with `TW_LLM`.
   * @default env[apiKeyEnv]
   */
  readonly apiKey?: string
  /** The environment variable holding the key. @default 'OPENAI_API_KEY' */
  readonly apiKeyEnv?: string
  /** Model of a call whose input names none. @default env `TASKWEAVE_LLM_MODEL`, else 'gpt-4o-mini' */
  readonly model?: string
  /**
   * Prefix of the rate key (`<provider>:<model>`) every call counts against.
   * @default env `TASKWEAVE_LLM_PROVIDER`, else 'openai' for api.openai.com, else the base URL's host (with its port when it has one)
   */
  readonly provider?: string
  /**
   * Time to wait for the answer to begin: the whole answer when not streaming, the first chunk
   * when streaming (the task's own timeout bounds the whole call). Expiry fails the attempt with
   * a retryable `TW_TIMEOUT`. @default 600000
   */
  readonly timeoutMs?: number
  /** OpenAI organization id (`OpenAI-Organization` header). @default env `OPENAI_ORG_ID`, for OpenAI's endpoint only */
  readonly organization?: string
  /** OpenAI project id (`OpenAI-Project` header). @default env `OPENAI_PROJECT_ID`, for OpenAI's endpoint only */
  readonly project?: string
  /** Extra headers sent with every call (a gateway's routing header, say). Not redacted: put no secret here. */
  readonly headers?: Readonly<Record<string, string>>
}

/** {@link LlmConnection} with defaults applied. `apiKey` is present but not enumerable. */
export interface ResolvedLlmConnection {
  readonly baseURL: string
  /** The key, or undefined when none was given (a placeholder is then sent). Not enumerable. */
  readonly apiKey: string | undefined
  readonly apiKeyEnv: string
  readonly model: string
  readonly provider: string
  readonly timeoutMs: number
  readonly organization: string | undefined
  readonly project: string | undefined
  readonly headers: Readonly<Record<string, string>>
  /** True when the base URL is OpenAI's own endpoint. */
  readonly isOpenAi: boolean
}

/**
 * Applies the defaults of {@link LlmConnection} (reading `env`) and checks the result; a bad
 * value throws `TW_INVALID_OPTION` naming the option (`llm.baseURL`…).
 */
export function resolveLlmConnection(connection: LlmConnection = {}, env: Env = process.env): ResolvedLlmConnection {
  const apiKeyEnv = connection.apiKeyEnv ?? 'OPENAI_API_KEY'
  if (typeof apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv)) {
    throw new InvalidOptionError('llm.apiKeyEnv', 'the name of an environment variable', apiKeyEnv)
  }
  const url = parseBaseUrl(connection.baseURL ?? nonEmpty(env['OPENAI_BASE_URL']) ?? OPENAI_BASE_URL, connection.baseURL === undefined ? 'OPENAI_BASE_URL' : 'llm.baseURL')
  const isOpenAi = url.hostname === 'api.openai.com'
  const model = connection.model ?? nonEmpty(env['TASKWEAVE_LLM_MODEL']) ?? DEFAULT_MODEL
  checkString('llm.model', model)
  const provider = connection.provider ?? nonEmpty(env['TASKWEAVE_LLM_PROVIDER']) ?? (isOpenAi ? 'openai' : url.host)
  checkString('llm.provider', provider)
  const timeoutMs = connection.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1) {
    throw new InvalidOptionError('llm.timeoutMs', `an integer from 1 to ${2 ** 31 - 1}`, timeoutMs)
  }
  if (connection.apiKey !== undefined && typeof connection.apiKey !== 'string') throw new InvalidOptionError('llm.apiKey', 'a string', 'a non-string')
  const headers = connection.headers ?? {}
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new InvalidOptionError('llm.headers', 'an object of string header values', headers)
  }
  const resolved = {
    baseURL: url.href.replace(/\/+$/, ''),
    apiKeyEnv,
    model,
    provider,
    timeoutMs,
    organization: connection.organization ?? (isOpenAi ? nonEmpty(env['OPENAI_ORG_ID']) : undefined),
    project: connection.project ?? (isOpenAi ? nonEmpty(env['OPENAI_PROJECT_ID']) : undefined),
    headers: Object.freeze({ ...headers }),
    isOpenAi,
  }
  Object.defineProperty(resolved, 'apiKey', { value: nonEmpty(connection.apiKey) ?? nonEmpty(env[apiKeyEnv]), enumerable: false })
  return Object.freeze(resolved as typeof resolved & { readonly apiKey: string | undefined })
}

function parseBaseUrl(text: unknown, option: string): URL {
  const expected = 'an http: or https: URL without credentials'
  if (typeof text !== 'string') throw new InvalidOptionError(option, expected, text)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidOptionError(option, expected, text)
  }
  // A key belongs in `apiKey`; one in the URL would end up in messages (so it is not echoed).
  if (url.username !== '' || url.password !== '') throw new InvalidOptionError(option, expected, `${url.protocol}//…`)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // `localhost:8787` parses as the scheme `localhost:`: what was meant is plain.
    throw new InvalidOptionError(option, text.includes('://') ? expected : `${expected}, such as "http://${text}"`, text)
  }
  url.search = ''
  url.hash = ''
  return url
}

function checkString(option: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw new InvalidOptionError(option, 'a non-empty string of at most 200 characters', value)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}
