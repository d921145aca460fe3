/**
 * Engine core defects found in review, each with the case that showed it:
 * - the fixed parts of a templated input were the caller's own objects: changed after compiling,
 *   they changed what ran (and what the compile cache handed out for a fresh definition);
 * - a task started right after a tool that worked synchronously for a while took its start time
 *   from before that work, and a fast task failed with a timeout it never reached;
 * - a revoked Proxy thrown by a tool left its task running and the run unsettled;
 * - condition and template errors at run time did not name their task;
 * - a task added through the handle before the run started vanished when the run was cancelled
 *   before it started.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { ManualClock } from 'taskweave/testing'

describe('engine core: review defects', () => {
  it('pins the fixed parts of a templated input when compiling: the caller changing its object afterwards changes nothing', async () => {
    const tool = defineTool({ name: 't', input: z.object({ q: z.string(), opts: z.object({ limit: z.number() }) }), run: (input) => input.opts.limit })
    await using engine = createEngine({ tools: [tool], builtins: false })
    const definition = () => ({ id: 'pin', inputs: { x: { type: 'string' as const, default: 'hello' } }, tasks: [{ id: 'a', tool: 't', input: { q: '{{ inputs.x }}', opts: { limit: 5 } } }] })
    const first = definition()
    const compiled = engine.compile(first)
    first.tasks[0]!.input.opts.limit = 42
    expect((await engine.run(compiled)).tasks['a']?.output).toBe(5)
    const second = definition()
    expect((await engine.run(second)).tasks['a']?.output).toBe(5)
    second.tasks[0]!.input.opts.limit = 99
    expect((await engine.run(second)).tasks['a']?.output).toBe(99)
    // A fresh definition with the first text gets the first values, whatever the cache saw since.
    expect((await engine.run(definition())).tasks['a']?.output).toBe(5)
  })

  it('a tool cannot change the fixed parts of a templated input for later runs: they are frozen, as outputs are', async () => {
    const counts: unknown[] = []
    const tool = defineTool({
      name: 't',
      input: z.object({ q: z.string(), opts: z.any() }),
      run: (input) => {
        counts.push(input.opts.count)
        input.opts.count++
        return 1
      },
    })
    await using engine = createEngine({ tools: [tool], builtins: false })
    const definition = () => ({ id: 'leak', inputs: { x: { type: 'string' as const, default: 'x' } }, tasks: [{ id: 'a', tool: 't', input: { q: '{{ inputs.x }}', opts: { count: 0 } } }] })
    for (let k = 0; k < 3; k++) {
      const result = await engine.run(definition())
      expect(result.tasks['a']?.error?.message).toMatch(/read only|read-only|Cannot assign/)
    }
    expect(counts).toEqual([0, 0, 0])
  })

  it('times an attempt from its own start, not from before the synchronous work of the tool started just before it', async () => {
    const clock = new ManualClock()
    const root = defineTool({ name: 'root', input: z.object({}), run: () => new Promise((resolve) => setImmediate(() => resolve(1))) })
    const busy = defineTool({
      name: 'busy',
      input: z.object({}),
      run: () => {
        clock.advance(50)
        return Promise.resolve('busy done')
      },
    })
    const fast = defineTool({ name: 'fast', input: z.object({}), run: () => 'fast done' })
    await using engine = createEngine({ tools: [root, busy, fast], builtins: false, clock })
    const result = await engine.run({
      id: 'stale-time',
      tasks: [
        { id: 'p', tool: 'root' },
        { id: 'a', tool: 'busy', dependsOn: ['p'], priority: 1 },
        { id: 'b', tool: 'fast', dependsOn: ['p'], timeout: 40 },
      ],
    })
    expect(result.tasks['b']?.status).toBe('succeeded')
    expect(result.tasks['b']?.startedAt).toBe(50)
    expect(result.status).toBe('succeeded')
  })

  it('fails a task whose tool throws a revoked Proxy, and the run ends', async () => {
    const hostile = (): unknown => {
      const { proxy, revoke } = Proxy.revocable(new Error('x'), {})
      revoke()
      return proxy
    }
    const asyncBad = defineTool({
      name: 'asyncBad',
      input: z.object({}),
      run: async () => {
        throw hostile()
      },
    })
    const syncBad = defineTool({
      name: 'syncBad',
      input: z.object({}),
      run: () => {
        throw hostile()
      },
    })
    await using engine = createEngine({ tools: [asyncBad, syncBad], builtins: false })
    for (const tool of ['asyncBad', 'syncBad']) {
      const result = await engine.run({ id: `p-${tool}`, tasks: [{ id: 'a', tool }] })
      expect(result.status).toBe('failed')
      expect(result.tasks['a']?.status).toBe('failed')
    }
    expect(engine.stats().slots.used).toBe(0)
  })

  it('names the task in a condition or template error at run time', async () => {
    const out = defineTool({ name: 'out', input: z.object({}), run: () => ({ n: 1 }) })
    const echo = defineTool({ name: 'echo', input: z.object({ v: z.unknown() }), run: ({ v }) => v })
    await using engine = createEngine({ tools: [out, echo], builtins: false })
    const result = await engine.run({
      id: 'names',
      tasks: [
        { id: 'a', tool: 'out' },
        { id: 'check_me', tool: 'out', dependsOn: ['a'], when: 'tasks.a.output.missing > 0' },
        { id: 'templated', tool: 'echo', dependsOn: ['a'], input: { v: '{{ tasks.a.output.nope }}' } },
      ],
    })
    expect(result.tasks['check_me']?.error).toMatchObject({ code: 'TW_EXPRESSION', message: expect.stringContaining('task "check_me"') })
    expect(result.tasks['templated']?.error).toMatchObject({ code: 'TW_TEMPLATE', message: expect.stringContaining('task "templated"'), details: expect.objectContaining({ taskId: 'templated' }) })
  })

  it('a task added through the handle before the run starts is in the report when the run is cancelled before it starts', async () => {
    const tool = defineTool({ name: 't', input: z.object({}), run: () => 1 })
    await using engine = createEngine({ tools: [tool], builtins: false })
    const handle = engine.start({ id: 'd', tasks: [{ id: 'x', tool: 't' }] })
    const events: string[] = []
    handle.onAny((event) => events.push(event.type))
    handle.addTask({ id: 'early', tool: 't' })
    handle.cancel('stop now')
    const result = await handle.result
    expect(result.status).toBe('cancelled')
    expect(Object.keys(result.tasks).sort()).toEqual(['early', 'x'])
    expect(result.counts.cancelled).toBe(2)
    expect(events).toContain('run:started')
    const controller = new AbortController()
    controller.abort('nope')
    const aborted = engine.start({ id: 'd2', tasks: [{ id: 'x', tool: 't' }] }, { signal: controller.signal })
    aborted.addTask({ id: 'early', tool: 't' })
    expect(Object.keys((await aborted.result).tasks).sort()).toEqual(['early', 'x'])
  })
})
