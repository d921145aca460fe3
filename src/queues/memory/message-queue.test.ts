import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { Delivery, MessageQueue } from '../../core/queue.js'
import { ManualClock } from '../../testing/manual-clock.js'
import { queueConformanceCases } from '../../testing/queue-conformance.js'
import { createMemoryQueue } from './message-queue.js'
import type { MemoryQueueOptions } from './message-queue.js'

describe('memory queue conformance', () => {
  for (const c of queueConformanceCases(async (options) => ({ queue: createMemoryQueue(options), reopen: async () => createMemoryQueue(options) }))) it(c.name, c.run)
})

const opened: MessageQueue<never>[] = []
afterEach(async () => {
  for (const queue of opened.splice(0)) await queue.destroy()
})

/** A queue with a unique name, destroyed after the test. */
function open<T>(options: Partial<MemoryQueueOptions> = {}): MessageQueue<T> {
  const queue = createMemoryQueue<T>({ name: `mem-${randomBytes(4).toString('hex')}`, ...options })
  opened.push(queue as MessageQueue<never>)
  return queue
}

/** Lets what the adapter queued run: a few event-loop turns (handlers start on the turn after they are taken). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
}

/** A consumer that records deliveries and leaves settling to `behaviour` (default: return, so ack). */
async function record<T>(queue: MessageQueue<T>, behaviour: (d: Delivery<T>) => void | Promise<void> = () => {}): Promise<Delivery<T>[]> {
  const seen: Delivery<T>[] = []
  await queue.consume((d) => {
    seen.push(d)
    return behaviour(d)
  })
  return seen
}

describe('createMemoryQueue: bodies', () => {
  it.each([
    ['a function', { k: 'x', fn: () => 1 }, 'body.fn is a function, not JSON data'],
    ['NaN', { n: NaN }, 'body.n is NaN, which JSON turns into null'],
    ['undefined in an array', { list: [1, undefined] }, 'body.list[1] is undefined, which JSON turns into null'],
    ['a Date', { when: new Date(0) }, 'body.when is a Date, not a plain object'],
    ['a Map', { m: new Map() }, 'body.m is a Map, not a plain object'],
    ['a symbol', { s: Symbol('s') }, 'body.s is a symbol, not JSON data'],
    ['undefined', undefined, 'it is undefined, not JSON data'],
  ])('refuses %s with TW_QUEUE naming the queue and where the value is', async (_, body, problem) => {
    const queue = open<unknown>()
    await expect(queue.enqueue(body)).rejects.toMatchObject({ code: 'TW_QUEUE', message: `queue "${queue.name}": the body of message 1 of 1 is not JSON data: ${problem}` })
  })

  it('refuses a cycle and a BigInt as bodies JSON cannot write', async () => {
    const queue = open<unknown>()
    const cycle: Record<string, unknown> = {}
    cycle['self'] = cycle
    await expect(queue.enqueue(cycle)).rejects.toMatchObject({ code: 'TW_QUEUE', message: expect.stringContaining('cannot be written as JSON') })
    await expect(queue.enqueue({ big: 1n })).rejects.toMatchObject({ code: 'TW_QUEUE', message: expect.stringContaining('cannot be written as JSON') })
  })

  it('accepts undefined object properties (left out) and shared sub-objects, and an enqueueMany with one bad body adds nothing', async () => {
    const queue = open<unknown>()
    const shared = { x: 1 }
    await queue.enqueue({ a: undefined, left: shared, right: shared })
    await expect(queue.enqueueMany([{ body: { ok: 1 } }, { body: { bad: () => 0 } }])).rejects.toMatchObject({ code: 'TW_QUEUE', message: expect.stringContaining('message 2 of 2') })
    expect((await queue.stats()).pending).toBe(1)
    const seen = await record(queue)
    await settle()
    expect(seen.map((d) => d.body)).toEqual([{ left: { x: 1 }, right: { x: 1 } }])
  })

  it('keeps a dead letter’s body safe from what a handler did to its copy', async () => {
    const queue = open<{ list: number[] }>()
    await queue.enqueue({ list: [1] })
    await record(queue, (d) => {
      d.body.list.push(2)
      return d.deadLetter('bad')
    })
    await settle()
    expect((await queue.deadLetters.list())[0]?.body).toEqual({ list: [1] })
  })
})

