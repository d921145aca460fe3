import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { AttemptRequest } from '../core/attempt.js'
import { TaskweaveError } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { SharedRateBudget } from '../core/shared-rate.js'
import { defineTool } from '../core/tool.js'
import { createMemorySharedRateBudget } from '../queues/memory/shared-rate-budget.js'
import { createMemoryTransport } from '../queues/memory/transport.js'
import { ManualClock } from '../testing/manual-clock.js'
import { createRemoteRunner } from './remote-runner.js'
import { MAX_RETRY_MS, SharedRateGate } from './shared-rates.js'
import type { SharedRateSettings } from './shared-rates.js'

const HOUR = 3_600_000
const chat = defineTool({
  name: 'llm.chat',
  input: z.object({ model: z.string().optional(), tokens: z.number().optional() }),
  rateKey: 'openai:default',
  rateKeyOf: ({ model }) => (model === undefined ? undefined : `openai:${model}`),
  estimateTokens: ({ tokens }) => tokens ?? 0,
  run: () => 'ok',
})

function request(id: string, input: unknown = {}, tool = 'llm.chat'): AttemptRequest {
  return { runId: 'r', taskId: id, attempt: 1, attemptId: id, idempotencyKey: `r/${id}`, tool, input, inputChecked: true, timeoutMs: undefined, priority: 0 }
}

