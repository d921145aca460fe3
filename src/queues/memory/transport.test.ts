import { describe, expect, it } from 'vitest'
import { attemptIdOf } from '../../core/attempt.js'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, Transport } from '../../core/transport.js'
import { ManualClock } from '../../testing/manual-clock.js'
import { transportConformanceCases } from '../../testing/transport-conformance.js'
import { createMemoryBroker } from './broker.js'
import { createMemoryTransport } from './transport.js'

describe('memory transport conformance', () => {
  for (const c of transportConformanceCases(async () => {
    const broker = createMemoryBroker()
    return { transport: createMemoryTransport({ broker }), second: async () => createMemoryTransport({ broker }) }
  }))
    it(c.name, c.run)
})

describe('memory transport conformance (one handle)', () => {
  for (const c of transportConformanceCases(async () => ({ transport: createMemoryTransport({ broker: createMemoryBroker() }) }))) it(c.name, c.run)
})

/** Lets what the adapter queued run: a few event-loop turns (handlers start on the turn after they are taken). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
}

function envelope(taskId: string, options: { readonly queue?: string; readonly worker?: string; readonly priority?: number } = {}): AttemptEnvelope {
  return {
    request: { runId: 'run', taskId, attempt: 1, attemptId: attemptIdOf('run', taskId, 1), idempotencyKey: `run/${taskId}`, tool: 'noop', input: { taskId }, inputChecked: true, timeoutMs: undefined, priority: options.priority ?? 0 },
    owner: 'owner',
    queue: options.queue ?? 'default',
    ...(options.worker !== undefined ? { worker: options.worker } : {}),
    publishedAt: 0,
  }
}

/** A consumer recording deliveries; `behaviour` settles them (default: ack). */
async function record(transport: Transport, worker: string, behaviour: (d: AttemptDelivery) => Promise<void> = (d) => d.ack(), options: { readonly queues?: readonly string[]; readonly concurrency?: number } = {}): Promise<AttemptDelivery[]> {
  const seen: AttemptDelivery[] = []
  await transport.consume(
    async (d) => {
      seen.push(d)
      await behaviour(d)
    },
    { worker, concurrency: options.concurrency ?? 1, ...(options.queues !== undefined ? { queues: options.queues } : {}) },
  )
  return seen
}

