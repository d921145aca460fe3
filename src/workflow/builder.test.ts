import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { workflow } from './builder.js'
import { defineTool } from '../core/tool.js'
import { createEngine } from '../engine/engine.js'

const add = defineTool({ name: 'math.add', input: z.object({ a: z.number(), b: z.number() }), run: ({ a, b }) => a + b })
const shout = defineTool({ name: 'text.shout', input: z.object({ text: z.string() }), run: ({ text }) => text.toUpperCase() })

describe('typed builder', () => {
  it('builds a workflow whose tools register themselves, and runs it', async () => {
    const flow = workflow({ id: 'typed', inputs: { who: { type: 'string' } } })
      .task('sum', add, { input: { a: 1, b: '{{ inputs.n }}' } })
      .task('greet', shout, { input: { text: 'hello {{ inputs.who }}' } })
      .build()
    expect(flow.tools.map((t) => t.name)).toEqual(['math.add', 'text.shout'])
    expect(flow.spec.tasks.map((t) => t.id)).toEqual(['sum', 'greet'])
    await using engine = createEngine({ builtins: false })
    const ok = workflow({ id: 'typed' })
      .task('sum', add, { input: { a: 1, b: 2 } })
      .task('twice', add, { input: { a: '{{ tasks.sum.output }}', b: '{{ tasks.sum.output }}' } })
      .build()
    const result = await engine.run(ok)
    expect(result.tasks['twice']!.output).toBe(6)
  })

  it('rejects inputs of the wrong type at compile time', () => {
    const builder = workflow({ id: 'types' })
    // @ts-expect-error b must be a number or a template string
    builder.task('bad', add, { input: { a: 1, b: 'two' } })
    // @ts-expect-error text is a string field; a number is not accepted
    builder.task('bad2', shout, { input: { text: 3 } })
    expect(true).toBe(true)
  })
})
