/**
 * Rate keys, run budgets and the retry-storm cap, through the engine, on the manual clock: the
 * tools here stand in for an LLM client by reporting usage and throwing `RateLimitedError`.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../src/engine/engine.js'
import { defineTool } from '../src/core/tool.js'
import type { ToolContext } from '../src/core/tool.js'
import { RateLimitedError, TaskweaveError } from '../src/core/errors.js'
import { ManualClock } from '../src/testing/manual-clock.js'
import { sleep } from '../src/core/clock.js'
import type { TaskweaveEvent } from '../src/observe/events.js'
import type { TaskSpec } from '../src/core/spec.js'

/** A fake LLM call: waits `ms` on the clock, reports `used` tokens, and records when it started. */
function llmTool(clock: ManualClock, options: { readonly ms?: number; readonly estimate?: number; readonly used?: number; readonly key?: string } = {}) {
  const starts: { id: string; at: number }[] = []
  const tool = defineTool({
    name: 'llm.fake',
    input: z.object({ n: z.number().optional(), tokens: z.number().optional() }),
    rateKey: options.key ?? 'prov:model',
    estimateTokens: (input) => input.tokens ?? options.estimate ?? 0,
    run: async (_input, ctx: ToolContext) => {
      starts.push({ id: ctx.taskId, at: clock.now() })
      await sleep(clock, options.ms ?? 100, ctx.signal)
      if (options.used !== undefined) ctx.reportUsage?.({ inputTokens: options.used, outputTokens: 0 })
      return 'ok'
    },
  })
  return { tool, starts }
}

const tasks = (n: number, extra: Partial<TaskSpec> = {}): TaskSpec[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, tool: 'llm.fake', ...extra }))

