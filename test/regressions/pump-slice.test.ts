/**
 * Admitting an LLM call estimates its tokens (a tokenizer pass over its prompt). A window's worth of
 * admissions in one dispatch loop kept the first admitted call from sending its request until all
 * of them were estimated (half a second for 2,000 long prompts); the loop now lets the attempts it
 * started run after a few ms of admissions. Real clock: the slice is measured in real time.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../../src/engine/engine.js'
import { defineTool } from '../../src/core/tool.js'

/** Busy for `ms` of real time, as a tokenizer pass over a long prompt is. */
function busy(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

describe('the dispatch loop and rate-keyed admissions', () => {
  it('lets the first started calls run before it has estimated every admitted call', async () => {
    let estimated = 0
    let estimatedWhenFirstRan = -1
    const tool = defineTool({
      name: 'llm.slow-estimate',
      input: z.object({}),
      rateKey: 'prov:model',
      estimateTokens: () => {
        busy(1)
        estimated++
        return 10
      },
      run: async () => {
        // The first await: what a client does before its request leaves.
        await Promise.resolve()
        if (estimatedWhenFirstRan < 0) estimatedWhenFirstRan = estimated
        return 'ok'
      },
    })
    await using engine = createEngine({ builtins: false, tools: [tool], concurrency: 1000, rates: { 'prov:model': { requests: { limit: 10_000, per: 60_000 }, adaptive: false } } })
    const tasks = Array.from({ length: 200 }, (_, i) => ({ id: `t${i}`, tool: 'llm.slow-estimate' }))
    const result = await engine.run({ id: 'w', tasks })
    expect(result.status).toBe('succeeded')
    expect(estimated).toBe(200)
    // Without the slice every one of the 200 was estimated first (200 ms of estimates).
    expect(estimatedWhenFirstRan).toBeGreaterThan(0)
    expect(estimatedWhenFirstRan).toBeLessThan(100)
  })
})
