import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import { defineAgent } from './define-agent.js'
import { AgentSessionPool } from './session-pool.js'
import { ChunkStream } from './stream.js'
import type { AgentChunk } from './stream.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

const words = defineAgent({
  name: 'words',
  create: () => ({ calls: 0 }),
  async *stream(instance: { calls: number }, input: { text: string }) {
    instance.calls++
    for (const word of input.text.split(' ')) yield word
    return { words: input.text.split(' ').length, call: instance.calls }
  },
  execute: (instance: { calls: number }, input: { text: string }) => ({ words: input.text.split(' ').length, call: ++instance.calls }),
})

describe('AgentSessionPool.stream', () => {
  it('yields delta chunks then one done chunk carrying the stream return value, indexed from 0', async () => {
    await using pool = new AgentSessionPool({ agents: [words], clock: new ManualClock() })
    const chunks = await collect(pool.stream(words, 's', { text: 'to be or not' }))
    expect(chunks).toEqual([
      { type: 'delta', data: 'to', index: 0 },
      { type: 'delta', data: 'be', index: 1 },
      { type: 'delta', data: 'or', index: 2 },
      { type: 'delta', data: 'not', index: 3 },
      { type: 'done', data: { words: 4, call: 1 }, index: 4 },
    ])
    // Streaming and plain executions share the session's instance.
    await expect(pool.execute(words, 's', { text: 'again' })).resolves.toEqual({ words: 1, call: 2 })
    expect(pool.health().queue.completed).toBe(2)
  })

  it('falls back to execute for agents without stream: one done chunk with the output', async () => {
    const plain = defineAgent({ name: 'plain', create: () => null, execute: (_i, input: number) => input * 2 })
    await using pool = new AgentSessionPool({ agents: [plain], clock: new ManualClock() })
    expect(await collect(pool.stream(plain, 's', 21))).toEqual([{ type: 'done', data: 42, index: 0 }])
  })

  it('delivers a failure as a final error chunk with its code', async () => {
    const broken = defineAgent({
      name: 'broken',
      create: () => null,
      execute: () => null,
      // eslint-disable-next-line require-yield
      async *stream() {
        throw Object.assign(new Error('model overloaded'), { code: 'E_OVERLOADED' })
      },
    })
    await using pool = new AgentSessionPool({ agents: [broken], clock: new ManualClock() })
    const chunks = await collect(pool.stream('broken', 's', {}))
    expect(chunks).toHaveLength(1)
    expect(chunks[0]).toMatchObject({ type: 'error', index: 0, data: { code: 'E_OVERLOADED', message: 'model overloaded' } })
    expect(pool.health().queue.failed).toBe(1)
  })

  it('aborts the execution when the consumer stops reading (iterator return)', async () => {
    const seen: string[] = []
    const endless = defineAgent({
      name: 'endless',
      create: () => null,
      execute: () => null,
      async *stream(_instance, _input, ctx) {
        try {
          for (let i = 0; ; i++) {
            if (ctx.signal.aborted) {
              seen.push(`aborted: ${(ctx.signal.reason as Error).message}`)
              return
            }
            yield i
            await tick()
          }
        } finally {
          seen.push('finally')
        }
      },
    })
    await using pool = new AgentSessionPool({ agents: [endless], clock: new ManualClock() })
    const got: AgentChunk[] = []
    for await (const chunk of pool.stream(endless, 's', null)) {
      got.push(chunk)
      if (got.length === 3) break
    }
    expect(got.map((c) => c.data)).toEqual([0, 1, 2])
    // The session is free again once the agent has stopped: the next execution runs.
    await expect(pool.execute(endless, 's', null)).resolves.toBeNull()
    expect(seen).toEqual(['aborted: the stream consumer stopped reading', 'finally'])
    expect(pool.metrics().agents['endless']).toMatchObject({ executions: 2, failures: 0 })
  })

  it('ends with a TW_CANCELLED error chunk when the caller signal aborts', async () => {
    const waiting = defineAgent({
      name: 'waiting',
      create: () => null,
      execute: () => null,
      async *stream(_instance, _input, ctx) {
        yield 'first'
        await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }))
      },
    })
    await using pool = new AgentSessionPool({ agents: [waiting], clock: new ManualClock() })
    const controller = new AbortController()
    const stream = pool.stream(waiting, 's', null, { signal: controller.signal })
    expect(await stream.next()).toEqual({ done: false, value: { type: 'delta', data: 'first', index: 0 } })
    controller.abort(new (await import('../core/errors.js')).CancelledError('user hung up'))
    const rest = await collect(stream)
    expect(rest).toEqual([{ type: 'error', index: 1, data: expect.objectContaining({ code: 'TW_CANCELLED', message: 'user hung up' }) }])
  })

  it('serializes a stream and a plain execution of the same session in submission order', async () => {
    const order: string[] = []
    const slow = defineAgent({
      name: 'slow',
      create: () => null,
      execute: () => {
        order.push('execute')
        return 'x'
      },
      async *stream() {
        order.push('stream start')
        for (let i = 0; i < 3; i++) {
          await tick()
          yield i
        }
        order.push('stream end')
      },
    })
    await using pool = new AgentSessionPool({ agents: [slow], clock: new ManualClock() })
    const streamed = collect(pool.stream(slow, 's', null))
    const executed = pool.execute(slow, 's', null)
    await Promise.all([streamed, executed])
    expect(order).toEqual(['stream start', 'stream end', 'execute'])
  })

  it('throws at once for an unknown agent or a closed pool', async () => {
    const pool = new AgentSessionPool({ agents: [words], clock: new ManualClock() })
    expect(() => pool.stream('nope', 's', null)).toThrow(/no agent named "nope"/)
    await pool.close()
    expect(() => pool.stream(words, 's', { text: 'a' })).toThrow(/closed/)
  })

  it('serves several next() calls waiting at once in call order, and ends them all', async () => {
    const chunks = new ChunkStream<string>()
    const first = chunks.next()
    const second = chunks.next()
    const third = chunks.next()
    chunks.delta('a')
    chunks.done('end')
    expect((await first).value).toEqual({ type: 'delta', data: 'a', index: 0 })
    expect((await second).value).toEqual({ type: 'done', data: 'end', index: 1 })
    expect((await third).done).toBe(true)
  })
})