describe('createMemoryQueue: options', () => {
  it.each([
    [{ name: 'has space' }, 'name'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ maxSize: 0 }, 'maxSize'],
    [{ maxSize: 1.5 }, 'maxSize'],
    [{ retry: { maxDeliveries: 0 } }, 'retry.maxDeliveries'],
    [{ retry: { backoff: { type: 'linear' as 'fixed' } } }, 'retry.backoff.type'],
    [{ retry: { backoff: { delayMs: -1 } } }, 'retry.backoff.delayMs'],
    [{ leaseMs: 0 }, 'leaseMs'],
  ])('refuses %j with TW_INVALID_OPTION naming %s', (options, option) => {
    expect(() => createMemoryQueue({ name: 'ok', ...options })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining(`option "${option}"`) }))
  })

  it('refuses a negative delay, a bad concurrency and a bad list limit', async () => {
    const queue = open()
    await expect(queue.enqueue({}, { delayMs: -5 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"delayMs"') })
    await expect(queue.consume(() => {}, { concurrency: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"concurrency"') })
    await expect(queue.deadLetters.list({ limit: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
  })

  it('refuses a second handle on another clock: a queue runs on one clock', () => {
    const queue = open({ clock: new ManualClock() })
    expect(() => createMemoryQueue({ name: queue.name, clock: new ManualClock() })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
  })
})

describe('createMemoryQueue: time on the injected clock', () => {
  it('delivers a delayed message when the clock reaches its delay, not before', async () => {
    const clock = new ManualClock()
    const queue = open({ clock })
    await queue.enqueue({ k: 'later' }, { delayMs: 60_000 })
    const seen = await record(queue)
    clock.advance(59_999)
    await settle()
    expect(seen).toHaveLength(0)
    expect((await queue.stats()).delayed).toBe(1)
    clock.advance(1)
    await settle()
    expect(seen).toHaveLength(1)
  })

  it('retries a throwing handler after the exponential backoff (1 s, then 2 s by default), then dead-letters', async () => {
    const clock = new ManualClock()
    const queue = open({ clock, retry: { maxDeliveries: 3 } })
    await queue.enqueue({ k: 'x' })
    const seen = await record(queue, () => {
      throw 'not an Error'
    })
    await settle()
    expect(seen).toHaveLength(1)
    clock.advance(999)
    await settle()
    expect(seen).toHaveLength(1)
    clock.advance(1)
    await settle()
    expect(seen.map((d) => d.deliveries)).toEqual([1, 2])
    clock.advance(1999)
    await settle()
    expect(seen).toHaveLength(2)
    clock.advance(1)
    await settle()
    expect(seen).toHaveLength(3)
    expect(await queue.deadLetters.list()).toMatchObject([{ reason: 'not an Error', deliveries: 3 }])
  })

  it('measures processing time on the clock', async () => {
    const clock = new ManualClock()
    const queue = open({ clock })
    await queue.enqueue({})
    await queue.enqueue({})
    const seen = await record(queue, () => new Promise<void>((resolve) => clock.setTimer(400, resolve)))
    await settle()
    clock.advance(400)
    await settle()
    clock.advance(400)
    await settle()
    expect(seen).toHaveLength(2)
    expect(await queue.stats()).toMatchObject({ completed: 2, meanProcessingMs: 400 })
  })
})

describe('createMemoryQueue: settling', () => {
  it('keeps the first settlement of a delivery and ignores the ones after it', async () => {
    const queue = open({ retry: { backoff: { type: 'fixed', delayMs: 0 } } })
    await queue.enqueue({})
    const seen = await record(queue, async (d) => {
      await d.ack()
      await d.nack()
      await d.deadLetter('too late')
    })
    await settle()
    expect(seen).toHaveLength(1)
    expect(await queue.stats()).toMatchObject({ completed: 1, failed: 0, deadLettered: 0, pending: 0 })
  })

  it('ignores a settle on a delivery given back when its consumer closed, even after the message was delivered again', async () => {
    const queue = open()
    await queue.enqueue({})
    let stale: Delivery<unknown> | undefined
    const first = await queue.consume(async (d) => {
      stale = d
      await new Promise(() => {}) // never settles
    })
    await settle()
    await first.close({ graceMs: 0 })
    const held: Delivery<unknown>[] = []
    await queue.consume((d) => {
      held.push(d)
      return new Promise(() => {}) // holds the second delivery
    })
    await settle()
    expect(held.map((d) => d.deliveries)).toEqual([2])
    await stale?.ack()
    await stale?.deadLetter('stale')
    expect(await queue.stats()).toMatchObject({ processing: 1, completed: 0, deadLettered: 0 })
  })

  it('dead-letters, without counting a failure, a delivery given back after its last allowed delivery', async () => {
    const queue = open({ retry: { maxDeliveries: 1 } })
    await queue.enqueue({ k: 'x' })
    const consumer = await queue.consume(() => new Promise(() => {}))
    await settle()
    await consumer.close({ graceMs: 0 })
    expect(await queue.stats()).toMatchObject({ processing: 0, pending: 0, failed: 0, deadLettered: 1 })
    expect((await queue.deadLetters.list())[0]?.reason).toBe('delivery 1, the last one allowed, was not settled before its consumer closed')
  })

  it('uses the retry policy of the handle that consumes', async () => {
    const name = `mem-${randomBytes(4).toString('hex')}`
    const strict = open({ name, retry: { maxDeliveries: 1 } })
    const lenient = createMemoryQueue({ name, retry: { maxDeliveries: 9, backoff: { delayMs: 60_000 } } })
    await strict.enqueue({})
    await record(lenient, () => Promise.reject(new Error('once')))
    await settle()
    expect(await strict.stats()).toMatchObject({ delayed: 1, deadLettered: 0 })
    await lenient.close()
  })
})

describe('createMemoryQueue: handles', () => {
  it('close() closes the handle’s consumers and refuses later calls with TW_QUEUE; the queue stays for other handles', async () => {
    const queue = open()
    const other = createMemoryQueue({ name: queue.name })
    const seen = await record(other)
    await other.close()
    await expect(other.enqueue({})).rejects.toMatchObject({ code: 'TW_QUEUE', message: `queue "${queue.name}": this handle is closed` })
    await expect(other.stats()).rejects.toMatchObject({ code: 'TW_QUEUE' })
    await queue.enqueue({})
    await settle()
    expect(seen).toHaveLength(0)
    expect((await queue.stats()).pending).toBe(1)
    await other.destroy() // allowed on a closed handle: removes the queue
    expect((await queue.stats()).pending).toBe(0)
  })

  it('destroy() through one handle closes the consumers of every handle; the others start on an empty queue', async () => {
    const queue = open()
    const other = open({ name: queue.name })
    const seen = await record(other)
    await queue.enqueue({ k: 'old' }, { delayMs: 60_000 })
    await queue.destroy()
    await other.enqueue({ k: 'new' })
    await settle()
    expect(seen).toHaveLength(0)
    expect(await other.stats()).toMatchObject({ pending: 1, delayed: 0 })
  })

  it('a consumer whose signal is already aborted takes nothing', async () => {
    const queue = open()
    await queue.enqueue({})
    const seen: unknown[] = []
    await queue.consume((d) => void seen.push(d), { signal: AbortSignal.abort() })
    await settle()
    expect(seen).toHaveLength(0)
    expect((await queue.stats()).pending).toBe(1)
  })

  it('gives ids that differ after a queue is destroyed and created again', async () => {
    const queue = open()
    const before = await queue.enqueue({})
    await queue.destroy()
    const again = open({ name: queue.name })
    expect(await again.enqueue({})).not.toBe(before)
  })
})
