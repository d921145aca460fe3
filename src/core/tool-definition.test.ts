import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from './tool.js'
import { TaskweaveError } from './errors.js'
import { createEngine } from '../engine/engine.js'

/** The code and message `fn` throws. */
function refused(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return err instanceof TaskweaveError ? `${err.code} ${err.message}` : `not coded: ${String(err)}`
  }
  return 'accepted'
}

const base = { name: 'search', input: z.object({ q: z.string() }), run: () => 1 }

describe('defineTool checks every optional field, naming the tool and the field', () => {
  it.each([
    ['permit', { permit: 5 }, 'tool "search": permit must be an object { key, limit }; received 5'],
    ['permit.key', { permit: { key: 'k', limit: 1 } }, 'tool "search": permit.key must be a function of the call\'s input giving its key; received "k"'],
    ['permit.limit of 0', { permit: { key: () => 'k', limit: 0 } }, 'tool "search": permit.limit must be a whole number of calls above 0; received 0'],
    ['permit.limit of NaN', { permit: { key: () => 'k', limit: Number.NaN } }, 'tool "search": permit.limit must be a whole number of calls above 0; received NaN'],
    ['maxOutputBytes', { maxOutputBytes: -1 }, 'tool "search": maxOutputBytes must be a whole number of bytes above 0; received -1'],
    ['cost', { cost: Number.NaN }, 'tool "search": cost must be a finite number of ms, 0 or more; received NaN'],
    ['idempotent', { idempotent: 'no' }, 'tool "search": idempotent must be true or false; received "no"'],
    ['description', { description: 5 }, 'tool "search": description must be a string; received 5'],
    ['rateKey', { rateKey: '' }, 'tool "search": rateKey must be a non-empty string; received ""'],
    ['rateKeyOf', { rateKeyOf: 'openai' }, 'tool "search": rateKeyOf must be a function; received "openai"'],
    ['estimateTokens', { estimateTokens: 100 }, 'tool "search": estimateTokens must be a function; received 100'],
  ])('%s', (_field, extra, message) => {
    expect(refused(() => defineTool({ ...base, ...extra } as never))).toBe(`TW_INVALID_OPTION ${message}`)
  })

  it('accepts every field given as documented', () => {
    const tool = defineTool({ ...base, description: 'd', maxOutputBytes: 10, cost: 0, idempotent: false, permit: { key: () => undefined, limit: 2 }, rateKey: 'openai:gpt-4o', rateKeyOf: () => undefined, estimateTokens: () => 1 })
    expect(tool.permit?.limit).toBe(2)
  })
})

describe('a tool permit whose key function fails', () => {
  it('fails the task naming the tool and permit.key, and the limit is never skipped', async () => {
    let running = 0
    let most = 0
    const guarded = defineTool({
      name: 'guarded',
      input: z.object({ n: z.number() }),
      permit: {
        key: ({ n }) => {
          if (n === 3) throw new Error('no key for 3')
          return 'one-at-a-time'
        },
        limit: 1,
      },
      run: async () => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setImmediate(resolve))
        running--
      },
    })
    await using engine = createEngine({ tools: [guarded], builtins: false, concurrency: 4 })
    const result = await engine.run({ id: 'w', tasks: [1, 2, 3, 4].map((n) => ({ id: `t${n}`, tool: 'guarded', input: { n } })) })
    expect(most).toBe(1)
    expect(result.status).toBe('partial')
    expect(result.failed).toEqual(['t3'])
    expect(result.tasks['t3']).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'TW_INVALID_OPTION', retryable: false, message: 'task "t3": the permit.key function of tool "guarded" failed: no key for 3', details: { taskId: 't3', tool: 'guarded', option: 'permit.key' } } })
  })

  it('fails the task when the key function gives something other than a string', async () => {
    const odd = defineTool({ name: 'odd', input: z.object({}), permit: { key: () => 42 as unknown as string, limit: 1 }, run: () => 1 })
    await using engine = createEngine({ tools: [odd], builtins: false })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'odd' }] })
    expect(result.tasks['a']?.error?.message).toBe('task "a": the permit.key function of tool "odd" failed: it gave a number, where a non-empty string (or undefined for no limit) was expected')
  })
})