describe('createMemoryTransport: brokers and clocks', () => {
  it('shares the process’s default broker between transports made without one', async () => {
    const a = createMemoryTransport()
    const b = createMemoryTransport()
    try {
      const seen = await record(b, 'shared-worker', undefined, { queues: ['shared-default-broker'] })
      await a.publish([envelope('t', { queue: 'shared-default-broker' })])
      await settle()
      expect(seen).toHaveLength(1)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('gives a transport with its own clock a broker of its own, and refuses a clock other than its broker’s', async () => {
    const clock = new ManualClock()
    const own = createMemoryTransport({ clock })
    const shared = createMemoryTransport()
    try {
      await shared.publish([envelope('t', { queue: 'own-clock' })])
      expect([...(await own.holds([attemptIdOf('run', 't', 1)]))]).toEqual([])
      expect(() => createMemoryTransport({ broker: createMemoryBroker(), clock })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
      const broker = createMemoryBroker({ clock })
      expect(createMemoryTransport({ broker, clock }).type).toBe('memory')
    } finally {
      await own.close()
      await shared.close()
    }
  })
})

describe('createMemoryTransport: delivery', () => {
  it('publishes nothing of a call with an envelope that is not JSON data (TW_TRANSPORT)', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    const bad = { ...envelope('bad'), request: { ...envelope('bad').request, input: { when: new Date(0) } } }
    await expect(transport.publish([envelope('good'), bad])).rejects.toMatchObject({ code: 'TW_TRANSPORT', message: expect.stringContaining('envelope 2 (attempt "run/bad#1") is not JSON data: body.request.input.when is a Date') })
    expect([...(await transport.holds([attemptIdOf('run', 'good', 1)]))]).toEqual([])
    await expect(transport.publish([{ ...envelope('x'), queue: '' }])).rejects.toMatchObject({ code: 'TW_TRANSPORT' })
    await transport.close()
  })

  it('serves higher request priorities first within a queue', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    await transport.publish([envelope('low', { priority: 1 }), envelope('high', { priority: 8 }), envelope('mid', { priority: 5 })])
    const seen = await record(transport, 'w')
    await settle()
    expect(seen.map((d) => d.envelope.request.taskId)).toEqual(['high', 'mid', 'low'])
    await transport.close()
  })

  it('gives back the attempt of a handler that throws after a backoff (100 ms, then 200 ms) on the broker’s clock', async () => {
    const clock = new ManualClock()
    const transport = createMemoryTransport({ clock })
    await transport.publish([envelope('t')])
    const seen = await record(transport, 'w', async () => {
      throw new Error('worker bug')
    })
    await settle()
    clock.advance(99)
    await settle()
    expect(seen).toHaveLength(1)
    clock.advance(1)
    await settle()
    clock.advance(200)
    await settle()
    expect(seen.map((d) => d.deliveries)).toEqual([1, 2, 3])
    await transport.close()
  })

  it('a worker that gives an attempt back at once, again and again, does not starve timers and I/O', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    await transport.publish([envelope('bounced')])
    const seen = await record(transport, 'w', (d) => d.nack())
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(seen.length).toBeGreaterThan(1)
    await transport.close()
  })

  it('close() gives back at once the attempts its consumers hold', async () => {
    const broker = createMemoryBroker()
    const closing = createMemoryTransport({ broker })
    const staying = createMemoryTransport({ broker })
    await closing.publish([envelope('t')])
    await record(closing, 'w1', () => new Promise(() => {}))
    await settle()
    await closing.close()
    const seen = await record(staying, 'w2')
    await settle()
    expect(seen.map((d) => d.deliveries)).toEqual([2])
    await staying.close()
  })

  it('checks the consume options', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    const handler = async (): Promise<void> => {}
    await expect(transport.consume(handler, { worker: '', concurrency: 1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"worker"') })
    await expect(transport.consume(handler, { worker: 'w', queues: [], concurrency: 1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"queues"') })
    await expect(transport.consume(handler, { worker: 'w', concurrency: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"concurrency"') })
    await transport.close()
  })

  it('lists the routes that hold attempts in stats, as queues named worker:<id>', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    await transport.consume(async () => {}, { worker: 'idle', queues: ['elsewhere'], concurrency: 1 })
    await transport.publish([envelope('a', { queue: 'io' }), envelope('b', { queue: 'io', worker: 'w7' })])
    expect((await transport.stats()).queues).toEqual([
      { queue: 'elsewhere', waiting: 0, active: 0, delayed: 0, dead: 0 },
      { queue: 'io', waiting: 1, active: 0, delayed: 0, dead: 0 },
      { queue: 'worker:w7', waiting: 1, active: 0, delayed: 0, dead: 0 },
    ])
    await transport.close()
  })
})

describe('createMemoryTransport: reports, cancels, lifecycle', () => {
  it('keeps delivering reports after a handler threw on one', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    const heard: AttemptReport[] = []
    await transport.receive('o', (r) => {
      heard.push(r)
      if (heard.length === 1) throw new Error('owner bug')
    })
    const report = (message: string): AttemptReport => ({ kind: 'progress', attemptId: 'a', progress: { message } })
    await transport.report('o', report('1'))
    await transport.report('o', report('2'))
    await settle()
    expect(heard).toEqual([report('1'), report('2')])
    await transport.close()
  })

  it('removeOwner ends the owner’s live subscriptions too', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    const heard: AttemptReport[] = []
    await transport.receive('o', (r) => void heard.push(r))
    await transport.removeOwner('o')
    await transport.report('o', { kind: 'progress', attemptId: 'a', progress: {} })
    await settle()
    expect(heard).toEqual([])
    await transport.close()
  })

  it('refuses calls on a closed transport with TW_TRANSPORT', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    await transport.close()
    await expect(transport.publish([envelope('t')])).rejects.toMatchObject({ code: 'TW_TRANSPORT', message: 'memory transport: this transport is closed' })
    await expect(transport.report('o', { kind: 'progress', attemptId: 'a', progress: {} })).rejects.toMatchObject({ code: 'TW_TRANSPORT' })
    await expect(transport.workers()).rejects.toMatchObject({ code: 'TW_TRANSPORT' })
  })

  it('hands each cancel subscriber its own copy of the reason', async () => {
    const transport = createMemoryTransport({ broker: createMemoryBroker() })
    const reasons: object[] = []
    await transport.onCancel((_, reason) => void reasons.push(reason))
    await transport.onCancel((_, reason) => void reasons.push(reason))
    await transport.cancel('a', { name: 'CancelledError', code: 'TW_CANCELLED', message: 'stop', retryable: false })
    await settle()
    expect(reasons).toHaveLength(2)
    expect(reasons[0]).toEqual(reasons[1])
    expect(reasons[0]).not.toBe(reasons[1])
    await transport.close()
  })
})
