/** Regressions found by review of the columnar run state: each test failed before its fix. */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../../src/engine/engine.js'
import { defineTool } from '../../src/core/tool.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

describe('engine review regressions', () => {
  it('reads the clock again after synchronous tool work: times stay causal and durations exact', async () => {
    const clock = new ManualClock(1000)
    const engine = createEngine({
      builtins: false,
      clock,
      concurrency: 1,
      tools: [
        defineTool({ name: 'root', input: z.object({}), run: async () => 'r' }),
        // Synchronous work that takes 20 ms of (manual) time.
        defineTool({ name: 'work', input: z.object({}), run: (_input, ctx) => (ctx.clock as ManualClock).advance(20) }),
        defineTool({
          name: 'workFail',
          input: z.object({}),
          run: (_input, ctx): never => {
            ;(ctx.clock as ManualClock).advance(20)
            throw new Error('nope')
          },
        }),
        defineTool({ name: 'list', input: z.object({}), run: async () => [1] }),
      ],
    })
    const handle = engine.start({
      id: 'w',
      tasks: [
        { id: 'root', tool: 'root' },
        { id: 'c0', tool: 'work', dependsOn: ['root'] },
        { id: 'c1', tool: 'work', dependsOn: ['root'] },
        { id: 'cf', tool: 'workFail', dependsOn: ['root'] },
      ],
    })
    const at: number[] = []
    handle.onAny((event) => at.push(event.at))
    const result = await clock.runUntilSettled(handle.result)
    const times = ['c0', 'c1', 'cf'].map((id) => [result.tasks[id]!.startedAt, result.tasks[id]!.finishedAt, result.tasks[id]!.durationMs])
    expect(times).toEqual([
      [1000, 1020, 20],
      [1020, 1040, 20],
      [1040, 1060, 20],
    ])
    // Events come in time order.
    expect(at).toEqual([...at].sort((a, b) => a - b))
  })

  it('a tool started while spawned tasks are committed cannot claim one of their ids; the run ends', async () => {
    const clock = new ManualClock()
    const engine = createEngine({
      builtins: false,
      clock,
      concurrency: 1,
      tools: [
        defineTool({ name: 'quick', input: z.object({}), run: async () => 'q' }),
        defineTool({
          name: 'spawn',
          input: z.object({ ids: z.array(z.string()) }),
          run: async ({ ids }, ctx) => {
            for (const id of ids) ctx.addTask({ id, tool: 'quick' })
            await new Promise<void>((resolve) => ctx.clock?.setTimer(5, resolve))
            return ids
          },
        }),
      ],
    })
    const run = engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'spawn', input: { ids: ['first', 'shared'] } }, { id: 'b', tool: 'spawn', input: { ids: ['shared'] } }] })
    const result = await clock.runUntilSettled(run, { maxSteps: 1000 })
    expect(result.tasks['shared']).toMatchObject({ status: 'succeeded', addedBy: 'a' })
    // The second claim fails its own task, clearly.
    expect(result.tasks['b']).toMatchObject({ status: 'failed', error: { code: 'TW_VALIDATION' } })
    expect(result.status).toBe('partial')
  })

  it('a completion handler cannot add an id a running tool has reserved', async () => {
    const clock = new ManualClock()
    const engine = createEngine({
      builtins: false,
      clock,
      tools: [
        defineTool({ name: 'quick', input: z.object({}), run: async () => 'q' }),
        defineTool({
          name: 'spawner',
          input: z.object({}),
          run: async (_input, ctx) => {
            ctx.addTask({ id: 'x', tool: 'quick' })
            await new Promise<void>((resolve) => ctx.clock?.setTimer(50, resolve))
            return 's'
          },
        }),
      ],
    })
    const refusals: string[] = []
    const run = engine.run(
      { id: 'w', tasks: [{ id: 'spawner', tool: 'spawner' }, { id: 'a', tool: 'quick' }] },
      {
        onTaskComplete: {
          a: (_completion, control) => {
            try {
              control.addTask({ id: 'x', tool: 'quick' })
            } catch (err) {
              refusals.push((err as Error).message)
            }
          },
        },
      },
    )
    const result = await clock.runUntilSettled(run, { maxSteps: 1000 })
    expect(refusals).toEqual([expect.stringContaining('duplicate task id "x"')])
    expect(result.status).toBe('succeeded')
    expect(result.tasks['x']).toMatchObject({ status: 'succeeded', addedBy: 'spawner' })
  })
})
