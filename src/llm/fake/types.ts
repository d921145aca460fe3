/**
 * The public types of the fake OpenAI-compatible server: its options, a scripted reply, what it
 * records of a request, and its statistics.
 * @module
 */

/** A JSON value, as parsed from a request body. */
export type FakeJson = null | boolean | number | string | readonly FakeJson[] | { readonly [key: string]: FakeJson }

/** One message of a chat request, as sent (`content` may be a string, an array of parts or null). */
export interface FakeChatMessage {
  readonly role: string
  readonly content?: FakeJson
  readonly [key: string]: FakeJson | undefined
}

/** A chat completion request as the fake received it: the parsed body plus what the fake derived from it. */
export interface FakeChatRequest {
  /** Arrival order among valid chat requests since start (or {@link FakeLlm.reset}), from 0; rate-limited ones included. */
  readonly index: number
  /** `model` of the body, if it was a string. */
  readonly model: string | undefined
  readonly messages: readonly FakeChatMessage[]
  /** `max_completion_tokens`, else `max_tokens`, if either was a number. */
  readonly maxTokens: number | undefined
  /** `stream: true` was asked. */
  readonly stream: boolean
  /** `stream_options.include_usage: true` was asked. */
  readonly includeUsage: boolean
  /** `response_format` as sent. */
  readonly responseFormat: FakeJson | undefined
  /** The prompt's token count (o200k, chat format), what the quota charged for it. */
  readonly promptTokens: number
  /** The whole parsed body. */
  readonly body: { readonly [key: string]: FakeJson }
  /** Request headers, lower-case names (a repeated header's values joined with `, `). */
  readonly headers: Readonly<Record<string, string>>
}

/** A tool call in a scripted reply. */
export interface FakeToolCall {
  /** Default: `call_<n>`. */
  readonly id?: string
  readonly name: string
  /** A JSON string, or a value that is sent as its JSON text. Default `'{}'`. */
  readonly arguments?: string | { readonly [key: string]: FakeJson }
}

/** A scripted reply as an object: an answer, or an error status. */
export interface FakeReplyObject {
  /**
   * The answer's text. Default: generated text, `'{}'` for a JSON response format, and no
   * content (null) when `toolCalls` are given.
   */
  readonly content?: string
  /** Tool calls of the answer (`finish_reason: 'tool_calls'` unless `finishReason` says otherwise). */
  readonly toolCalls?: readonly FakeToolCall[]
  /** Default `'tool_calls'` with tool calls, else `'stop'`. */
  readonly finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter'
  /**
   * HTTP status. 400 or more answers an OpenAI-style error body instead of a completion
   * (429: type `requests`, code `rate_limit_exceeded`; 5xx: type `server_error`). Default 200,
   * or 500 when `error` is given.
   */
  readonly status?: number
  /** The error message of an error answer. */
  readonly error?: string
  /** On an error answer, sent as `retry-after-ms` (and `retry-after` in whole seconds, rounded up). */
  readonly retryAfterMs?: number
  /** Reported usage instead of the counted one (the quota is reconciled to it too). */
  readonly usage?: { readonly promptTokens?: number; readonly completionTokens?: number }
  /** This reply's latency instead of the configured distribution. */
  readonly latencyMs?: number
}

/** A scripted reply: the answer's text, or an object. */
export type FakeReply = string | FakeReplyObject

/**
 * Scripted replies: a list used in order by the requests the quota admits (then default
 * answers), or a function of the request and its position among admitted requests (from 0)
 * returning a reply or undefined for the default answer.
 */
export type FakeScript = readonly FakeReply[] | ((request: FakeChatRequest, index: number) => FakeReply | undefined)

/** The latency of an answer: fixed ms, uniform in `[min, max]`, or computed per request. */
export type FakeLatency = number | { readonly min: number; readonly max: number } | ((request: FakeChatRequest) => number)

