/**
 * A run of many independent tasks of one key starts its first tasks while the rest are still
 * being made ready (their tools' waits begin that much sooner), in the same order as when every
 * task was queued first; any other run queues all its roots before the first start.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from './engine.js'
import { defineTool } from '../core/tool.js'
import type { TaskSpec } from '../workflow/types.js'
import type { TaskweaveEvent } from '../observe/events.js'

function recordingEngine(options: { readonly failOn?: string; readonly sync?: boolean } = {}) {
  const started: string[] = []
  const tool = defineTool({
    name: 'rec',
    input: z.object({}),
    run: (_input, ctx) => {
      started.push(ctx.taskId)
      if (ctx.taskId === options.failOn) throw new Error('boom')
      return options.sync === true ? 1 : new Promise((resolve) => setImmediate(() => resolve(1)))
    },
  })
  const engine = createEngine({ tools: [tool], builtins: false, concurrency: 8 })
  return { engine, started }
}

const independent = (n: number, extra: (i: number) => Partial<TaskSpec> = () => ({})): TaskSpec[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, tool: 'rec', ...extra(i) }))

/** The events of a run, in order. */
async function eventsOf(engine: ReturnType<typeof recordingEngine>['engine'], tasks: TaskSpec[], options: { readonly failFast?: boolean } = {}) {
  const seen: TaskweaveEvent[] = []
  const handle = engine.start({ id: 'w', tasks }, { concurrency: 8, ...options })
  handle.onAny((event) => void seen.push(event))
  const result = await handle.result
  return { seen, result }
}

describe('starting while readying', () => {
  it('starts the first of 1,000 independent tasks before the last is ready, in declaration order', async () => {
    const { engine, started } = recordingEngine()
    const { seen, result } = await eventsOf(engine, independent(1000))
    expect(result.status).toBe('succeeded')
    const firstStart = seen.findIndex((e) => e.type === 'task:started')
    const lastReady = seen.findLastIndex((e) => e.type === 'task:ready')
    expect(firstStart).toBeLessThan(lastReady)
    expect(started).toEqual(Array.from({ length: 1000 }, (_, i) => `t${i}`))
    await engine.close()
  })

  it('queues every root first when their keys differ, so the highest priority starts first', async () => {
    const { engine, started } = recordingEngine()
    const { seen } = await eventsOf(engine, independent(1000, (i) => (i === 999 ? { priority: 5 } : {})))
    const firstStart = seen.findIndex((e) => e.type === 'task:started')
    const lastReady = seen.findLastIndex((e) => e.type === 'task:ready')
    expect(firstStart).toBeGreaterThan(lastReady)
    expect(started[0]).toBe('t999')
    await engine.close()
  })

  it('a synchronous tool failing under failFast stops the run while the rest are being readied: no task starts after it, the run settles', async () => {
    const { engine, started } = recordingEngine({ failOn: 't3', sync: true })
    const { result } = await eventsOf(engine, independent(1000), { failFast: true })
    expect(result.status).toBe('failed')
    expect(started).toEqual(['t0', 't1', 't2', 't3'])
    expect(result.counts.succeeded + result.counts.failed + result.counts.skipped + result.counts.cancelled).toBe(1000)
    expect(result.counts).toMatchObject({ succeeded: 3, failed: 1 })
    await engine.close()
  })
})
