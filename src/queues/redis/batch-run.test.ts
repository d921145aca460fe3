/**
 * The order of writes when attempts leave a batch, with a stand-in for the three Redis commands a
 * batch uses (a hash of entries) and an `add` that can fail: an attempt leaves its batch only once
 * its own job is added, so a failed add never loses it. The real Redis paths are in
 * test/queues/redis-transport.test.ts.
 */
import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import type { AttemptDelivery, AttemptEnvelope } from '../../core/transport.js'
import type { BulkJob } from './batches.js'
import { runBatch } from './batch-run.js'
import type { BatchContext } from './batch-run.js'
import { HeldJob } from './held-job.js'
import type { Verdict } from './held-job.js'
import { PermitPool } from './permits.js'
import type { AnyJob } from './worker.js'

const JOB = '%b.batch'

function envelope(attemptId: string): AttemptEnvelope {
  return { request: { runId: 'r', taskId: attemptId, attempt: 1, attemptId, idempotencyKey: attemptId, tool: 't', input: {}, inputChecked: true, timeoutMs: 1000, priority: 0 }, owner: 'o', queue: 'default', publishedAt: 0 }
}

/** A hash of entries with the commands batch-run sends. */
function fakeClient(entries: Map<string, string>): Redis {
  return {
    hmget: async (_key: string, ...fields: string[]) => fields.map((f) => entries.get(f) ?? null),
    hget: async (_key: string, field: string) => entries.get(field) ?? null,
    eval: async (_script: string, _keys: number, _key: string, field: string, jobId: string) => {
      if (entries.get(field) !== jobId) return 0
      entries.delete(field)
      return 1
    },
  } as unknown as Redis
}

function setup(options: { readonly deliveries: number; readonly slots: number; readonly failAdds: boolean; readonly handler?: (d: AttemptDelivery) => Promise<void> }) {
  const batch = ['a', 'b', 'c'].map(envelope)
  const entries = new Map(batch.map((e) => [e.request.attemptId, JOB]))
  const added: BulkJob[] = []
  const permits = new PermitPool(options.slots)
  permits.tryAcquire() // the slot the batch job itself holds
  const ran: string[] = []
  const ctx: BatchContext = {
    permits,
    client: fakeClient(entries),
    hash: 'h',
    add: async (jobs) => {
      if (options.failAdds) throw new Error('Redis went away')
      added.push(...jobs)
    },
    handler:
      options.handler ??
      (async (d) => {
        ran.push(d.envelope.request.attemptId)
        await d.ack()
      }),
    delivery: (env, deliveries, settle: (v: Verdict) => Promise<void>) => ({ envelope: env, deliveries, ack: () => settle({ kind: 'ack' }), nack: (o = {}) => settle({ kind: 'retry', delayMs: o.delayMs ?? 0 }), deadLetter: (reason) => settle({ kind: 'dead', reason }), extend: async () => {} }),
    onThrow: () => ({ kind: 'retry', delayMs: 0 }),
    refusal: (why, attemptId) => new Error(`${why} ${attemptId}`),
    onWriteFailure: () => {},
  }
  const held = new HeldJob({ id: JOB, attemptsStarted: options.deliveries, data: { batch } } as unknown as AnyJob, 'token')
  return { batch, entries, added, ran, ctx, held }
}

describe('runBatch', () => {
  it('a batch delivered again whose put-back cannot be written keeps its attempts, to split them next time', async () => {
    const t = setup({ deliveries: 2, slots: 4, failAdds: true })
    await expect(runBatch(t.held, t.batch, t.ctx)).rejects.toThrow('Redis went away')
    expect([...t.entries.keys()]).toEqual(['a', 'b', 'c'])
  })

  it('surplus that cannot be put back stays in the batch, and the batch is not done', async () => {
    const t = setup({ deliveries: 1, slots: 1, failAdds: true })
    expect(await runBatch(t.held, t.batch, t.ctx)).toBe(false)
    expect(t.ran).toEqual(['a'])
    expect([...t.entries.keys()]).toEqual(['b', 'c'])
  })

  it('a give-back that cannot be added leaves the attempt in the batch', async () => {
    const t = setup({ deliveries: 1, slots: 4, failAdds: true, handler: (d) => (d.envelope.request.attemptId === 'b' ? d.nack() : d.ack()) })
    expect(await runBatch(t.held, t.batch, t.ctx)).toBe(false)
    expect([...t.entries.keys()]).toEqual(['b'])
  })

  it('runs only the attempts whose entry still names the batch; puts the surplus back, then lets go of it', async () => {
    const t = setup({ deliveries: 1, slots: 1, failAdds: false })
    t.entries.set('a', '%b.other')
    expect(await runBatch(t.held, t.batch, t.ctx)).toBe(true)
    expect(t.ran).toEqual(['b'])
    expect(t.added.map((job) => job.opts.jobId)).toEqual(['c'])
    expect([...t.entries]).toEqual([['a', '%b.other']])
  })
})