/** Options of {@link startFakeLlm}. */
export interface FakeLlmOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  readonly port?: number
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string
  /** Requests per window (the RPM quota). Default: unlimited. */
  readonly rpm?: number
  /** Prompt + completion tokens per window (the TPM quota). Default: unlimited. */
  readonly tpm?: number
  /** The quota window in ms: `rpm` and `tpm` refill over it. Shorter windows compress time in benchmarks. @default 60000 */
  readonly windowMs?: number
  /**
   * Delay before the answer. A stream's chunks are spread over it (the last one at its end),
   * unless `tokensPerSecond` is given: then the first chunk comes after it. @default 0
   */
  readonly latencyMs?: FakeLatency
  /**
   * Fraction of requests answered 500 `server_error` (after the latency), among the requests
   * the quota admits and the script does not answer: a scripted reply is always given as written.
   * @default 0
   */
  readonly errorRate?: number
  /** Send `x-ratelimit-*` headers. @default true */
  readonly headers?: boolean
  /**
   * A request refused for the quota still uses one request of the window (not tokens), as
   * OpenAI documents ("unsuccessful requests contribute to your per-minute limit, so continuously
   * resending a request won't work"): a client that resends blindly on 429 digs itself deeper.
   * `false` makes refusals free. @default true
   */
  readonly refusalsCount?: boolean
  /** Scripted replies; requests beyond the script get default answers. */
  readonly script?: FakeScript
  /** Randomness for latency, errors and answer length, in [0, 1). @default Math.random */
  readonly random?: () => number
  /**
   * Streaming pace in chunks (about one token each) per second after the first chunk, which comes
   * after the latency. Default: the chunks are spread over the latency, the last one at its end.
   */
  readonly tokensPerSecond?: number
  /** Keep every request for {@link FakeLlm.requests}. Turn off for long-lived servers. @default true */
  readonly recordRequests?: boolean
  /** Keep one {@link FakeTimelineEntry} per request in {@link FakeLlmStats.timeline}. @default false */
  readonly timeline?: boolean
  /** Aborting it closes the server. */
  readonly signal?: AbortSignal
}

/** One request's course, for benchmarks (see {@link FakeLlmOptions.timeline}). */
export interface FakeTimelineEntry {
  readonly index: number
  /** Arrival, in ms since start (or reset). */
  readonly startMs: number
  /** Response end (or disconnect), in ms since start (or reset). */
  readonly endMs: number
  /** The HTTP status answered; 0 when the client went away first. */
  readonly status: number
  readonly inputTokens: number
  readonly outputTokens: number
}

/** What the fake has answered since start (or reset). */
export interface FakeLlmStats {
  /** Chat completion requests received (parsed), rate-limited ones included. */
  readonly requests: number
  /** Completions answered in full (status 2xx). */
  readonly completed: number
  /** 429 answers, quota and scripted. */
  readonly rateLimited: number
  /** 5xx answers, error rate and scripted. */
  readonly errors: number
  /** Requests whose client went away before the answer was complete. */
  readonly disconnected: number
  /** Prompt tokens of completed answers. */
  readonly inputTokens: number
  /** Completion tokens of completed answers. */
  readonly outputTokens: number
  /** Chat requests in flight now. */
  readonly inFlight: number
  /** Most chat requests in flight at once. */
  readonly maxConcurrent: number
  /** Present when {@link FakeLlmOptions.timeline} is on. */
  readonly timeline?: readonly FakeTimelineEntry[]
}

/** A running fake server. */
export interface FakeLlm {
  /** Base URL including `/v1` (pass it as the OpenAI client's `baseURL`). */
  readonly url: string
  /** The port listened on. */
  readonly port: number
  stats(): FakeLlmStats
  /** The chat requests received, in arrival order (empty when `recordRequests` is off). */
  requests(): readonly FakeChatRequest[]
  /** Back to the state just after start: statistics zeroed, buckets full, script rewound, records cleared. */
  reset(): void
  /** Stops listening, ends open connections and resolves when the server is closed. */
  close(): Promise<void>
}
