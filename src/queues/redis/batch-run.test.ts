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

function envelope(attemptId: string, mustNotRepeat = false): AttemptEnvelope {
  return { request: { runId: 'r', taskId: attemptId, attempt: 1, attemptId, idempotencyKey: attemptId, tool: 't', input: {}, inputChecked: true, timeoutMs: 1000, priority: 0, ...(mustNotRepeat ? { mustNotRepeat } : {}) }, owner: 'o', queue: 'default', publishedAt: 0 }
}

/** A hash of entries (key `h`) and one of started marks (`h:started`), with the commands batch-run sends. */
function fakeClient(entries: Map<string, string>, marks: Map<string, string>): Redis {
  const hashOf = (key: string): Map<string, string> => (key === 'h:started' ? marks : entries)
  return {
    hmget: async (key: string, ...fields: string[]) => fields.map((f) => hashOf(key).get(f) ?? null),
    hget: async (key: string, field: string) => hashOf(key).get(field) ?? null,
    hset: async (key: string, values: Record<string, string>) => {
      for (const [field, value] of Object.entries(values)) hashOf(key).set(field, value)
      return Object.keys(values).length
    },
    eval: async (_script: string, _keys: number, _key: string, _started: string, field: string, jobId: string) => {
      if (entries.get(field) !== jobId) return 0
      entries.delete(field)
      marks.delete(field)
      return 1
    },
  } as unknown as Redis
}

function setup(options: { readonly deliveries: number; readonly slots: number; readonly failAdds: boolean; readonly handler?: (d: AttemptDelivery) => Promise<void>; readonly mustNotRepeat?: boolean }) {
  const batch = ['a', 'b', 'c'].map((id) => envelope(id, options.mustNotRepeat))
  const entries = new Map(batch.map((e) => [e.request.attemptId, JOB]))
  const marks = new Map<string, string>()
  const added: BulkJob[] = []
  const permits = new PermitPool(options.slots)
  permits.tryAcquire() // the slot the batch job itself holds
  const ran: string[] = []
  const ctx: BatchContext = {
    permits,
    client: fakeClient(entries, marks),
    hash: 'h',
    started: 'h:started',
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
  return { batch, entries, marks, added, ran, ctx, held }
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

  it('marks attempts that must not run twice as started before they run, and clears the mark with their verdict', async () => {
    const seen: boolean[] = []
    const t = setup({ deliveries: 1, slots: 4, failAdds: false, mustNotRepeat: true, handler: async (d) => (seen.push(t.marks.get(d.envelope.request.attemptId) === JOB), await d.ack()) })
    expect(await runBatch(t.held, t.batch, t.ctx)).toBe(true)
    expect(seen).toEqual([true, true, true])
    expect(t.marks.size).toBe(0)
  })

  it('delivered again, puts back as new those that must not run twice and never started; only a started one counts its delivery', async () => {
    const t = setup({ deliveries: 2, slots: 4, failAdds: false, mustNotRepeat: true })
    t.marks.set('a', JOB)
    expect(await runBatch(t.held, t.batch, t.ctx)).toBe(true)
    expect(t.added.map((job) => [job.opts.jobId, (job.data as { prior: number }).prior])).toEqual([['a', 1], ['b', 0], ['c', 0]])
    expect(t.marks.size).toBe(0)
  })
})
