/**
 * A worker stops a zombie: when the broker says, through a delivery's `lost` signal, that the
 * worker no longer holds a running attempt, the tool's signal aborts with `TW_LEASE_LOST` (it
 * stops acting), its outcome is never reported, and the delivery goes back to the broker, never
 * acknowledged. A signal from a delivery the attempt is no longer held by changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { defineTool } from '../core/tool.js'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, Transport } from '../core/transport.js'
import { createMemoryTransport } from '../queues/memory/transport.js'
import { startWorker } from './worker.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const LOST = (): TaskweaveError => new TaskweaveError('TW_TRANSPORT', 'the lock could not be renewed', { details: { leaseLost: true } })

/** A transport whose deliveries each carry a `lost` signal the test aborts, and record how they were settled. */
function watched(inner: Transport): { readonly transport: Transport; readonly deliveries: { readonly lose: () => void; readonly settled: string[]; readonly number: number }[] } {
  const deliveries: { lose: () => void; settled: string[]; number: number }[] = []
  const transport = new Proxy(inner, {
    get(target, name) {
      if (name !== 'consume') {
        const value = Reflect.get(target, name, target) as unknown
        // Bound to the transport itself: its methods use private fields.
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      }
      return (handler: Parameters<Transport['consume']>[0], options: Parameters<Transport['consume']>[1]) =>
        target.consume((delivery) => {
          const lost = new AbortController()
          const record = { lose: () => lost.abort(LOST()), settled: [] as string[], number: delivery.deliveries }
          deliveries.push(record)
          const wrapped: AttemptDelivery = {
            ...delivery,
            ack: () => (record.settled.push('ack'), delivery.ack()),
            nack: (o) => (record.settled.push('nack'), delivery.nack(o)),
            deadLetter: (r) => (record.settled.push('dead'), delivery.deadLetter(r)),
            lost: lost.signal,
          }
          return handler(wrapped).catch((err: unknown) => {
            record.settled.push('threw')
            throw err
          })
        }, options)
    },
  })
  return { transport, deliveries }
}

async function turns(n = 20): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

function envelope(): AttemptEnvelope {
  return { request: { runId: 'r', taskId: 't', attempt: 1, attemptId: 'r/t#1', idempotencyKey: 'r/t', tool: 'hold', input: {}, inputChecked: false, timeoutMs: 600_000, priority: 0 }, owner: 'owner', queue: 'default', publishedAt: 0 }
}

async function setup() {
  const owner = createMemoryTransport()
  const side = watched(createMemoryTransport())
  const reasons: unknown[] = []
  const hold = defineTool({
    name: 'hold',
    input: z.object({}),
    run: (_input, ctx) =>
      new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => {
          reasons.push(ctx.signal.reason)
          reject(ctx.signal.reason as Error)
        }),
      ),
  })
  const worker = await startWorker({ transport: side.transport, tools: [hold], builtins: false, worker: 'w', heartbeatMs: 60_000 })
  const reports: AttemptReport[] = []
  const inbox = await owner.receive('owner', (report) => reports.push(report))
  cleanups.push(() => inbox.close(), () => worker.close({ graceMs: 0 }), () => owner.close())
  await owner.publish([envelope()])
  await turns()
  expect(worker.stats().running).toBe(1)
  return { side, reasons, worker, reports }
}

describe('a worker whose attempt\'s lease is lost while it runs', () => {
  it('aborts the tool with TW_LEASE_LOST, reports nothing, and gives the delivery back instead of acknowledging it', async () => {
    const { side, reasons, worker, reports } = await setup()
    side.deliveries[0]?.lose()
    expect(reasons).toHaveLength(1)
    expect(reasons[0]).toMatchObject({ code: 'TW_LEASE_LOST', details: { attemptId: 'r/t#1', worker: 'w' }, cause: { message: 'the lock could not be renewed' } })
    await turns()
    expect(side.deliveries[0]?.settled).toEqual(['threw'])
    expect(worker.stats()).toMatchObject({ running: 0, returned: 1, completed: 0, failed: 0 })
    expect(reports.filter((report) => report.kind === 'outcome')).toEqual([])
  })

  it('after a redelivery joined the running attempt, only the lease of the delivery it is held by counts', async () => {
    const { side, reasons, worker } = await setup()
    // The same attempt delivered again to this worker (its first channel or lock went in a blip): it joins the run.
    await createMemoryTransport().publish([envelope()])
    await turns()
    expect(side.deliveries).toHaveLength(2)
    expect(worker.stats().running).toBe(1)
    side.deliveries[0]?.lose()
    await turns()
    expect(reasons).toEqual([])
    expect(worker.stats().running).toBe(1)
    side.deliveries[1]?.lose()
    await turns()
    expect(reasons[0]).toMatchObject({ code: 'TW_LEASE_LOST' })
    // Neither copy is acknowledged: both go back.
    expect(side.deliveries.map((d) => d.settled)).toEqual([['threw'], ['threw']])
  })
})