function gateWith(settings: Partial<SharedRateSettings> & { readonly budget?: SharedRateBudget }, clock = new ManualClock()) {
  const budget = settings.budget ?? createMemorySharedRateBudget({ clock })
  const gate = new SharedRateGate({ rates: { 'openai:default': { requests: '2/min', tokens: '1000/h' } }, tools: [chat], ...settings, budget }, clock, silentLogger)
  const granted: string[] = []
  const refused: TaskweaveError[] = []
  const failed: unknown[] = []
  const wait = (id: string, input: unknown = {}): void => {
    const plan = gate.plan(request(id, input))
    if (plan === undefined) throw new Error(`no plan for ${id}`)
    gate.wait(id, plan, () => granted.push(id), (error) => (error instanceof TaskweaveError ? refused.push(error) : failed.push(error)))
  }
  return { gate, budget, clock, granted, refused, failed, wait }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const tokens = { budget: 'tokens', limit: 1000, windowMs: HOUR, amount: 0 }
const requests = { budget: 'requests', limit: 2, windowMs: 60_000, amount: 0 }

describe('SharedRateGate', () => {
  it('finds the key as the engine does: rateKeyOf, then the tool (rateKeyOf of its input, rateKey), then tool:<name>; only keys with a budget', () => {
    const { gate } = gateWith({ rates: { 'openai:default': { requests: '1/s' }, 'openai:gpt-4o': { requests: '1/s' }, 'tool:fetch': { requests: '1/s' } } })
    expect(gate.plan(request('a'))?.key).toBe('openai:default')
    expect(gate.plan(request('b', { model: 'gpt-4o' }))?.key).toBe('openai:gpt-4o')
    expect(gate.plan(request('c', { model: 'o1' }))).toBeUndefined()
    expect(gate.plan(request('d', {}, 'fetch'))?.key).toBe('tool:fetch')
    expect(gate.plan(request('e', {}, 'other'))).toBeUndefined()
    const own = gateWith({ rateKeyOf: (r) => (r.taskId === 'x' ? 'openai:default' : undefined), estimateTokens: () => 7 }).gate
    expect(own.plan(request('x'))).toEqual({ key: 'openai:default', requests: { limit: 2, windowMs: 60_000 }, tokens: { limit: 1000, windowMs: HOUR }, request: request('x') })
    expect(own.plan(request('y'))).toBeUndefined()
  })

  it('admits in order while the budget holds, then asks again after the delay it was told (at most a second)', async () => {
    const { clock, granted, wait } = gateWith({})
    for (const id of ['a', 'b', 'c', 'd']) wait(id)
    await settle()
    expect(granted).toEqual(['a', 'b'])
    // One request of 2 a minute is due in 30 s; the gate looks again every second until then.
    expect(clock.nextDue()).toBe(MAX_RETRY_MS)
    clock.advance(29_000)
    await settle()
    expect(granted).toEqual(['a', 'b'])
    for (let s = 0; s < 2; s++) {
      clock.advance(1000)
      await settle()
    }
    expect(granted).toEqual(['a', 'b', 'c'])
  })

  it('an attempt that ends while it waits leaves the line and takes nothing', async () => {
    const { gate, budget, clock, granted, wait } = gateWith({})
    for (const id of ['a', 'b', 'c']) wait(id, { tokens: 100 })
    await settle()
    gate.end('c', 'cancelled')
    clock.advance(60_000)
    await settle()
    expect(granted).toEqual(['a', 'b'])
    expect(gate.waiting).toBe(0)
    expect(await budget.level('openai:default', requests)).toBe(2)
  })

  it('settles tokens: an outcome gives back the estimate not used, a cancel charges only use beyond it, an unsent attempt gives everything back', async () => {
    const { gate, budget, wait } = gateWith({ rates: { 'openai:default': { requests: '10/h', tokens: '1000/h' } } })
    for (const id of ['a', 'b', 'c']) wait(id, { tokens: 100 })
    await settle()
    expect(await budget.level('openai:default', tokens)).toBe(700)
    gate.usage('a', { inputTokens: 30, outputTokens: 10 })
    gate.end('a', 'outcome')
    gate.usage('b', { inputTokens: 150, outputTokens: 0 })
    gate.end('b', 'cancelled')
    gate.end('c', 'unsent')
    await settle()
    // a: 100 reserved, 40 used → 60 back; b: 150 used of 100 → 50 more; c: 100 back, and its request.
    expect(await budget.level('openai:default', tokens)).toBe(700 + 60 - 50 + 100)
    expect(await budget.level('openai:default', { ...requests, limit: 10, windowMs: HOUR })).toBe(10 - 2)
  })

  it('lets the line in at once when an attempt gives tokens back, without waiting for its timer', async () => {
    const { gate, clock, granted, wait } = gateWith({ rates: { 'openai:default': { tokens: '1000/h' } } })
    wait('a', { tokens: 900 })
    wait('b', { tokens: 500 })
    await settle()
    expect(granted).toEqual(['a'])
    gate.usage('a', { inputTokens: 100, outputTokens: 0 })
    gate.end('a', 'outcome')
    await settle()
    expect(granted).toEqual(['a', 'b'])
    expect(clock.now()).toBe(0)
  })

  it('pauses the key for every owner when a call ends in a 429 that named its Retry-After', async () => {
    const { gate, budget, clock, granted, wait } = gateWith({ rates: { 'openai:default': { requests: '100/h' } } })
    wait('a')
    await settle()
    gate.end('a', 'outcome', 5000)
    await settle()
    // Another owner's take is refused as well as this owner's.
    expect((await budget.take('openai:default', [{ ...requests, limit: 100, windowMs: HOUR, amount: 1 }])).granted).toBe(false)
    wait('b')
    for (let s = 0; s < 4; s++) {
      clock.advance(1000)
      await settle()
    }
    expect(granted).toEqual(['a'])
    clock.advance(1000)
    await settle()
    expect(granted).toEqual(['a', 'b'])
  })

  it('gives back what a take got for an attempt that ended while the take was under way', async () => {
    const budget = createMemorySharedRateBudget()
    let release: () => void = () => undefined
    const slow: SharedRateBudget = { ...budget, take: (key, charges) => new Promise((resolve) => (release = () => resolve(budget.take(key, charges)))) }
    const { gate, granted, wait } = gateWith({ budget: slow })
    wait('a', { tokens: 100 })
    gate.end('a', 'cancelled')
    release()
    await settle()
    expect(granted).toEqual([])
    expect(await budget.level('openai:default', tokens)).toBe(1000)
    expect(await budget.level('openai:default', requests)).toBe(2)
  })

  it('refuses an estimate larger than the token budget (TW_RATE_NEVER_FITS) and lets the next in', async () => {
    const { granted, refused, wait } = gateWith({})
    wait('big', { tokens: 5000 })
    wait('small', { tokens: 10 })
    await settle()
    expect(refused.map((e) => e.code)).toEqual(['TW_RATE_NEVER_FITS'])
    expect(granted).toEqual(['small'])
  })

  it('works out an estimate only when its attempt reaches the head of the line; one that throws fails that attempt alone', async () => {
    const asked: string[] = []
    const { clock, granted, failed, wait } = gateWith({
      estimateTokens: (r) => {
        asked.push(r.taskId)
        if (r.taskId === 'bad') throw new Error('cannot count this prompt')
        return 10
      },
    })
    for (const id of ['a', 'b', 'c', 'bad', 'd']) wait(id)
    await settle()
    // 2 requests a minute: a and b go; c, at the head, was counted and waits; bad and d were not.
    expect(granted).toEqual(['a', 'b'])
    expect(asked).toEqual(['a', 'b', 'c'])
    const pass = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(1000)
        await settle()
      }
    }
    await pass(30_000)
    // A request came back: c goes; bad fails with its own error; d is counted and waits.
    expect(granted).toEqual(['a', 'b', 'c'])
    expect(failed).toEqual([new Error('cannot count this prompt')])
    expect(asked).toEqual(['a', 'b', 'c', 'bad', 'd'])
    await pass(30_000)
    expect(granted).toEqual(['a', 'b', 'c', 'd'])
    expect(asked).toEqual(['a', 'b', 'c', 'bad', 'd'])
  })

  it('never estimates an attempt that ended while it waited behind others', async () => {
    const asked: string[] = []
    const { gate, clock, granted, wait } = gateWith({ estimateTokens: (r) => (asked.push(r.taskId), 10) })
    for (const id of ['a', 'b', 'c', 'd', 'e']) wait(id)
    await settle()
    // a and b went; c, at the head, was counted and waits for a request.
    expect(asked).toEqual(['a', 'b', 'c'])
    gate.end('d', 'cancelled')
    gate.end('e', 'unsent')
    for (let t = 0; t < 60; t++) {
      clock.advance(1000)
      await settle()
    }
    expect(granted).toEqual(['a', 'b', 'c'])
    expect(asked).toEqual(['a', 'b', 'c'])
    expect(gate.waiting).toBe(0)
  })

  it('refuses budgets it cannot read (TW_INVALID_OPTION naming the field)', () => {
    const bad: Record<string, unknown>[] = [{ requests: '10 per minute' }, { tokens: { limit: 0, per: '1m' } }, { concurrent: 4 }, {}]
    for (const spec of bad) {
      expect(() => gateWith({ rates: { k: spec } })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }) as Error)
    }
    expect(() => createRemoteRunner({ transport: createMemoryTransport(), shared: { rates: { k: { requests: '1/s' } } } })).toThrow(/shared\.budget/)
    expect(() => createRemoteRunner({ transport: createMemoryTransport(), shared: { groups: { llm: 2 } } })).toThrow(/shared\.limiter/)
  })
})
