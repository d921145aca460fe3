import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from './engine.js'
import { defineTool } from '../core/tool.js'

const echo = defineTool({ name: 'test.echo', input: z.object({ n: z.number() }), run: (input) => input.n })

describe('engine.compile and the tools a compiled workflow calls', () => {
  it('runs a workflow it compiled itself, and one compiled by another engine whose tools it lacks', async () => {
    const own = createEngine({ tools: [echo], builtins: false })
    const other = createEngine({ builtins: false })
    const compiled = own.compile({ id: 'w', tasks: [{ id: 'a', tool: 'test.echo', input: { n: 3 } }] })
    // The same object again: compiling a compiled workflow hands it back.
    expect(own.compile(compiled)).toBe(compiled)
    const mine = await own.run(compiled)
    expect(mine.tasks['a']?.output).toBe(3)
    // The other engine has never seen test.echo: running the workflow registers it there.
    expect(other.registry.get('test.echo')).toBeUndefined()
    const theirs = await other.run(compiled)
    expect(theirs.status).toBe('succeeded')
    expect(theirs.tasks['a']?.output).toBe(3)
    expect(other.registry.get('test.echo')).toBe(echo)
    await Promise.all([own.close(), other.close()])
  })
})

describe('createEngine({ builtins: true })', () => {
  it('is the default said out loud: every built-in tool, with its defaults', async () => {
    await using said = createEngine({ builtins: true })
    await using unsaid = createEngine()
    expect(said.registry.names()).toEqual(unsaid.registry.names())
    expect(said.registry.names()).toContain('fs.readFile')
  })
})
