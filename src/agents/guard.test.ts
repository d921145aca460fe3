import { describe, expect, it } from 'vitest'
import { serializeError, TaskweaveError } from '../core/errors.js'
import { ManualClock } from '../testing/manual-clock.js'
import { defineAgent } from './define-agent.js'
import { callAgent, reportableAgentError } from './guard.js'
import { AgentSessionPool } from './session-pool.js'
import type { AgentChunk } from './stream.js'

/** Values that throw when reported naively. */
function hostile() {
  const { proxy: revoked, revoke } = Proxy.revocable({}, {})
  revoke()
  const codeGetterThrows = new Error('boom')
  Object.defineProperty(codeGetterThrows, 'code', { get: () => { throw new Error('code getter') } })
  const toStringThrows = { toString: () => { throw new Error('toString') } }
  return { revoked, codeGetterThrows, toStringThrows }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a rejection') }, (err: unknown) => err)
}

describe('callAgent', () => {
  it('turns a synchronous throw, a rejection and a throwing `then` getter into rejections', async () => {
    const onThrown = (thrown: unknown): unknown => ({ wrapped: thrown })
    expect(await rejection(callAgent(() => { throw 1 }, onThrown))).toEqual({ wrapped: 1 })
    expect(await rejection(callAgent(() => Promise.reject(2), onThrown))).toEqual({ wrapped: 2 })
    const thenGetter = { get then(): never { throw new Error('then getter') } }
    expect(await rejection(callAgent(() => thenGetter, onThrown))).toMatchObject({ wrapped: { message: 'then getter' } })
    await expect(callAgent(() => 3, onThrown)).resolves.toBe(3)
  })

  it('keeps a readable agent error as it is and makes unreadable ones TW_AGENT_FAILED', async () => {
    const own = new TaskweaveError('E_MINE', 'mine', { retryable: false })
    const onThrown = reportableAgentError('a', 's')
    expect(await rejection(callAgent(() => { throw own }, onThrown))).toBe(own)
    for (const value of Object.values(hostile())) {
      const err = await rejection(callAgent(() => { throw value }, onThrown))
      expect(TaskweaveError.is(err, 'TW_AGENT_FAILED')).toBe(true)
      expect(() => serializeError(err)).not.toThrow()
    }
  })
})

describe('the pool guards every call into agent code', () => {
  it('reports TW_AGENT_CREATE_FAILED when create() throws an object whose toString throws, or a revoked Proxy', async () => {
    for (const [kind, value] of Object.entries(hostile())) {
      const agent = defineAgent({ name: 'bad', create: () => { throw value }, execute: () => 'never' })
      const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
      const err = await rejection(pool.execute(agent, 's', null))
      expect(TaskweaveError.is(err, 'TW_AGENT_CREATE_FAILED'), kind).toBe(true)
      expect((err as Error).message).toContain('agent "bad" could not create an instance for session "s"')
      expect(() => serializeError(err)).not.toThrow()
      await pool.close()
    }
  })

  it('rejects with TW_AGENT_FAILED when execute() throws an unreadable value, and keeps the session usable', async () => {
    const { revoked } = hostile()
    let calls = 0
    const agent = defineAgent({ name: 'odd', create: () => ({}), execute: () => (++calls === 1 ? Promise.reject(revoked) : 'fine') })
    const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    expect(await rejection(pool.execute(agent, 's', null))).toMatchObject({ code: 'TW_AGENT_FAILED', message: expect.stringContaining('revoked Proxy') })
    await expect(pool.execute(agent, 's', null)).resolves.toBe('fine')
    await pool.close()
  })

  it('ends a stream with an error chunk when the agent stream throws an Error whose code getter throws', async () => {
    const { codeGetterThrows } = hostile()
    const agent = defineAgent({
      name: 'streamer',
      create: () => ({}),
      execute: () => 'unused',
      async *stream() {
        yield 'first'
        throw codeGetterThrows
      },
    })
    const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    const chunks: AgentChunk[] = []
    for await (const chunk of pool.stream(agent, 's', null)) chunks.push(chunk)
    expect(chunks.map((c) => c.type)).toEqual(['delta', 'error'])
    expect(chunks[1]).toMatchObject({ data: { code: 'TW_AGENT_FAILED' } })
    await pool.close()
  })

  it('logs a dispose() that throws an object whose toString throws, and closes cleanly', async () => {
    const { toStringThrows } = hostile()
    const warnings: unknown[] = []
    const logger = { debug() {}, info() {}, warn: (_m: string, fields?: unknown) => warnings.push(fields), error() {}, child: () => logger }
    const agent = defineAgent({ name: 'leaky', create: () => ({}), execute: () => 'ok', dispose: () => { throw toStringThrows } })
    const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock(), logger })
    await pool.execute(agent, 's', null)
    await expect(pool.close()).resolves.toMatchObject({ clean: true })
    expect(warnings).toEqual([expect.objectContaining({ error: expect.stringContaining('unreadable') })])
  })
})
