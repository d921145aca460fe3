/**
 * The distributed entry points refuse what they do not know, naming it, instead of running with a
 * default the caller did not mean (a misspelt option, a heartbeat of 0 that announces in a tight
 * loop, a group cap of 0 under which nothing ever runs).
 */
import { describe, expect, it } from 'vitest'
import { createMemorySharedLimiter, createMemoryTransport, createMessageQueue, createTransport } from '../queues/index.js'
import { createRemoteRunner } from './remote-runner.js'
import { startWorker } from './worker.js'

const refusal = async (make: () => unknown): Promise<unknown> => {
  try {
    await make()
  } catch (err) {
    return err
  }
  return 'accepted'
}

describe('distributed options', () => {
  it('startWorker refuses an unknown option and a heartbeat that is not a number of ms ≥ 10', async () => {
    const transport = createMemoryTransport()
    try {
      expect(await refusal(() => startWorker({ transport, concurency: 1 } as never))).toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('did you mean "concurrency"') })
      for (const heartbeatMs of [0, Number.NaN, -5]) expect(await refusal(() => startWorker({ transport, heartbeatMs }))).toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'heartbeatMs' } })
    } finally {
      await transport.close()
    }
  })

  it('createRemoteRunner refuses unknown options, bad timings, a group cap below 1 and a shared lease below 100 ms', async () => {
    const transport = createMemoryTransport()
    const limiter = createMemorySharedLimiter()
    try {
      expect(await refusal(() => createRemoteRunner({ transport, reconcileEveryMS: 0 } as never))).toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'reconcileEveryMS' } })
      expect(await refusal(() => createRemoteRunner({ transport, reconcileEveryMs: Number.NaN }))).toMatchObject({ details: { option: 'reconcileEveryMs' } })
      expect(await refusal(() => createRemoteRunner({ transport, workerTimeoutMs: -1 }))).toMatchObject({ details: { option: 'workerTimeoutMs' } })
      expect(await refusal(() => createRemoteRunner({ transport, shared: { limiter, groups: { llm: 0 } } }))).toMatchObject({ details: { option: 'shared.groups.llm' } })
      expect(await refusal(() => createRemoteRunner({ transport, shared: { limiter, groups: { llm: 2 }, leaseMs: 0 } }))).toMatchObject({ details: { option: 'shared.leaseMs' } })
      expect(await refusal(() => createRemoteRunner({ transport, shared: { limiter, grups: { llm: 2 } } as never }))).toMatchObject({ details: { option: 'shared.grups' } })
      expect(await refusal(() => createRemoteRunner({ transport, reconcileEveryMs: 0 }))).toBe('accepted')
    } finally {
      await limiter.close()
      await transport.close()
    }
  })

  it('createMessageQueue and createTransport refuse misspelt options, nested ones included', async () => {
    expect(await refusal(() => createMessageQueue({ type: 'memory', name: 'q', maxsize: 1 } as never))).toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('did you mean "maxSize"') })
    expect(await refusal(() => createMessageQueue({ type: 'memory', name: 'q', retry: { maxDelivery: 1 } } as never))).toMatchObject({ details: { option: 'retry.maxDelivery' } })
    expect(await refusal(() => createMessageQueue({ type: 'memory', name: 'q', retry: { backoff: { delay: 5 } } } as never))).toMatchObject({ details: { option: 'retry.backoff.delay' } })
    expect(await refusal(() => createTransport({ type: 'memory', leaseMS: 500 } as never))).toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'leaseMS' } })
  })
})
