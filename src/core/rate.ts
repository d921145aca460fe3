/**
 * The plain types of LLM-aware limits: rate keys and their budgets, what a call consumed, and
 * what a provider said about its own limits. The engine's keyed limiter enforces them
 * (`scheduler/rate-budget.ts`); tools such as `llm.chat` report usage and provider limits through
 * their context.
 * @module
 */
/**
 * A budget over a window: `'600/min'`, `'10/s'`, `'200000/1m'`, `'5/250ms'`, or
 * `{ limit: 600, per: '1m' }`. Budgets refill continuously (a token bucket holding at most
 * `limit`), the way providers count.
 */
export type RateWindowSpec = string | { readonly limit: number; readonly per: number | string }

/** Adaptive concurrency of a rate key (AIMD): grow by one after a healthy window, halve on 429 or timeout. */
export interface AdaptiveSpec {
  /** Concurrent calls to start with. @default 4 */
  readonly initial?: number | undefined
  /** Never fewer than this. @default 1 */
  readonly min?: number | undefined
  /** Never more than this. @default 256 */
  readonly max?: number | undefined
}

/** The limits of one rate key (`openai:gpt-4o`), as written in a workflow file or the engine options. */
export interface RateLimitSpec {
  /** Requests per window. */
  readonly requests?: RateWindowSpec | undefined
  /** Input + output tokens per window. */
  readonly tokens?: RateWindowSpec | undefined
  /** Calls in flight at once. */
  readonly concurrent?: number | undefined
  /**
   * Adapt concurrency to the provider's answers (AIMD, with slow start). On by default when no
   * `concurrent` cap is given; `false` turns it off.
   */
  readonly adaptive?: boolean | AdaptiveSpec | undefined
  /** Times one task may be sent back to ready by a 429 before the 429 counts as a failed attempt. @default 8 */
  readonly maxBounces?: number | undefined
  /** Attempts started per second under this key, retries included: what stops a retry storm. */
  readonly attemptsPerSecond?: number | undefined
}

/** What one call consumed, as reported by the tool that made it (from the provider's `usage`). */
export interface LlmUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  /** Cost in US dollars, when a price table knows the model. */
  readonly costUsd?: number | undefined
  /** The model that answered. */
  readonly model?: string | undefined
}

/**
 * What a provider said about its limits on a response (`x-ratelimit-*` headers), in numbers.
 * Every field is optional: providers send different subsets.
 */
export interface ProviderLimits {
  readonly limitRequests?: number | undefined
  readonly remainingRequests?: number | undefined
  /** Time until the request budget is full again, in ms. */
  readonly resetRequestsMs?: number | undefined
  readonly limitTokens?: number | undefined
  readonly remainingTokens?: number | undefined
  /** Time until the token budget is full again, in ms. */
  readonly resetTokensMs?: number | undefined
}

/** A run's spending limits: once one is reached no new LLM task (a task with a rate key) starts. */
export interface RunBudgetSpec {
  /** Input + output tokens the run may use. */
  readonly maxTokens?: number | undefined
  /** US dollars the run may spend (needs a price table on the LLM tool). */
  readonly maxCostUsd?: number | undefined
}
