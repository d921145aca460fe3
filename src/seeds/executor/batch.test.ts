import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { ToolRegistry } from '../../core/registry.js'
import { defineTool } from '../../core/tool.js'
import { sleep } from '../../core/clock.js'
import { ManualClock } from '../../testing/manual-clock.js'
import { planBatch, planFlatBatch, slotIndexOf, toTaskResult } from './batch.js'
import { Executor } from './executor.js'

const echo = defineTool({ name: 'echo', input: z.record(z.string(), z.unknown()), run: (input) => input })
const strict = defineTool({ name: 'strict', input: z.object({ n: z.number() }).strict(), run: ({ n }) => n })

describe('planBatch', () => {
  it('numbers workflow tasks by position and passes plain parameters as a static copy, declaring no run input', () => {
    const parameters = { a: 1, skip: undefined, nested: { list: [1, 'x', null] } }
    const batch = planBatch([{ id: 'same', toolName: 'echo', parameters }, { id: 'same', toolName: 'echo', parameters: {} }], new ToolRegistry([echo]), {})
    expect(batch.slots.map((s) => [s.taskId, s.nodeId])).toEqual([
      ['same', 't0'],
      ['same', 't1'],
    ])
    expect(batch.spec?.tasks[0]).toEqual({ id: 't0', tool: 'echo', input: { a: 1, nested: { list: [1, 'x', null] } } })
    // Declared inputs are checked against each other when a run starts: a batch of plain calls has none.
    expect(batch.spec?.inputs).toBeUndefined()
    parameters.nested.list.push(2)
    expect(batch.spec?.tasks[0]?.input).toEqual({ a: 1, nested: { list: [1, 'x', null] } })
  })

  it('passes parameters holding a template marker or non-JSON data as run inputs read by templates', () => {
    const at = new Date(0)
    const batch = planBatch(
      [
        { toolName: 'echo', parameters: { a: 'x {{ inputs.y }}' } },
        { toolName: 'echo', parameters: { at } },
        { toolName: 'echo', parameters: { n: Number.NaN } },
        { toolName: 'echo', parameters: { ok: true } },
      ],
      new ToolRegistry([echo]),
      {},
    )
    expect(batch.spec?.tasks.map((t) => t.input)).toEqual([{ a: '{{ inputs.t0["a"] }}' }, { at: '{{ inputs.t1["at"] }}' }, { n: '{{ inputs.t2["n"] }}' }, { ok: true }])
    expect(Object.keys(batch.spec?.inputs ?? {})).toEqual(['t0', 't1', 't2'])
    expect(batch.inputs['t1']).toEqual({ at })
  })

  it('fails only the rejected call in its slot when the schema check is left to compilation', async () => {
    await using executor = new Executor({ tools: [echo, strict], builtins: false })
    const results = await executor.executeParallel(
      [
        { toolName: 'strict', parameters: { n: 1 } },
        { toolName: 'strict', parameters: { n: 'x' } },
        { toolName: 'strict', parameters: { n: 2, extra: undefined } },
      ],
      { sessionId: 's' },
    )
    expect(results.map((r) => (r.success ? r.output : r.error?.code))).toEqual([1, 'TW_TOOL_INPUT', 'TW_TOOL_INPUT'])
  })

  it('gives each tool a private copy of flat parameters: the caller changing them after the call, or the tool changing its input, touches nothing else', async () => {
    const seen: Record<string, unknown>[] = []
    const grab = defineTool({
      name: 'grab',
      input: z.object({ n: z.number(), s: z.string() }).passthrough(),
      run: (input) => {
        seen.push({ ...input })
        ;(input as { n: number }).n = -1
        return input.n
      },
    })
    await using executor = new Executor({ tools: [grab], builtins: false })
    const parameters = [
      { n: 1, s: 'a' },
      { n: 2, s: 'b' },
    ]
    const pending = executor.executeParallel(parameters.map((p) => ({ toolName: 'grab', parameters: p })), { sessionId: 's' })
    for (const p of parameters) {
      p.n = 99
      p.s = 'changed'
    }
    const results = await pending
    expect(seen).toEqual([
      { n: 1, s: 'a' },
      { n: 2, s: 'b' },
    ])
    expect(results.map((r) => r.output)).toEqual([-1, -1])
    expect(parameters).toEqual([
      { n: 99, s: 'changed' },
      { n: 99, s: 'changed' },
    ])
  })

  it('maps a workflow task id back to its slot, and nothing else', () => {
    const batch = planBatch([{ toolName: 'nope', parameters: {} }, { toolName: 'echo', parameters: {} }], new ToolRegistry([echo]), { deferSchemaCheck: true })
    expect([slotIndexOf(batch, 't1'), slotIndexOf(batch, 't0'), slotIndexOf(batch, 'x1'), slotIndexOf(batch, 't01')]).toEqual([1, undefined, undefined, undefined])
  })

  it('hands a tool the same input whichever path its parameters take', async () => {
    await using executor = new Executor({ tools: [echo], builtins: false })
    const results = await executor.executeParallel(
      [
        { toolName: 'echo', parameters: { at: new Date(0), drop: undefined } },
        { toolName: 'echo', parameters: { at: '1970-01-01T00:00:00.000Z' } },
        { toolName: 'echo', parameters: { text: '{{ inputs.t0 }}' } },
      ],
      { sessionId: 's' },
    )
    expect(results.map((r) => r.output)).toEqual([{ at: '1970-01-01T00:00:00.000Z' }, { at: '1970-01-01T00:00:00.000Z' }, { text: '{{ inputs.t0 }}' }])
  })

  it('fails a task in its slot for an unknown tool, a rejected input or a parameter name a template cannot hold', () => {
    const registry = new ToolRegistry([echo, strict])
    const batch = planBatch(
      [
        { toolName: 'nope', parameters: {} },
        { toolName: 'strict', parameters: { n: 'x' } },
        { toolName: 'echo', parameters: JSON.parse('{"__proto__": 1}') as Record<string, unknown> },
        { toolName: 'echo', parameters: { 'a}}b': 1 } },
      ],
      registry,
      {},
    )
    expect(batch.slots.map((s) => s.failure?.code)).toEqual(['TW_UNKNOWN_TOOL', 'TW_TOOL_INPUT', 'TW_TOOL_INPUT', 'TW_TOOL_INPUT'])
    expect(batch.spec).toBeUndefined()
    expect(toTaskResult(batch.slots[1]!, undefined, undefined)).toMatchObject({ success: false, executionTimeMs: 0, metadata: { attempts: 0, retries: 0 } })
  })

  it('passes parameter names with quotes and backslashes through unchanged', async () => {
    await using executor = new Executor({ tools: [echo], builtins: false })
    const parameters = { 'say "hi"': 'a', 'back\\slash': 'b', plain: { nested: '{{ inputs.x }}' } }
    const result = await executor.execute({ toolName: 'echo', parameters }, { sessionId: 's' })
    expect(result.output).toEqual(parameters)
  })
})

