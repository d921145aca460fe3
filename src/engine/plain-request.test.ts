import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from './engine.js'
import { defineTool } from '../core/tool.js'
import type { AttemptRequest, AttemptRunner, AttemptSink } from '../core/attempt.js'

const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: ({ n }) => n })
const FIELDS = ['runId', 'taskId', 'attempt', 'attemptId', 'idempotencyKey', 'tool', 'input', 'inputChecked', 'timeoutMs', 'priority', 'group', 'route', 'rateKey']

describe('an attempt request is plain data wherever the caller\'s code sees it', () => {
  it('a runner the engine was given gets every field as an own property: a spread or a structured clone keeps them', async () => {
    const seen: AttemptRequest[] = []
    const runner: AttemptRunner = {
      start(request: AttemptRequest, sink: AttemptSink) {
        seen.push(structuredClone({ ...request }))
        sink.succeeded(request.input)
      },
      cancel() {},
      close: async () => undefined,
    }
    await using engine = createEngine({ tools: [echo], builtins: false, runner })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'echo', input: { n: 1 }, priority: 3, timeout: '5s', group: 'g' }] }, { runId: 'r1' })
    expect(result.status).toBe('succeeded')
    expect(Object.keys(seen[0] ?? {})).toEqual(expect.arrayContaining(FIELDS.filter((f) => f !== 'route' && f !== 'rateKey')))
    expect(seen[0]).toMatchObject({ runId: 'r1', taskId: 'a', attempt: 1, attemptId: 'r1/a#1', idempotencyKey: 'r1/a', tool: 'echo', input: { n: 1 }, timeoutMs: 5000, priority: 3, group: 'g' })
  })

  it('a wrapper of the engine\'s own tool calls gets it as plain data too', async () => {
    await using engine = createEngine({ tools: [echo], builtins: false })
    const seen: Record<string, unknown>[] = []
    engine.wrapAttempts((attempt, run) => {
      seen.push({ ...attempt })
      return run()
    })
    await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'echo', input: { n: 2 } }] }, { runId: 'r2' })
    expect(seen[0]).toMatchObject({ runId: 'r2', taskId: 'a', attemptId: 'r2/a#1', idempotencyKey: 'r2/a', tool: 'echo', input: { n: 2 } })
  })
})
