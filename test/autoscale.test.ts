/** Load-aware scaling through the engine: a lagging event loop lowers the slot count, health raises it, both seen as events and in stats. */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../src/engine/engine.js'
import { defineTool } from '../src/core/tool.js'
import { sleep } from '../src/core/clock.js'
import { ManualClock } from '../src/testing/manual-clock.js'
import type { TaskweaveEvent } from '../src/observe/events.js'

describe('autoscale', () => {
  it('halves the engine’s slots when the event loop lags, runs fewer tasks at once, and climbs back when healthy', async () => {
    const clock = new ManualClock()
    const lag = [250, 250, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    const probe = { sample: () => ({ eventLoopLagMs: lag.shift() ?? 0, rssBytes: 1 }) }
    let inFlight = 0
    const peaks: number[] = []
    const tool = defineTool({
      name: 'work',
      input: z.object({}),
      run: async (_input, ctx) => {
        peaks.push(++inFlight)
        await sleep(clock, 400, ctx.signal)
        inFlight--
      },
    })
    const events: TaskweaveEvent[] = []
    await using engine = createEngine({ builtins: false, clock, tools: [tool], concurrency: 8, autoscale: { probe, intervalMs: 1000, healthyIntervalsBeforeRaise: 2, increaseStep: 2 } })
    engine.events.on('engine:scaled', (e) => events.push(e))
    clock.advance(1000)
    clock.advance(1000)
    expect(engine.stats().slots.capacity).toBe(2)
    expect(engine.stats().autoscale).toMatchObject({ capacity: 2, max: 8, decreases: 2, lastLagMs: 250 })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, tool: 'work' })) }))
    expect(result.status).toBe('succeeded')
    expect(Math.max(...peaks)).toBeLessThanOrEqual(4)
    for (let i = 0; i < 12; i++) clock.advance(1000)
    expect(engine.stats().slots.capacity).toBe(8)
    expect(events.map((e) => (e.type === 'engine:scaled' ? `${e.from}→${e.to} ${e.reason}` : ''))).toEqual(['8→4 event-loop-lag', '4→2 event-loop-lag', '2→4 healthy', '4→6 healthy', '6→8 healthy'])
  })

  it('refuses autoscale with an unbounded concurrency, naming the option', () => {
    expect(() => createEngine({ builtins: false, concurrency: Infinity, autoscale: true })).toThrow(/concurrency/)
  })
})
