/**
 * `taskweave/llm`: LLM calls that work with the engine's rate keys and budgets — the `llm.chat`
 * tool on the official `openai` client (any OpenAI-compatible server), its price table and token
 * estimates, and the header parsing it shares.
 * @module
 */
export * from './chat/index.js'
export * from './fake/index.js'
export * from './planner/index.js'
// The types of rate keys, usage and budgets (`limits.rates`, `budget`, `ctx.reportUsage`, `ctx.reportLimits`).
export type { AdaptiveSpec, LlmUsage, ProviderLimits, RateLimitSpec, RateWindowSpec, RunBudgetSpec } from '../core/rate.js'
export type { RunUsage } from '../core/report.js'
