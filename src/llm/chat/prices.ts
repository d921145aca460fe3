/**
 * Turning a call's token usage into US dollars. The price table is plain data the user owns:
 * {@link DEFAULT_PRICES} is a starting point for a few well-known models, not a source of truth.
 * Prices change, and cached-input discounts, batch prices and reasoning tokens are not modelled.
 * Pass your own table (`createChatTool({ prices: { ...DEFAULT_PRICES, 'my-model': {…} } })`)
 * to correct, extend or replace it; a model the table does not know gets no `costUsd`.
 * @module
 */
import type { LlmUsage } from '../../core/rate.js'

/** The price of one model, in US dollars per million tokens. */
export interface ModelPrice {
  readonly inputPerMillion: number
  readonly outputPerMillion: number
}

/** Prices by model name (`'gpt-4o-mini'`). */
export type PriceTable = Readonly<Record<string, ModelPrice>>

/**
 * Standard (non-batch, uncached) OpenAI list prices in USD per million tokens, as published when
 * this table was written. Editable and overridable: check your provider's price page and pass
 * your own table as the tool's `prices` option.
 */
export const DEFAULT_PRICES: PriceTable = Object.freeze({
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'o4-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  'gpt-5': { inputPerMillion: 1.25, outputPerMillion: 10 },
  'gpt-5-mini': { inputPerMillion: 0.25, outputPerMillion: 2 },
  'gpt-5-nano': { inputPerMillion: 0.05, outputPerMillion: 0.4 },
})

/** The table's price of `model`: its exact name, else its name without a date suffix (`gpt-4o-2024-08-06` → `gpt-4o`). */
export function priceOf(model: string, table: PriceTable): ModelPrice | undefined {
  if (Object.hasOwn(table, model)) return table[model]
  const undated = model.replace(/-\d{4}-\d{2}-\d{2}$/, '')
  return undated !== model && Object.hasOwn(table, undated) ? table[undated] : undefined
}

/**
 * What a call cost in US dollars, or undefined when the table has no price for `model`.
 * Rounded to a billionth of a dollar, so sums do not show floating-point noise.
 */
export function costOf(usage: Pick<LlmUsage, 'inputTokens' | 'outputTokens'>, model: string, table: PriceTable = DEFAULT_PRICES): number | undefined {
  const price = priceOf(model, table)
  if (price === undefined) return undefined
  const dollars = (usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) / 1_000_000
  return Math.round(dollars * 1e9) / 1e9
}
