import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from '../index.js'
import { schemasBuilt } from './schema.js'

describe('the workflow schemas', () => {
  it('are built neither to import the package nor to compile and run a workflow of plain tasks, and are when a task needs them', async () => {
    expect(schemasBuilt()).toBe(false)
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number().optional() }), run: (input) => input.n ?? 0 })
    const engine = createEngine({ builtins: false, tools: [echo] })
    const result = await engine.run({ id: 'plain', tasks: [{ id: 'a', tool: 'echo' }, { id: 'b', tool: 'echo', input: { n: 2 }, dependsOn: ['a'] }] })
    expect(result.status).toBe('succeeded')
    expect(schemasBuilt()).toBe(false)
    // A retry policy is beyond the compiler's fast check: the task schema decides, so it is built now.
    const compiled = engine.compile({ id: 'retrying', tasks: [{ id: 'a', tool: 'echo', retry: { maxAttempts: 2 } }] })
    expect(compiled.size).toBe(1)
    expect(schemasBuilt()).toBe(true)
    await engine.close()
  })
})