describe('rate keys', () => {
  it('five calls under "2 per second" start two at once, then one every 500 ms', async () => {
    const clock = new ManualClock()
    const { tool, starts } = llmTool(clock, { ms: 10 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { requests: '2/s', adaptive: false } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: tasks(5) }))
    expect(result.status).toBe('succeeded')
    expect(starts.map((s) => s.at)).toEqual([0, 0, 500, 1000, 1500])
    expect(result.tasks['t0']?.rateKey).toBe('prov:model')
  })

  it('the key is shared by every run of the engine (a workflow declares it in limits.rates)', async () => {
    const clock = new ManualClock()
    const { tool, starts } = llmTool(clock, { ms: 10 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool] })
    const flow = { id: 'w', limits: { rates: { 'prov:model': { requests: { limit: 1, per: '1s' }, adaptive: false } } }, tasks: tasks(2) }
    await clock.runUntilSettled(Promise.all([engine.run(flow), engine.run(flow)]))
    expect(starts.map((s) => s.at)).toEqual([0, 1000, 2000, 3000])
  })

  it('reserves the token estimate before a call and gives back what the reported usage did not use', async () => {
    const clock = new ManualClock()
    const { tool, starts } = llmTool(clock, { ms: 100, estimate: 600, used: 100 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { tokens: '1000/min', adaptive: false } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: tasks(3) }))
    // 600 reserved at 0; the second (600) does not fit in the 400 left; when the first settles
    // having used 100, 500 come back (900 left), so the second starts at 100 and the third waits
    // until the bucket refills to 600 again.
    expect(starts[0]?.at).toBe(0)
    expect(starts[1]?.at).toBe(100)
    expect(starts[2]?.at).toBeGreaterThan(100)
    expect(result.usage).toEqual({ inputTokens: 300, outputTokens: 0, calls: 3 })
    expect(result.tasks['t1']?.usage).toEqual({ inputTokens: 100, outputTokens: 0, calls: 1 })
  })

  it('fails a task whose estimate can never fit the key at once, naming the key', async () => {
    const clock = new ManualClock()
    const { tool } = llmTool(clock, { estimate: 5000 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { tokens: '1000/min' } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: tasks(1) }))
    expect(result.status).toBe('failed')
    expect(result.tasks['t0']?.error?.code).toBe('TW_RATE_NEVER_FITS')
    expect(result.tasks['t0']?.error?.message).toContain('"prov:model"')
    expect(result.tasks['t0']?.attempts).toBe(0)
  })

  it('estimates a call queued behind others when it reaches the head of the line, not before the first calls start', async () => {
    const clock = new ManualClock()
    const estimated: string[] = []
    const starts: { id: string; at: number; estimatedBefore: number }[] = []
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({ n: z.number() }),
      rateKey: 'prov:model',
      estimateTokens: (input) => {
        estimated.push(`t${input.n}`)
        return input.n === 7 ? 5000 : 100
      },
      run: async (_input, ctx: ToolContext) => {
        starts.push({ id: ctx.taskId, at: clock.now(), estimatedBefore: estimated.length })
        await sleep(clock, 10, ctx.signal)
        return 'ok'
      },
    })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { tokens: '300/s', adaptive: false } } })
    const flow = { id: 'w', tasks: Array.from({ length: 20 }, (_, n) => ({ id: `t${n}`, tool: 'llm.fake', input: { n } })) }
    const result = await clock.runUntilSettled(engine.run(flow))
    // Three fit the full bucket; the fourth is estimated, finds it short and opens the line; the
    // sixteen behind it are estimated one by one as each reaches the head, once each.
    expect(starts.slice(0, 4).map((s) => [s.at, s.estimatedBefore])).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
      [334, 4],
    ])
    expect(estimated).toEqual(flow.tasks.map((t) => t.id))
    // A call that can never fit is still refused, when its turn comes, and the line moves on.
    expect(result.tasks['t7']?.error?.code).toBe('TW_RATE_NEVER_FITS')
    expect(result.tasks['t7']?.attempts).toBe(0)
    expect(result.counts).toMatchObject({ succeeded: 19, failed: 1 })
  })

  it('a 429 pauses the whole key for Retry-After and sends the task back without spending an attempt', async () => {
    const clock = new ManualClock()
    const starts: { id: string; at: number }[] = []
    let refused = 0
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({}),
      rateKey: 'prov:model',
      run: async (_input, ctx) => {
        starts.push({ id: ctx.taskId, at: clock.now() })
        if (ctx.taskId === 't0' && refused++ === 0) throw new RateLimitedError('429 Too Many Requests', { retryAfterMs: 5000 })
        await sleep(clock, 10, ctx.signal)
        return 'ok'
      },
    })
    const events: TaskweaveEvent[] = []
    await using engine = createEngine({ builtins: false, clock, tools: [tool], concurrency: 1, rates: { 'prov:model': { concurrent: 1 } } })
    engine.events.on('task:throttled', (e) => events.push(e))
    clock.setWallTime(1_000_000)
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: tasks(3) }))
    expect(result.status).toBe('succeeded')
    // t0 got its 429 at 0: nothing on the key starts before 5000, and t0 (first in line) goes first.
    expect(starts).toEqual([
      { id: 't0', at: 0 },
      { id: 't0', at: 5000 },
      { id: 't1', at: 5010 },
      { id: 't2', at: 5020 },
    ])
    expect(result.tasks['t0']).toMatchObject({ status: 'succeeded', throttled: 1 })
    const bounce = events.find((e) => e.type === 'task:throttled' && e.reason === 'rate-limited')
    expect(bounce).toMatchObject({ taskId: 't0', key: 'prov:model', until: 1_005_000, bounces: 1 })
  })

  it('after maxBounces a 429 counts as a failed attempt', async () => {
    const clock = new ManualClock()
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({}),
      rateKey: 'prov:model',
      run: () => {
        throw new RateLimitedError('429', { retryAfterMs: 100 })
      },
    })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { maxBounces: 2 } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: tasks(1) }))
    expect(result.tasks['t0']).toMatchObject({ status: 'failed', attempts: 3, throttled: 2 })
    expect(result.tasks['t0']?.error?.code).toBe('TW_RATE_LIMITED')
  })

  it('tasks waiting on a paused key start in priority order, across runs', async () => {
    const clock = new ManualClock()
    const starts: string[] = []
    let first = true
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({}),
      rateKey: 'prov:model',
      run: async (_input, ctx) => {
        if (first) {
          first = false
          throw new RateLimitedError('429', { retryAfterMs: 1000 })
        }
        starts.push(ctx.taskId)
        await sleep(clock, 10, ctx.signal)
        return 'ok'
      },
    })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { concurrent: 1 } } })
    const a = engine.run({ id: 'a', tasks: [{ id: 'a-first', tool: 'llm.fake', priority: 100 }] })
    await new Promise((resolve) => setImmediate(resolve))
    const b = engine.run({ id: 'b', tasks: [{ id: 'b-low', tool: 'llm.fake', priority: 1 }, { id: 'b-high', tool: 'llm.fake', priority: 50 }] })
    const c = engine.run({ id: 'c', tasks: [{ id: 'c-mid', tool: 'llm.fake', priority: 10 }] })
    await clock.runUntilSettled(Promise.all([a, b, c]))
    expect(starts).toEqual(['a-first', 'b-high', 'c-mid', 'b-low'])
  })

  it('stops starting LLM tasks once the run budget is used up: running ones finish, the run is partial with the reason', async () => {
    const clock = new ManualClock()
    const { tool, starts } = llmTool(clock, { ms: 100, used: 100 })
    const plain = defineTool({ name: 'plain', input: z.object({}), run: () => 'done' })
    const events: TaskweaveEvent[] = []
    await using engine = createEngine({ builtins: false, clock, tools: [tool, plain], rates: { 'prov:model': { concurrent: 1 } } })
    engine.events.on('run:budget-exhausted', (e) => events.push(e))
    const flow = { id: 'w', budget: { maxTokens: 250 }, tasks: [...tasks(5), { id: 'after', tool: 'plain' }] }
    const result = await clock.runUntilSettled(engine.run(flow))
    expect(starts.map((s) => s.id)).toEqual(['t0', 't1', 't2'])
    expect(result.status).toBe('partial')
    expect(result.reason).toMatch(/budget exhausted: 300 tokens used of maxTokens 250/)
    expect(result.tasks['t3']).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/budget exhausted/) })
    expect(result.tasks['after']?.status).toBe('succeeded')
    expect(result.usage).toEqual({ inputTokens: 300, outputTokens: 0, calls: 3 })
    expect(events).toHaveLength(1)
  })

  it('the reason of a budget run out while calls were in flight gives what the run spent by the end, as its usage does', async () => {
    const clock = new ManualClock()
    const { tool } = llmTool(clock, { ms: 100, used: 100 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { concurrent: 3, adaptive: false } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', budget: { maxTokens: 150 }, tasks: tasks(5) }))
    expect(result.usage).toMatchObject({ inputTokens: 300, calls: 3 })
    expect(result.reason).toMatch(/^budget exhausted: 200 tokens used of maxTokens 150 in run \S+; 300 tokens by the end \(calls in flight when it ran out still finished\)$/)
  })

  it('a run that overspent its budget with its last call, skipping nothing, is partial with the reason too', async () => {
    const clock = new ManualClock()
    const { tool } = llmTool(clock, { ms: 10, used: 132 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { concurrent: 1 } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', budget: { maxTokens: 10 }, tasks: tasks(1) }))
    expect(result.counts).toMatchObject({ succeeded: 1, skipped: 0 })
    expect(result.status).toBe('partial')
    expect(result.reason).toMatch(/budget exhausted: 132 tokens used of maxTokens 10/)
    // Within its budget, or spending it exactly with nothing left undone, a run succeeds as ever.
    for (const maxTokens of [1000, 132]) {
      const within = await clock.runUntilSettled(engine.run({ id: 'w', budget: { maxTokens }, tasks: tasks(1) }))
      expect(within.status, String(maxTokens)).toBe('succeeded')
      expect(within.reason).toBeUndefined()
    }
  })

  it('warns when the workflow limits a key no task went by while its calls went by another', async () => {
    const clock = new ManualClock()
    const { tool } = llmTool(clock, { ms: 1, used: 1 })
    const warnings: string[] = []
    const logger = { debug: () => undefined, info: () => undefined, warn: (message: string) => void warnings.push(message), error: () => undefined, child: () => logger }
    await using engine = createEngine({ builtins: false, clock, tools: [tool], logger })
    const flow = { id: 'w', limits: { rates: { 'openai:gpt-4o-mini': { concurrent: 1 }, 'prov:model': { concurrent: 2 } } }, tasks: tasks(2) }
    const compiled = engine.compile(flow)
    await clock.runUntilSettled(engine.run(compiled, { runId: 'keys' }))
    // Once per workflow, not once per run.
    await clock.runUntilSettled(engine.run(compiled, { runId: 'keys-again' }))
    expect(warnings).toEqual(['limits.rates of workflow "w" names "openai:gpt-4o-mini", which no task of run keys went by; its calls went by "prov:model"'])
  })

  it('does not estimate a waiting call of a run whose budget is used up', async () => {
    const clock = new ManualClock()
    const estimated: string[] = []
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({ n: z.number() }),
      rateKey: 'prov:model',
      estimateTokens: (input) => (estimated.push(`t${input.n}`), 10),
      run: async (_input, ctx: ToolContext) => {
        await sleep(clock, 100, ctx.signal)
        ctx.reportUsage?.({ inputTokens: 100, outputTokens: 0 })
        return 'ok'
      },
    })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { concurrent: 1 } } })
    const flow = { id: 'w', budget: { maxTokens: 250 }, tasks: Array.from({ length: 8 }, (_, n) => ({ id: `t${n}`, tool: 'llm.fake', input: { n } })) }
    const result = await clock.runUntilSettled(engine.run(flow))
    expect(result.counts).toMatchObject({ succeeded: 3, skipped: 5 })
    // t0 and t1 found no line; t2 and t3 were counted at the head while the budget still held.
    expect(estimated).toEqual(['t0', 't1', 't2', 't3'])
  })

  it('a run option budget overrides the workflow and is checked', async () => {
    const clock = new ManualClock()
    const { tool } = llmTool(clock, { ms: 1, used: 10 })
    await using engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { concurrent: 1 } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', budget: { maxTokens: 1000 }, tasks: tasks(3) }, { budget: { maxTokens: 10 } }))
    expect(result.counts.succeeded).toBe(1)
    expect(() => engine.start({ id: 'w', tasks: tasks(1) }, { budget: { maxTokens: -1 } })).toThrow(/budget.maxTokens/)
  })

  it('adapts the concurrency of an unconfigured key: halves on 429s, grows back while healthy', async () => {
    const clock = new ManualClock()
    let inFlight = 0
    const seen: number[] = []
    // eslint-disable-next-line prefer-const -- the tool reads the engine made after it
    let engine: ReturnType<typeof createEngine>
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({}),
      rateKey: 'prov:model',
      run: async (_input, ctx) => {
        seen.push(engine.stats().rates[0]?.concurrency ?? 0)
        // A provider that takes three calls at once and refuses the rest.
        if (inFlight >= 3) throw new RateLimitedError('429', { retryAfterMs: 50 })
        inFlight++
        try {
          await sleep(clock, 100, ctx.signal)
        } finally {
          inFlight--
        }
        return 'ok'
      },
    })
    engine = createEngine({ builtins: false, clock, tools: [tool], rates: { 'prov:model': { adaptive: { initial: 8, max: 16 }, maxBounces: 100 } } })
    try {
      const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: tasks(80) }))
      expect(result.status).toBe('succeeded')
      expect(seen[0]).toBe(8)
      const low = Math.min(...seen)
      expect(low).toBeLessThanOrEqual(4)
      // Healthy windows after the back-off raise it again (+1 per window of `limit` completions).
      expect(seen.slice(seen.indexOf(low)).some((n) => n > low)).toBe(true)
    } finally {
      await engine.close()
    }
  })

  it('caps attempts per second of a tool, retries included, so a retry storm does not hammer a failing server', async () => {
    const clock = new ManualClock()
    const attempts: number[] = []
    const failing = defineTool({
      name: 'flaky',
      input: z.object({}),
      run: () => {
        attempts.push(clock.now())
        throw new TaskweaveError('TW_HTTP_STATUS', '503 Service Unavailable')
      },
    })
    await using engine = createEngine({ builtins: false, clock, tools: [failing], random: () => 0, rates: { 'tool:flaky': { attemptsPerSecond: 50 } } })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: Array.from({ length: 500 }, (_, i) => ({ id: `f${i}`, tool: 'flaky', retry: { maxAttempts: 3, initialDelay: 0, jitter: 'none' as const } })) }))
    expect(result.counts.failed).toBe(500)
    expect(attempts).toHaveLength(1500)
    const perSecond = new Map<number, number>()
    for (const at of attempts) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1)
    // The bucket starts full (a burst of 50), then refills 50 per second.
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(100)
    expect([...perSecond.values()].slice(2).every((n) => n <= 51)).toBe(true)
  })

  it('a retry storm (RT-07): 5,000 tasks against a service down for 60 s stay under the attempt cap, meet no herd when it recovers, and all finish', async () => {
    const clock = new ManualClock()
    const attempts: number[] = []
    const service = defineTool({
      name: 'svc',
      input: z.object({}),
      run: () => {
        attempts.push(clock.now())
        if (clock.now() < 60_000) throw new TaskweaveError('TW_HTTP_STATUS', '503 Service Unavailable')
        return 'ok'
      },
    })
    let seed = 7
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    await using engine = createEngine({ builtins: false, clock, tools: [service], random, concurrency: 256, rates: { 'tool:svc': { attemptsPerSecond: 200 } } })
    const flow = { id: 'storm', tasks: Array.from({ length: 5_000 }, (_, i) => ({ id: `s${i}`, tool: 'svc', retry: { maxAttempts: 30, initialDelay: '1s', maxDelay: '30s', jitter: 'full' as const } })) }
    const result = await clock.runUntilSettled(engine.run(flow), { maxSteps: 10_000_000 })
    expect(result.status).toBe('succeeded')
    expect(result.counts.succeeded).toBe(5_000)
    // The storm: about 200 refused attempts a second for the 60 s of the outage.
    expect(attempts.filter((at) => at < 60_000).length).toBeGreaterThan(11_000)
    const perSecond = new Map<number, number>()
    for (const at of attempts) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1)
    // A full bucket (200) may go at once; after that, 200 a second, before and after the recovery.
    expect(Math.max(...[...perSecond.entries()].filter(([second]) => second >= 1).map(([, n]) => n))).toBeLessThanOrEqual(201)
    const recovery = [...perSecond.entries()].filter(([second]) => second >= 60).map(([, n]) => n)
    expect(Math.max(...recovery)).toBeLessThanOrEqual(201)
    // Every task finishes once the service is back, at the cap: 5,000 within 25 s plus the longest backoff.
    expect(clock.now()).toBeLessThan(60_000 + 25_000 + 30_000 + 1_000)
  }, 60_000)

  it('learns a key’s budgets from the provider’s x-ratelimit headers', async () => {
    const clock = new ManualClock()
    const tool = defineTool({
      name: 'llm.fake',
      input: z.object({}),
      rateKey: 'prov:model',
      run: async (_input, ctx) => {
        await sleep(clock, 10, ctx.signal)
        ctx.reportLimits?.({ limitRequests: 60, remainingRequests: 0, resetRequestsMs: 60_000 })
        return 'ok'
      },
    })
    await using engine = createEngine({ builtins: false, clock, tools: [tool] })
    const running = engine.run({ id: 'w', tasks: tasks(6) })
    await clock.runUntilSettled(running)
    const stats = engine.stats().rates.find((r) => r.key === 'prov:model')
    expect(stats?.learned).toBe(true)
    expect(stats?.requestsLeft).toBeLessThan(60)
  })

  it('refuses a malformed rate limit naming the key and field', () => {
    expect(() => createEngine({ builtins: false, rates: { 'prov:model': { requests: 'lots' } } })).toThrow(/rates\.prov:model\.requests/)
    expect(() => createEngine({ builtins: false, rates: { 'prov:model': { concurrent: 0 } } })).toThrow(/rates\.prov:model\.concurrent/)
  })
})
