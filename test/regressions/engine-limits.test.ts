/** The engine-wide keyed limiter as users meet it: group caps across runs, scopes, priorities, slots. */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { AttemptRequest, AttemptRunner } from '../../src/core/attempt.js'
import { defineTool } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import type { WorkflowSpec } from '../../src/workflow/types.js'

/** A tool whose calls stay in flight until the test releases them, counting how many overlap. */
function heldTool() {
  const waiting: Array<() => void> = []
  const order: string[] = []
  let inFlight = 0
  let maxInFlight = 0
  const tool = defineTool({
    name: 'call',
    input: z.object({}),
    run: (_input, ctx) => {
      order.push(`${ctx.runId}/${ctx.taskId}`)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      return new Promise<string>((resolve) =>
        waiting.push(() => {
          inFlight--
          resolve('ok')
        }),
      )
    },
  })
  return {
    tool,
    order,
    get maxInFlight() {
      return maxInFlight
    },
    async drain(): Promise<void> {
      for (let k = 0; k < 100; k++) {
        await new Promise((resolve) => setImmediate(resolve))
        const next = waiting.shift()
        if (next === undefined) continue
        next()
      }
    },
  }
}

const flow = { id: 'w', limits: { groups: { llm: 1 } }, tasks: [{ id: 'a', tool: 'call', group: 'llm' }] }

describe('concurrency groups', () => {
  it('caps a group across every run of the engine', async () => {
    const held = heldTool()
    const engine = createEngine({ builtins: false, tools: [held.tool] })
    const runs = [1, 2, 3].map((k) => engine.run(flow, { runId: `r${k}` }))
    await held.drain()
    const results = await Promise.all(runs)
    expect(results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded'])
    expect(held.maxInFlight).toBe(1)
  })

  it('caps a group per run when asked to', async () => {
    const held = heldTool()
    const engine = createEngine({ builtins: false, tools: [held.tool] })
    const runs = [1, 2, 3].map((k) => engine.run(flow, { runId: `r${k}`, groupScope: 'run' }))
    await held.drain()
    await Promise.all(runs)
    expect(held.maxInFlight).toBe(3)
  })

  it('serves waiting tasks of all runs by priority', async () => {
    const held = heldTool()
    const engine = createEngine({ builtins: false, tools: [held.tool], groups: { llm: 1 } })
    const first = engine.run({ id: 'w', tasks: [{ id: 'first', tool: 'call', group: 'llm' }] }, { runId: 'r0' })
    await new Promise((resolve) => setImmediate(resolve))
    const low = engine.run({ id: 'w', tasks: [{ id: 'low', tool: 'call', group: 'llm', priority: 1 }] }, { runId: 'r1' })
    const high = engine.run({ id: 'w', tasks: [{ id: 'high', tool: 'call', group: 'llm', priority: 9 }] }, { runId: 'r2' })
    await held.drain()
    await Promise.all([first, low, high])
    expect(held.order).toEqual(['r0/first', 'r2/high', 'r1/low'])
  })

  it('refuses a group named __proto__ instead of dropping its cap', async () => {
    const held = heldTool()
    expect(() => createEngine({ builtins: false, tools: [held.tool], groups: JSON.parse('{"__proto__": 1}') as Record<string, number> })).toThrow(/groups\.__proto__/)
    const engine = createEngine({ builtins: false, tools: [held.tool] })
    const definition = JSON.parse('{"id":"w","limits":{"groups":{"__proto__":1}},"tasks":[{"id":"t","tool":"call","group":"__proto__"}]}') as WorkflowSpec
    await expect(engine.run(definition)).rejects.toThrow(/limits\.groups\.__proto__/)
  })

  it('holds no engine slot while a task waits for its group', async () => {
    const held = heldTool()
    const quick = defineTool({ name: 'quick', input: z.object({}), run: () => 'quick' })
    const engine = createEngine({ builtins: false, concurrency: 2, tools: [held.tool, quick], groups: { llm: 1 } })
    const run = engine.start({
      id: 'w',
      tasks: [
        { id: 'g1', tool: 'call', group: 'llm' },
        { id: 'g2', tool: 'call', group: 'llm' },
        { id: 'g3', tool: 'call', group: 'llm' },
        { id: 'free', tool: 'quick', priority: -1 },
      ],
    })
    let freeDone = false
    run.on('task:succeeded', (e) => {
      if (e.taskId === 'free') freeDone = true
    })
    await new Promise((resolve) => setImmediate(resolve))
    // g1 runs; g2 and g3 wait for the group without holding the second slot, so "free" ran.
    expect(freeDone).toBe(true)
    expect(engine.stats().keys).toEqual([{ key: 'group:llm', inUse: 1, waiting: 2 }])
    await held.drain()
    await run.result
  })
})

describe('engine slots and options', () => {
  it('changes its slot count at run time', async () => {
    const held = heldTool()
    const engine = createEngine({ builtins: false, concurrency: 1, tools: [held.tool] })
    const run = engine.run({ id: 'w', tasks: Array.from({ length: 4 }, (_, k) => ({ id: `t${k}`, tool: 'call' })) })
    await new Promise((resolve) => setImmediate(resolve))
    expect(engine.stats().slots).toEqual({ used: 1, capacity: 1 })
    engine.setConcurrency(3)
    await new Promise((resolve) => setImmediate(resolve))
    expect(engine.stats().slots).toEqual({ used: 3, capacity: 3 })
    await held.drain()
    await run
    expect(() => engine.setConcurrency(0)).toThrow(/concurrency/)
  })

  it('refuses options it does not know, with the close match', () => {
    expect(() => createEngine({ rateLimits: {} } as never)).toThrow(/unknown option "rateLimits" of createEngine\(\)/)
    expect(() => createEngine({ concurency: 2 } as never)).toThrow(/did you mean "concurrency"/)
    const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'x', input: z.object({}), run: () => 1 })] })
    expect(() => engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'x' }] }, { checkpoint: true } as never)).toThrow(/unknown option "checkpoint" of run\(\)/)
  })
})

