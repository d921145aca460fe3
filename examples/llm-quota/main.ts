/**
 * An LLM fan-out under a provider's quota, against the local fake provider (no API key needed):
 * 60 notes summarised by `llm.chat`, then merged. The fake server enforces 120 requests and 20,000
 * tokens per 6 s window and answers 429 past them; the workflow declares the same budgets for its
 * rate key, so the engine keeps the fan-out under them with no 429 (the final digest, one large
 * prompt late in a tight window, may meet one and is sent back without spending an attempt). The
 * run's token budget stops new calls once spent.
 * Run: npx tsx examples/llm-quota/main.ts
 */
import { fileURLToPath } from 'node:url'
import { createEngine } from 'taskweave'
import type { RunResult } from 'taskweave'
import { startFakeLlm } from 'taskweave/llm'

/** What the example reports (the tests read it). */
export interface QuotaReport {
  readonly result: RunResult
  /** 429s the provider answered. */
  readonly rateLimited: number
  readonly requests: number
  readonly seconds: number
}

/** Runs the example against a fresh fake provider; `notes` texts are summarised, under `maxTokens` if given (else the file's budget). */
export async function main(log: (line: string) => void = console.log, notes = 60, maxTokens?: number): Promise<QuotaReport> {
  const provider = await startFakeLlm({ rpm: 120, tpm: 20_000, windowMs: 6000, latencyMs: { min: 20, max: 120 } })
  try {
    // `provider: 'fake'` names the rate key `fake:<model>`, the key the workflow file limits.
    await using engine = createEngine({ builtins: { llm: { baseURL: provider.url, apiKey: 'fake', provider: 'fake' } } })
    const flow = await engine.load(fileURLToPath(new URL('./workflow.yaml', import.meta.url)))
    const texts = Array.from({ length: notes }, (_, i) => `Note ${i + 1}: ${'the quarterly numbers moved again and the team met to discuss them. '.repeat(1 + (i % 7))}`)
    const started = performance.now()
    const result = await engine.run(flow, { inputs: { notes: texts }, ...(maxTokens !== undefined ? { budget: { maxTokens } } : {}) })
    const seconds = (performance.now() - started) / 1000
    const stats = provider.stats()
    log(`run ${result.status} in ${seconds.toFixed(1)} s: ${stats.requests} requests, ${stats.rateLimited} answered 429`)
    log(`usage: ${result.usage?.inputTokens ?? 0} input + ${result.usage?.outputTokens ?? 0} output tokens${result.usage?.costUsd !== undefined ? `, $${result.usage.costUsd}` : ''}`)
    if (result.reason !== undefined) log(`stopped early: ${result.reason}`)
    return { result, rateLimited: stats.rateLimited, requests: stats.requests, seconds }
  } finally {
    await provider.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
