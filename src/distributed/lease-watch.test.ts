/**
 * A worker watches the leases of the attempts it runs: one it lost while it ran (the process was
 * stalled past its lease, or the broker gave it away) is a zombie, and its tool's signal is
 * aborted with `TW_LEASE_LOST` (it stops acting), its outcome never reported.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { defineTool } from '../core/tool.js'
import type { AttemptEnvelope, AttemptReport, Transport } from '../core/transport.js'
import { createMemoryBroker } from '../queues/memory/broker.js'
import { createMemoryTransport } from '../queues/memory/transport.js'
import { ManualClock } from '../testing/manual-clock.js'
import { startWorker } from './worker.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A transport whose deliveries' lease checks say the lease is lost once `lost` is set, counting them; `loseNow()` aborts their `lost` signals, as a broker that says so itself does. */
function losableLeases(inner: Transport): { readonly transport: Transport; lost: boolean; checks: number; readonly loseNow: () => void } {
  const signals = new AbortController()
  const state = { transport: inner, lost: false, checks: 0, loseNow: () => signals.abort(new TaskweaveError('TW_TRANSPORT', 'the lock could not be renewed', { details: { leaseLost: true } })) }
  state.transport = new Proxy(inner, {
    get(target, name) {
      if (name !== 'consume') {
        const value = Reflect.get(target, name, target) as unknown
        // Bound to the transport itself: its methods use private fields.
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      }
      return (handler: Parameters<Transport['consume']>[0], options: Parameters<Transport['consume']>[1]) =>
        target.consume(
          (delivery) =>
            handler({
              ...delivery,
              ack: () => delivery.ack(),
              nack: (o) => delivery.nack(o),
              deadLetter: (r) => delivery.deadLetter(r),
              lost: signals.signal,
              extend: async () => {
                state.checks++
                if (state.lost) throw new TaskweaveError('TW_TRANSPORT', 'attempt lost its lease (its lock expired)', { details: { leaseLost: true } })
              },
            }),
          options,
        )
    },
  })
  return state
}

async function turns(n = 20): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

function envelope(): AttemptEnvelope {
  return { request: { runId: 'r', taskId: 't', attempt: 1, attemptId: 'r/t#1', idempotencyKey: 'r/t', tool: 'hold', input: {}, inputChecked: false, timeoutMs: 600_000, priority: 0 }, owner: 'owner', queue: 'default', publishedAt: 0 }
}

async function setup() {
  const clock = new ManualClock(0, 1_800_000_000_000)
  const broker = createMemoryBroker({ clock })
  const owner = createMemoryTransport({ broker })
  const leases = losableLeases(createMemoryTransport({ broker }))
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
  const worker = await startWorker({ transport: leases.transport, tools: [hold], builtins: false, worker: 'w', clock, heartbeatMs: 60_000 })
  const reports: AttemptReport[] = []
  const inbox = await owner.receive('owner', (report) => reports.push(report))
  cleanups.push(() => inbox.close(), () => worker.close({ graceMs: 0 }), () => owner.close())
  await owner.publish([envelope()])
  await turns()
  expect(worker.stats().running).toBe(1)
  return { clock, leases, reasons, worker, reports }
}

describe('the worker\'s lease watch', () => {
  it('after a stall (a tick far past due), checks every running lease at once: a lost one aborts its tool with TW_LEASE_LOST and reports nothing', async () => {
    const { clock, leases, reasons, worker, reports } = await setup()
    clock.advance(1000)
    await turns()
    // Within its recheck period and no stall: not asked.
    expect(leases.checks).toBe(0)
    leases.lost = true
    // The process stalls for 5 s: the next tick comes 4 s late.
    clock.stall(5000)
    clock.advance(0)
    await turns()
    expect(leases.checks).toBe(1)
    expect(reasons).toHaveLength(1)
    expect(reasons[0]).toMatchObject({ code: 'TW_LEASE_LOST', details: { attemptId: 'r/t#1', worker: 'w' } })
    expect(worker.stats()).toMatchObject({ running: 0, returned: 1 })
    await turns()
    expect(reports.filter((report) => report.kind === 'outcome')).toEqual([])
  })

  it('without a stall, checks a running lease every 10 s; one still held goes on running', async () => {
    const { clock, leases, reasons, worker } = await setup()
    for (let k = 0; k < 10; k++) {
      clock.advance(1000)
      await turns(5)
    }
    expect(leases.checks).toBe(1)
    expect(reasons).toEqual([])
    expect(worker.stats().running).toBe(1)
    leases.lost = true
    for (let k = 0; k < 10; k++) {
      clock.advance(1000)
      await turns(5)
    }
    expect(leases.checks).toBe(2)
    expect(reasons[0]).toMatchObject({ code: 'TW_LEASE_LOST' })
    // Nothing runs: the watch stops ticking after the tick already armed.
    clock.advance(1000)
    await turns(5)
    expect(clock.nextDue()).toBe(60_000)
  })

  it('a delivery whose broker says the lease is lost (its lost signal) stops its tool at once', async () => {
    const { leases, reasons, worker, reports } = await setup()
    leases.loseNow()
    expect(reasons[0]).toMatchObject({ code: 'TW_LEASE_LOST', cause: { message: 'the lock could not be renewed' } })
    expect(leases.checks).toBe(0)
    await turns()
    expect(worker.stats().running).toBe(0)
    expect(reports.filter((report) => report.kind === 'outcome')).toEqual([])
  })

  it('stops watching once the worker has closed, even for a tool that ignores its abort', async () => {
    const clock = new ManualClock(0, 1_800_000_000_000)
    const broker = createMemoryBroker({ clock })
    const owner = createMemoryTransport({ broker })
    const leases = losableLeases(createMemoryTransport({ broker }))
    const deaf = defineTool({ name: 'hold', input: z.object({}), run: () => new Promise(() => undefined) })
    const worker = await startWorker({ transport: leases.transport, tools: [deaf], builtins: false, worker: 'w', clock, heartbeatMs: 60_000 })
    cleanups.push(() => owner.close())
    await owner.publish([envelope()])
    await turns()
    expect(worker.stats().running).toBe(1)
    const closing = worker.close({ graceMs: 0 })
    await clock.runUntilSettled(closing)
    expect(clock.nextDue()).toBeUndefined()
  })
})
