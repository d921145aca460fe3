/**
 * Agent pool defects found in review: a concurrent-safe session whose first create() failed while
 * another execution waited for a worker slot (that execution failed with a code-less internal
 * error instead of creating again); priorities that are not finite numbers (accepted, and a NaN
 * broke the order of everyone else waiting); definitions refused with a code-less TypeError.
 */
import { describe, expect, it } from 'vitest'
import { TaskweaveError } from '../core/errors.js'
import { ManualClock } from '../testing/manual-clock.js'
import { defineAgent } from './define-agent.js'
import { AgentSessionPool } from './session-pool.js'

describe('AgentSessionPool: review defects', () => {
  it('a concurrent-safe session creates its instance again for the execution that waited while the first create() failed', async () => {
    let creates = 0
    const agent = defineAgent({
      name: 'a',
      concurrentSafe: true,
      create: async () => {
        creates++
        await new Promise((resolve) => setImmediate(resolve))
        if (creates === 1) throw new Error('flaky create')
        return {}
      },
      execute: async () => 'ok',
    })
    const pool = new AgentSessionPool({ agents: [agent], maxConcurrent: 1, clock: new ManualClock() })
    try {
      const first = pool.execute('a', 's', {}).then(
        () => 'ok',
        (err: unknown) => (TaskweaveError.is(err) ? err.code : String(err)),
      )
      const second = pool.execute('a', 's', {})
      expect(await first).toBe('TW_AGENT_CREATE_FAILED')
      expect(await second).toBe('ok')
      expect(creates).toBe(2)
    } finally {
      await pool.close()
    }
  })

  it('refuses a priority that is not a finite number, naming it', async () => {
    const agent = defineAgent({ name: 'a', create: () => ({}), execute: () => 'ok' })
    const pool = new AgentSessionPool({ agents: [agent], clock: new ManualClock() })
    try {
      await expect(pool.execute('a', 's', {}, { priority: Number.NaN })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'priority' } })
      await expect(pool.execute('a', 's', {}, { priority: 'high' as unknown as number })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
      expect(() => pool.stream('a', 's', {}, { priority: Infinity })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
    } finally {
      await pool.close()
    }
  })

  it('refuses a bad definition with TW_INVALID_OPTION naming the field', () => {
    const refusal = (make: () => unknown): unknown => {
      try {
        make()
      } catch (err) {
        return err
      }
      return undefined
    }
    expect(refusal(() => defineAgent({ name: 'bad name!', create: () => ({}), execute: () => 1 }))).toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'name' } })
    expect(refusal(() => defineAgent({ name: 'a', create: 'no' as never, execute: () => 1 }))).toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'create' } })
    expect(refusal(() => defineAgent({ name: 'a', create: () => ({}), execute: () => 1, dispose: 3 as never }))).toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'dispose' } })
  })
})

describe('AgentSessionPool: a stream() that is not async', () => {
  it('fails its stream with a clear error naming the agent, not retryable', async () => {
    const syncStream = defineAgent({ name: 'sync', create: () => ({}), execute: () => 'x', stream: (() => [1, 2, 3]) as never })
    const pool = new AgentSessionPool({ agents: [syncStream] })
    const chunks: unknown[] = []
    for await (const chunk of pool.stream(syncStream, 's', {})) chunks.push(chunk)
    expect(chunks).toEqual([expect.objectContaining({ type: 'error', data: expect.objectContaining({ code: 'TW_INVALID_OPTION', retryable: false, message: expect.stringContaining('agent "sync": stream() must return an AsyncIterable') }) })])
    await pool.close()
  })
})
