import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../engine/engine.js'
import { defineTool } from './tool.js'
import { keepResolver, takeResolver } from './promise-resolver.js'

describe('keepResolver / takeResolver', () => {
  it('hands each promise its own resolver, whatever order they are resolved in', async () => {
    const a = new Promise<string>(keepResolver)
    const resolveA = takeResolver<string>()
    const b = new Promise<string>(keepResolver)
    const resolveB = takeResolver<string>()
    resolveB('b')
    resolveA('a')
    expect(await a).toBe('a')
    expect(await b).toBe('b')
  })

  it('keeps run results and background results apart when both are made inside one another', async () => {
    // Runs started from inside tools and background functions, background work submitted from
    // inside tools, all at once: every result promise resolves to its own run or task.
    await using engine = createEngine({ builtins: false })
    const nested = (label: string): Promise<string> =>
      engine.run({ id: `inner-${label}`, tasks: [{ id: 't', tool: 'echo', input: { text: label } }] }).then((r) => r.tasks['t']?.output as string)
    engine.registry.register(defineTool({ name: 'echo', input: z.object({ text: z.string() }), run: ({ text }) => text }))
    engine.registry.register(
      defineTool({
        name: 'spawn',
        input: z.object({ label: z.string() }),
        run: async ({ label }) => {
          const id = engine.background.submit({ conversationId: label, name: 'bg', run: () => nested(`bg-${label}`) })
          const [own, background] = await Promise.all([nested(`tool-${label}`), engine.background.result(id)])
          return `${own}+${String(background?.value)}`
        },
      }),
    )
    const labels = ['a', 'b', 'c', 'd']
    const results = await Promise.all(labels.map((label) => engine.run({ id: `outer-${label}`, tasks: [{ id: 's', tool: 'spawn', input: { label } }] })))
    expect(results.map((r) => r.tasks['s']?.output)).toEqual(labels.map((label) => `tool-${label}+bg-${label}`))
  })
})
