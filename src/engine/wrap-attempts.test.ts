import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import { createEngine } from './engine.js'

describe('engine.wrapAttempts', () => {
  it('runs each tool call inside the wrappers, the first outermost, until each is removed', async () => {
    const store = new AsyncLocalStorage<string[]>()
    const seen: unknown[] = []
    const probe = defineTool({
      name: 'probe',
      input: z.object({}),
      run: async (_input, ctx) => {
        await new Promise((resolve) => setImmediate(resolve))
        seen.push([ctx.taskId, store.getStore() ?? 'none'])
        return 1
      },
    })
    const engine = createEngine({ builtins: false, tools: [probe] })
    const calls: string[] = []
    const outer = engine.wrapAttempts((attempt, run) => {
      calls.push(`outer ${attempt.taskId}#${attempt.attempt}`)
      return store.run(['outer'], run)
    })
    const inner = engine.wrapAttempts((attempt, run) => {
      calls.push(`inner ${attempt.taskId}`)
      return store.run([...(store.getStore() ?? []), 'inner'], run)
    })
    expect((await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'probe' }] })).status).toBe('succeeded')
    expect(calls).toEqual(['outer a#1', 'inner a'])
    expect(seen).toEqual([['a', ['outer', 'inner']]])

    outer()
    await engine.run({ id: 'w', tasks: [{ id: 'b', tool: 'probe' }] })
    inner()
    await engine.run({ id: 'w', tasks: [{ id: 'c', tool: 'probe' }] })
    expect(seen.slice(1)).toEqual([
      ['b', ['inner']],
      ['c', 'none'],
    ])
    await engine.close()
  })

  it('refuses what is not a function', async () => {
    const engine = createEngine({ builtins: false })
    expect(() => engine.wrapAttempts('no' as never)).toThrow(/wrapAttempts/)
    await engine.close()
  })
})
