import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ToolRegistry } from '../../core/registry.js'
import { defineTool } from '../../core/tool.js'
import { planBatch, toTaskResult } from './batch.js'
import { Executor } from './executor.js'

const echo = defineTool({ name: 'echo', input: z.record(z.string(), z.unknown()), run: (input) => input })
const strict = defineTool({ name: 'strict', input: z.object({ n: z.number() }).strict(), run: ({ n }) => n })

describe('planBatch', () => {
  it('numbers workflow tasks by position and reads each parameter from the run inputs', () => {
    const batch = planBatch([{ id: 'same', toolName: 'echo', parameters: { a: 1, skip: undefined } }, { id: 'same', toolName: 'echo', parameters: {} }], new ToolRegistry([echo]), {})
    expect(batch.slots.map((s) => [s.taskId, s.nodeId])).toEqual([
      ['same', 't0'],
      ['same', 't1'],
    ])
    expect(batch.spec?.tasks[0]).toEqual({ id: 't0', tool: 'echo', input: { a: '{{ inputs.t0["a"] }}' } })
    expect(batch.inputs['t0']).toEqual({ a: 1, skip: undefined })
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
