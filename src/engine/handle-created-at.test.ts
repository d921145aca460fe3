import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import { MemoryRunStore } from '../stores/memory.js'
import { ManualClock } from '../testing/manual-clock.js'
import { createEngine } from './engine.js'

const one = defineTool({ name: 'one', input: z.object({}), run: () => 1 })
/** Runs until its signal aborts (the engine closing). */
const hold = defineTool({ name: 'hold', input: z.object({}), run: (_input, ctx) => new Promise<number>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error))) })
const holdDone = defineTool({ name: 'hold', input: z.object({}), run: () => 2 })
const workflow = { id: 'w', tasks: [{ id: 'a', tool: 'one' }] }

describe('RunHandle.createdAt', () => {
  it('is the time the store records for the run, and a resumed run keeps it', async () => {
    const clock = new ManualClock(0, 1_800_000_000_000)
    const store = new MemoryRunStore()
    const engine = createEngine({ builtins: false, tools: [one], store, clock })
    const handle = engine.start(workflow, { runId: 'r1' })
    // The store's clock moves on before it writes: the record keeps the time the run was made.
    clock.setWallTime(1_800_000_000_007)
    await clock.runUntilSettled(handle.result)
    expect(handle.createdAt).toBe(1_800_000_000_000)
    expect((await store.load('r1'))?.createdAt).toBe(1_800_000_000_000)
    await engine.close()
  })

  it('is kept by a resumed run', async () => {
    const clock = new ManualClock(0, 1_800_000_000_000)
    const store = new MemoryRunStore()
    const first = createEngine({ builtins: false, tools: [hold], store, clock })
    const started = first.start({ id: 'w', tasks: [{ id: 'a', tool: 'hold' }] }, { runId: 'r2' })
    await expect.poll(() => started.taskStatus('a')).toBe('running')
    await first.close()
    clock.setWallTime(1_800_000_060_000)
    const second = createEngine({ builtins: false, tools: [holdDone], store, clock })
    const resumed = await second.resume('r2')
    expect(resumed.createdAt).toBe(1_800_000_000_000)
    await clock.runUntilSettled(resumed.result)
    await second.close()
  })

  it('is the start of a run without a store too', async () => {
    const clock = new ManualClock(5, 1_700_000_000_000)
    const engine = createEngine({ builtins: false, tools: [one], clock })
    const handle = engine.start(workflow)
    expect(handle.createdAt).toBe(1_700_000_000_005)
    await clock.runUntilSettled(handle.result)
    await engine.close()
  })
})