describe('the run contract', () => {
  it('rejects run() of a workflow that cannot start instead of throwing, and never rejects once started', async () => {
    const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'boom', input: z.object({}), run: () => Promise.reject(new Error('boom')) })] })
    let returned: Promise<unknown> | undefined
    expect(() => (returned = engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'missing' }] }))).not.toThrow()
    await expect(returned).rejects.toMatchObject({ code: 'TW_VALIDATION' })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'boom' }] })
    expect(result.tasks['a']?.status).toBe('failed')
    expect(() => engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'missing' }] })).toThrow(/unknown tool/)
  })

  it('reports a clean close', async () => {
    const engine = createEngine({ builtins: false })
    await expect(engine.close()).resolves.toEqual({ clean: true, abandoned: [] })
  })
})

describe('the attempt runner port', () => {
  it('hands a runner given to the engine plain-data requests and records what its sink reports', async () => {
    const requests: AttemptRequest[] = []
    let closed = false
    const runner: AttemptRunner = {
      start(request, sink) {
        requests.push(JSON.parse(JSON.stringify(request)) as AttemptRequest)
        // Answers later, as a remote worker would.
        setImmediate(() => (request.taskId === 'b' ? sink.failed(new Error('worker lost')) : sink.succeeded({ echoed: request.input })))
      },
      cancel() {},
      close: async () => {
        closed = true
      },
    }
    const engine = createEngine({ builtins: false, runner, tools: [defineTool({ name: 'x', input: z.object({ n: z.number() }), run: () => 'local' })] })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'x', input: { n: 1 }, priority: 3, group: 'g', timeout: '5s' }, { id: 'b', tool: 'x', input: { n: 2 } }] }, { runId: 'r1' })
    expect(result.tasks['a']?.output).toEqual({ echoed: { n: 1 } })
    expect(result.tasks['b']?.error?.message).toBe('worker lost')
    // Every field survives a JSON copy, those the run's request reads through getters too.
    expect(requests.map((r) => [r.runId, r.attemptId, r.idempotencyKey, r.tool, r.input, r.inputChecked, r.priority, r.group, r.timeoutMs])).toEqual([
      ['r1', 'r1/a#1', 'r1/a', 'x', { n: 1 }, true, 3, 'g', 5000],
      ['r1', 'r1/b#1', 'r1/b', 'x', { n: 2 }, true, 0, undefined, undefined],
    ])
    await engine.close()
    expect(closed).toBe(true)
  })
})