describe('planFlatBatch', () => {
  const registry = new ToolRegistry([echo, strict])

  it('plans calls of flat parameters as they are, numbered by position, with failures in their slots', () => {
    const parameters = { n: 1 }
    const flat = planFlatBatch(
      [
        { id: 'mine', toolName: 'strict', parameters, description: 'one' },
        { toolName: 'nope', parameters: {} },
        { toolName: 'echo', parameters: { 'a}}b': 1 } },
        { toolName: 'echo', parameters: [] as unknown as Record<string, unknown> },
        { planId: 'p', toolName: 'echo', parameters: { s: 'x', z: null } },
      ],
      registry,
      {},
    )
    expect(flat?.slots.map((s) => [s.nodeId, s.nodeIndex, s.failure?.code])).toEqual([
      ['t0', 0, undefined],
      [undefined, undefined, 'TW_UNKNOWN_TOOL'],
      [undefined, undefined, 'TW_TOOL_INPUT'],
      [undefined, undefined, 'TW_TOOL_INPUT'],
      ['t4', 1, undefined],
    ])
    expect(flat?.slots[0]?.taskId).toBe('mine')
    expect(flat?.slots[2]?.failure?.message).toBe('parameter name "a}}b" is not allowed')
    expect(flat?.slots[4]?.planId).toBe('p')
    expect(flat?.calls.map((c) => [c.id, c.tool.name, c.description])).toEqual([
      ['t0', 'strict', 'one'],
      ['t4', 'echo', undefined],
    ])
    // Not copied here: the compilation pins its own copy.
    expect(flat?.calls[0]?.input).toBe(parameters)
  })

  it('leaves to planBatch a batch with parameters that are not flat, or settings a flat workflow does not hold (a timeout it does)', () => {
    const flatCalls = [{ toolName: 'echo', parameters: { a: 1 } }]
    expect(planFlatBatch([...flatCalls, { toolName: 'echo', parameters: { nested: {} } }], registry, {})).toBeUndefined()
    expect(planFlatBatch([...flatCalls, { toolName: 'echo', parameters: { t: '{{ x }}' } }], registry, {})).toBeUndefined()
    expect(planFlatBatch(flatCalls, registry, { retry: { maxAttempts: 2, initialDelay: 1, factor: 1, maxDelay: 1, jitter: 'none' } })).toBeUndefined()
    expect(planFlatBatch(flatCalls, registry, { failed: new Map() })).toBeUndefined()
    // A description the workflow schema refuses: the full path words it.
    expect(planFlatBatch([{ toolName: 'echo', parameters: { a: 1 }, description: 42 as unknown as string }], registry, {})).toBeUndefined()
    expect(planFlatBatch(flatCalls, registry, { timeoutMs: 1000 })?.calls).toHaveLength(1)
  })

  it('runs a batch of flat calls without compiling a workflow definition, and one with a nested parameter with it', async () => {
    await using executor = new Executor({ tools: [echo, strict], builtins: false })
    const compile = vi.spyOn(executor.engine, 'compile')
    const flat = await executor.executeParallel([{ toolName: 'strict', parameters: { n: 1 } }, { toolName: 'echo', parameters: { s: 'x' } }], { sessionId: 's' })
    expect(flat.map((r) => r.output)).toEqual([1, { s: 'x' }])
    expect(compile).not.toHaveBeenCalled()
    const nested = await executor.executeParallel([{ toolName: 'strict', parameters: { n: 1 } }, { toolName: 'echo', parameters: { o: { k: 1 } } }], { sessionId: 's' })
    expect(nested.map((r) => r.output)).toEqual([1, { o: { k: 1 } }])
    expect(compile).toHaveBeenCalledTimes(1)
  })

  it('times out a call of a flat batch under the executor timeout, without compiling a definition', async () => {
    const clock = new ManualClock()
    const wait = defineTool({ name: 'wait', input: z.object({ ms: z.number() }), run: ({ ms }, ctx) => sleep(clock, ms, ctx.signal).then(() => ms) })
    await using executor = new Executor({ tools: [wait], builtins: false, clock, limits: { timeout: 100 } })
    const compile = vi.spyOn(executor.engine, 'compile')
    const results = await clock.runUntilSettled(executor.executeParallel([{ id: 'quick', toolName: 'wait', parameters: { ms: 50 } }, { id: 'slow', toolName: 'wait', parameters: { ms: 500 } }], { sessionId: 's' }))
    expect(results.map((r) => r.output ?? r.error)).toEqual([50, { code: 'TW_TIMEOUT', message: 'task "slow" attempt 1 timed out after 100 ms' }])
    expect(compile).not.toHaveBeenCalled()
  })
})
