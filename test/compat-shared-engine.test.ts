import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../src/core/tool.js'
import { createEngine } from '../src/engine/engine.js'
import { Executor } from '../src/seeds/executor/index.js'
import type { Task } from '../src/seeds/executor/index.js'
import { WorkflowOrchestrator } from '../src/seeds/orchestrator/index.js'

/** A tool whose calls wait until released, counting how many run at once. */
function gatedTool(name: string) {
  const state = { running: 0, most: 0, started: 0, release: [] as (() => void)[] }
  const tool = defineTool({
    name,
    input: z.object({}),
    run: () =>
      new Promise<string>((resolve) => {
        state.running++
        state.started++
        state.most = Math.max(state.most, state.running)
        state.release.push(() => {
          state.running--
          resolve('done')
        })
      }),
  })
  return { tool, state }
}

const flush = async (): Promise<void> => {
  for (let k = 0; k < 30; k++) await new Promise((resolve) => setImmediate(resolve))
}

describe('the facades on an engine of the caller', () => {
  it('an Executor given { engine } shares its slots, caps its own calls together at maxWorkers, and leaves the engine open on shutdown', async () => {
    const { tool, state } = gatedTool('gate')
    const engine = createEngine({ builtins: false, concurrency: 3 })
    const one = new Executor({ engine, tools: [tool], maxWorkers: 2 })
    const two = new Executor({ engine, maxWorkers: 5 })
    const calls = (n: number): Task[] => Array.from({ length: n }, () => ({ toolName: 'gate', parameters: {} }))
    const first = one.executeParallel(calls(2), { sessionId: 's' })
    const second = one.executeParallel(calls(2), { sessionId: 's' })
    const third = two.executeParallel(calls(3), { sessionId: 's' })
    await flush()
    // The engine's 3 slots for everything; executor one never more than 2 of its own.
    expect(state.running).toBe(3)
    while (state.release.length > 0 || state.started < 7) {
      state.release.shift()?.()
      await flush()
      expect(state.running).toBeLessThanOrEqual(3)
    }
    const results = [...(await first), ...(await second), ...(await third)]
    expect(results.every((r) => r.success)).toBe(true)
    await one.shutdown()
    await two.shutdown()
    // Still open: it runs a workflow after both executors are gone.
    engine.registry.register(defineTool({ name: 'quick', input: z.object({}), run: () => 'ok' }))
    expect((await engine.run({ id: 'after', tasks: [{ id: 'a', tool: 'quick' }] })).status).toBe('succeeded')
    await engine.close()
  })

  it('an Executor given { engine } caps its own tasks at maxWorkers across its calls', async () => {
    const { tool, state } = gatedTool('gate2')
    const engine = createEngine({ builtins: false, concurrency: 10 })
    const executor = new Executor({ engine, tools: [tool], maxWorkers: 2 })
    const all = Promise.all([0, 1, 2].map(() => executor.executeParallel([{ toolName: 'gate2', parameters: {} }, { toolName: 'gate2', parameters: {} }], { sessionId: 's' })))
    await flush()
    expect(state.running).toBe(2)
    while (state.started < 6 || state.release.length > 0) {
      state.release.shift()?.()
      await flush()
      expect(state.running).toBeLessThanOrEqual(2)
    }
    await all
    expect(state.most).toBe(2)
    await executor.shutdown()
    await engine.close()
  })

  it('two orchestrators on one engine keep their agents apart, and share its group caps', async () => {
    const engine = createEngine({ builtins: false })
    const seen: string[] = []
    const a = new WorkflowOrchestrator({ engine, agents: { worker: () => (seen.push('a'), 'from a') } })
    const b = new WorkflowOrchestrator({ engine, agents: { worker: () => (seen.push('b'), 'from b') } })
    a.addTask({ id: 't', agentType: 'worker' })
    b.addTask({ id: 't', agentType: 'worker' })
    const [ra, rb] = await Promise.all([a.executeWorkflow(), b.executeWorkflow()])
    expect(ra.results['t']).toBe('from a')
    expect(rb.results['t']).toBe('from b')
    expect(seen.sort()).toEqual(['a', 'b'])
    await engine.close()
  })
})

describe('the facades refuse what they would otherwise drop in silence', () => {
  it('Executor: unknown and LAIOS-style options, a registry that is not one, engine-owned settings beside an engine, bad call options', async () => {
    expect(() => new Executor({ max_workers: 1 } as never)).toThrow(/unknown option "max_workers" of new Executor\(\)/)
    expect(() => new Executor({ limits: { timeout_seconds: 1 } } as never)).toThrow(/unknown option "limits\.timeout_seconds" of new Executor\(\); did you mean "limits\.timeout"\?/)
    expect(() => new Executor({ registry: [] } as never)).toThrow(/option "registry" must be a ToolRegistry/)
    expect(() => new Executor({ tools: {} } as never)).toThrow(/option "tools" must be a list of tools/)
    const engine = createEngine({ builtins: false })
    expect(() => new Executor({ engine, clock: engine.clock })).toThrow(/option "clock" must be left out when an engine is given/)
    const executor = new Executor({ builtins: false })
    await expect(executor.executeTask({ toolName: 'x', parameters: {} }, { sessionId: 's' }, { signal: {} as AbortSignal })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"signal"') as unknown })
    await expect(executor.executeTask({ toolName: 'x', parameters: {} }, { sessionId: 's' }, { onProgress: 'x' } as never)).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"onProgress"') as unknown })
    await executor.shutdown()
    await engine.close()
  })

  it('Executor: an entry that is not a task, or has an unusable id, fails in its own slot, named by its place', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ v: z.number() }), run: (input) => input.v })
    const executor = new Executor({ builtins: false, tools: [echo] })
    const results = await executor.executeParallel([{ id: 'ok', toolName: 'echo', parameters: { v: 1 } }, null as never, { id: 42 as never, toolName: 'echo', parameters: { v: 2 } }, { id: '', toolName: 'echo', parameters: { v: 3 } }], { sessionId: 's' })
    expect(results.map((r) => [r.taskId, r.success, r.error?.code])).toEqual([
      ['ok', true, undefined],
      ['tasks[1]', false, 'TW_TOOL_INPUT'],
      ['tasks[2]', false, 'TW_TOOL_INPUT'],
      ['tasks[3]', false, 'TW_TOOL_INPUT'],
    ])
    expect(results[1]?.error?.message).toBe('tasks[1] must be a task object ({ toolName, parameters }); received null')
    expect(results[2]?.error?.message).toBe('tasks[2].id must be a non-empty string; received 42')
    await executor.shutdown()
  })

  it('WorkflowOrchestrator: unknown and BeeAI-style options, and task fields it does not have (a dependsOn would run a task too early)', () => {
    const agents = { w: () => 'ok' }
    expect(() => new WorkflowOrchestrator({ agents, max_concurrent_tasks: 1 } as never)).toThrow(/unknown option "max_concurrent_tasks" of new WorkflowOrchestrator\(\)/)
    expect(() => new WorkflowOrchestrator({ agents, parallelExecution: 'false' } as never)).toThrow(/option "parallelExecution" must be true or false/)
    const orchestrator = new WorkflowOrchestrator({ agents })
    orchestrator.addTask({ id: 'extract', agentType: 'w' })
    expect(() => orchestrator.addTask({ id: 'load', agentType: 'w', dependsOn: ['extract'], concurrency_group: 'db' } as never)).toThrow(
      expect.objectContaining({ code: 'TW_VALIDATION', message: expect.stringMatching(/task "load" dependsOn: unknown field; did you mean "dependencies"\?[\s\S]*task "load" concurrency_group: unknown field; did you mean "concurrencyGroup"\?/) as unknown }),
    )
    expect(orchestrator.tasks.map((t) => t.id)).toEqual(['extract'])
  })
})

describe('Executor: parameters the engine cannot take as run inputs', () => {
  it('fail their own task, named after it, and the other tasks of the call run', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ note: z.unknown() }).passthrough(), run: (input) => Object.keys(input).length })
    const executor = new Executor({ builtins: false, tools: [echo] })
    const results = await executor.executeParallel(
      [
        { id: 'fine', toolName: 'echo', parameters: { note: 'hi' } },
        { id: 'huge', toolName: 'echo', parameters: { note: 'x'.repeat(2 * 1024 * 1024), '{{': 1 } },
        { id: 'big-int', toolName: 'echo', parameters: { note: 10n, '{{': 1 } },
      ],
      { sessionId: 's' },
    )
    expect(results.map((r) => [r.taskId, r.success, r.error?.code])).toEqual([
      ['fine', true, undefined],
      ['huge', false, 'TW_TOOL_INPUT'],
      ['big-int', false, 'TW_TOOL_INPUT'],
    ])
    expect(results[1]?.error?.message).toMatch(/^the parameters of task "huge" is 2\.0 MiB as JSON/)
    expect(results[2]?.error?.message).toMatch(/^the parameters of task "big-int" is not plain data/)
    expect(executor.getAllMetrics().find((m) => m.taskId === 'fine')?.checkpoints.map((c) => c.name)).toContain('finished')
    await executor.shutdown()
  })
})

describe('Executor: error messages', () => {
  it('name the task by the caller\'s id, not by its place in the engine\'s workflow', async () => {
    const slow = defineTool({ name: 'slow', input: z.object({}), run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error))) })
    const executor = new Executor({ builtins: false, tools: [slow], limits: { timeout: 20 } })
    const [result] = await executor.executeParallel([{ id: 'fetch-readme', toolName: 'slow', parameters: {} }], { sessionId: 's' })
    expect(result?.error).toEqual({ code: 'TW_TIMEOUT', message: 'task "fetch-readme" attempt 1 timed out after 20 ms' })
    await executor.shutdown()
  })
})

describe('Executor: metrics of a task id given twice in one call', () => {
  it('hold the latest execution only, not the checkpoints of both mixed in one entry', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ v: z.number() }), run: (input) => input.v })
    const executor = new Executor({ builtins: false, tools: [echo] })
    await executor.executeParallel([{ id: 'X', toolName: 'echo', parameters: { v: 1 } }, { id: 'X', toolName: 'echo', parameters: { v: 2 } }], { sessionId: 's' })
    const metrics = executor.getAllMetrics()
    expect(metrics.map((m) => [m.taskId, m.checkpoints.map((c) => c.name)])).toEqual([['X', ['queued', 'started', 'finished']]])
    await executor.shutdown()
  })
})
