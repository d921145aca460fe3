/**
 * The message-queue conformance suite: every guarantee of the `MessageQueue` port
 * (`core/queue.ts`) as a case that throws when an adapter breaks it. The memory, Redis and
 * RabbitMQ adapters run it against their real brokers; a third-party adapter runs it the same
 * way, with any test framework (leave out, by name, a case an adapter cannot pass, saying why):
 *
 * ```ts
 * import { queueConformanceCases } from 'taskweave/testing'
 * for (const c of queueConformanceCases(async (options) => ({ queue: await openMyQueue(options) }))) it(c.name, c.run)
 * ```
 *
 * Each case opens its own queue, named `conf-<random>-<case>`, and destroys it at the end. Time
 * is real (brokers keep their own), so delays are short: the whole suite takes a few seconds, and
 * a case waits at most a few seconds for a delivery or a count the broker reaches
 * asynchronously. Counts are always read from the handle that consumed, so adapters whose
 * `countsScope` is `process` pass as well.
 * @module
 */
import assert from 'node:assert/strict'
import type { Consumer, ConsumeOptions, Delivery, MessageQueue, MessageQueueOptions, QueueStats, RetryPolicy } from '../core/queue.js'
import { Overlap, QUIET_MS, TOLERANCE_MS, WAIT_MS, eventually, gate, rejectsWithCode, sleep, uniquePrefix, waitFor } from './conformance-kit.js'
import type { ConformanceCase } from './conformance-kit.js'

/** A queue under test, opened afresh for one case. */
export interface QueueUnderTest {
  /** A handle on the queue the case named; the case destroys it at the end. */
  readonly queue: MessageQueue
  /** Opens another handle on the same queue, as another process would (omit when the adapter cannot: the case that needs it passes without checking). */
  readonly reopen?: () => Promise<MessageQueue>
  /** Removes what the case left behind; called after the queue was destroyed. */
  readonly cleanup?: () => Promise<void>
}

/** One case of the queue suite. */
export type QueueConformanceCase = ConformanceCase

/** A delivery as a case saw it, with when (epoch ms). */
interface Seen {
  readonly id: string
  readonly body: unknown
  readonly priority: number
  readonly deliveries: number
  readonly enqueuedAt: number
  readonly at: number
}

/** What a case body gets. */
interface QueueCase {
  readonly queue: MessageQueue
  readonly options: MessageQueueOptions
  readonly reopen: (() => Promise<MessageQueue>) | undefined
  /** Starts a consumer on `queue` (default: the case's), closed with no grace at the end of the case. */
  consume(handler: (delivery: Delivery<unknown>) => void | Promise<void>, options?: ConsumeOptions, queue?: MessageQueue): Promise<Consumer>
  /** A consumer that records every delivery, then runs `behaviour` (which settles it, or not). */
  collect(behaviour?: (delivery: Delivery<unknown>) => void | Promise<void>, options?: ConsumeOptions, queue?: MessageQueue): Promise<{ readonly seen: Seen[]; readonly consumer: Consumer }>
  /** Opens the same queue again through the suite's `open` (a fresh handle, destroyed at the end). */
  openAgain(): Promise<MessageQueue>
  /** Tells the wrapper the case destroyed its queue itself. */
  destroyed(): void
}

/** A small fixed backoff, so retries come quickly. */
const FAST_RETRY: RetryPolicy = { maxDeliveries: 3, backoff: { type: 'fixed', delayMs: 50 } }
const BACKOFF_MS = 50
const DELAY_MS = 300
const NACK_DELAY_MS = 200
const PROCESSING_MS = 50
/** Long enough that a message delayed by it stays delayed for the whole case. */
const FAR_MS = 10_000

/** `body.k` of a case's message. */
function keyOf(body: unknown): string {
  return String((body as { k?: unknown } | null)?.k)
}

function nth<T>(list: readonly T[], k: number): T {
  const item = list[k]
  assert.ok(item !== undefined, `expected at least ${k + 1} items, found ${list.length}`)
  return item
}

/** The numeric fields of stats, for exact comparison (meanProcessingMs and countsScope aside). */
function counts(stats: QueueStats): Record<string, number> {
  const { pending, delayed, processing, completed, failed, deadLettered } = stats
  return { pending, delayed, processing, completed, failed, deadLettered }
}

function near(at: number, label: string): void {
  assert.ok(Math.abs(at - Date.now()) < 60_000, `${label} should be an epoch time in ms near now; got ${at}`)
}

/**
 * The cases. `open` is given options whose `name` is unique to the case (and the case's own
 * retry, size or lease options); it opens a handle on that queue on the adapter's broker.
 */
export function queueConformanceCases(open: (options: MessageQueueOptions) => Promise<QueueUnderTest>): QueueConformanceCase[] {
  const cases: QueueConformanceCase[] = []
  const add = (name: string, extra: Omit<MessageQueueOptions, 'name'>, body: (c: QueueCase) => Promise<void>): void => {
    cases.push({
      name,
      run: async () => {
        const options: MessageQueueOptions = { ...extra, name: uniquePrefix('conf', name) }
        const t = await open(options)
        const consumers: Consumer[] = []
        const handles: MessageQueue[] = []
        const opened: QueueUnderTest[] = []
        let destroyed = false
        const consume: QueueCase['consume'] = async (handler, consumeOptions, queue = t.queue) => {
          const consumer = await queue.consume(handler, consumeOptions)
          consumers.push(consumer)
          return consumer
        }
        const c: QueueCase = {
          queue: t.queue,
          options,
          reopen:
            t.reopen === undefined
              ? undefined
              : async () => {
                  const handle = await (t.reopen as () => Promise<MessageQueue>)()
                  handles.push(handle)
                  return handle
                },
          consume,
          collect: async (behaviour, consumeOptions, queue) => {
            const seen: Seen[] = []
            // Not async: a handler that throws synchronously must reach the adapter as such.
            const consumer = await consume(
              (d) => {
                seen.push({ id: d.id, body: d.body, priority: d.priority, deliveries: d.deliveries, enqueuedAt: d.enqueuedAt, at: Date.now() })
                return behaviour?.(d)
              },
              consumeOptions,
              queue,
            )
            return { seen, consumer }
          },
          openAgain: async () => {
            const again = await open(options)
            opened.push(again)
            return again.queue
          },
          destroyed: () => {
            destroyed = true
          },
        }
        try {
          await body(c)
        } finally {
          // Consumers first (no grace: a case's handlers are done or deliberately stuck), then handles.
          for (const consumer of consumers) await consumer.close({ graceMs: 0 })
          for (const handle of handles) await handle.close()
          if (!destroyed) await t.queue.destroy()
          for (const again of opened) {
            await again.queue.destroy()
            await again.cleanup?.()
          }
          await t.cleanup?.()
        }
      },
    })
  }

  add('enqueue and consume: the body arrives as a fresh JSON copy, with its id, priority, deliveries and enqueuedAt', {}, async (c) => {
    const body = { k: 'round trip', text: 'otters ü ✓ "quoted" \\ \n', n: 42.5, ok: true, none: null, list: [1, 'two', { three: 3 }], nested: { deep: { deeper: [] as unknown[] } } }
    const expected: unknown = JSON.parse(JSON.stringify(body))
    const before = Date.now()
    const id = await c.queue.enqueue(body, { priority: 4 })
    assert.equal(typeof id, 'string')
    assert.ok(id.length > 0, 'an id is not empty')
    // The queue holds what was sent, not the sender's object.
    body.list.push('changed after enqueue')
    body.nested.deep.deeper.push(1)
    const { seen } = await c.collect()
    await waitFor('the delivery', () => seen.length === 1)
    const got = nth(seen, 0)
    assert.equal(got.id, id)
    assert.deepEqual(got.body, expected)
    assert.notStrictEqual(got.body, body)
    assert.equal(got.priority, 4)
    assert.equal(got.deliveries, 1)
    near(got.enqueuedAt, 'enqueuedAt')
    assert.ok(got.enqueuedAt >= before - 1000, `enqueuedAt ${got.enqueuedAt} is before the enqueue (${before})`)
  })

  add('ids: unique per message and the same on every delivery; every delivery gets its own copy of the body', { retry: FAST_RETRY }, async (c) => {
    const many = await c.queue.enqueueMany(Array.from({ length: 10 }, (_, k) => ({ body: { k: `m${k}`, tags: ['a'] } })))
    const ids = [...many, await c.queue.enqueue({ k: 'm10', tags: ['a'] }), await c.queue.enqueue({ k: 'm11', tags: ['a'] })]
    assert.equal(many.length, 10)
    assert.equal(new Set(ids).size, 12, 'every message has its own id')
    assert.deepEqual(await c.queue.enqueueMany([]), [])
    const { seen } = await c.collect(
      (d) => {
        if (d.deliveries > 1) return
        ;(d.body as { tags: string[] }).tags.push('changed by delivery 1')
        throw new Error('again, please')
      },
      { concurrency: 4 },
    )
    await waitFor('two deliveries of each of 12 messages', () => seen.length === 24)
    for (const [k, id] of ids.entries()) {
      const of = seen.filter((s) => s.id === id)
      assert.deepEqual(
        of.map((s) => s.deliveries),
        [1, 2],
        `message ${id}`,
      )
      // enqueueMany returns the ids in the order of its messages.
      assert.deepEqual(nth(of, 1).body, { k: `m${k}`, tags: ['a'] })
    }
  })

  add('priority: 9 before 5 before 0, FIFO within a level; other values are rounded and clamped', {}, async (c) => {
    const levels = [0, 5, 9]
    const messages = Array.from({ length: 12 }, (_, k) => ({ body: { k: `m${k}` }, priority: levels[k % 3] as number }))
    await c.queue.enqueueMany(messages.slice(0, 6))
    for (const m of messages.slice(6)) await c.queue.enqueue(m.body, { priority: m.priority })
    await c.queue.enqueue({ k: 'high' }, { priority: 12 })
    await c.queue.enqueue({ k: 'low' }, { priority: -3 })
    await c.queue.enqueue({ k: 'round' }, { priority: 4.6 })
    const { seen } = await c.collect(undefined, { concurrency: 1 })
    await waitFor('15 deliveries', () => seen.length === 15)
    assert.deepEqual(
      seen.map((s) => keyOf(s.body)),
      ['m2', 'm5', 'm8', 'm11', 'high', 'm1', 'm4', 'm7', 'm10', 'round', 'm0', 'm3', 'm6', 'm9', 'low'],
    )
    assert.deepEqual(
      seen.map((s) => s.priority),
      [9, 9, 9, 9, 9, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0],
    )
  })

  add('enqueue refuses an option no queue knows and a priority that is not a number, adding nothing; consume refuses a handler that is not a function', {}, async (c) => {
    await rejectsWithCode(c.queue.enqueue({ k: 'typo' }, { prority: 5 } as never), 'TW_INVALID_OPTION')
    await rejectsWithCode(c.queue.enqueueMany([{ body: { k: 'fine' } }, { body: { k: 'nan' }, priority: Number.NaN }]), 'TW_INVALID_OPTION')
    await rejectsWithCode(c.queue.consume(5 as never), 'TW_INVALID_OPTION')
    const stats = await c.queue.stats()
    assert.equal(stats.pending, 0)
  })

  add('delayMs: a delayed message is not delivered before its delay, and holds up no other', {}, async (c) => {
    const t1 = Date.now()
    await c.queue.enqueue({ k: 'late' }, { delayMs: DELAY_MS })
    await c.queue.enqueue({ k: 'now' })
    const t2 = Date.now()
    await c.queue.enqueueMany([{ body: { k: 'late-many' }, delayMs: DELAY_MS }, { body: { k: 'now-many' } }])
    const { seen } = await c.collect(undefined, { concurrency: 4 })
    await waitFor('4 deliveries', () => seen.length === 4, DELAY_MS + WAIT_MS)
    const keys = seen.map((s) => keyOf(s.body))
    assert.deepEqual(keys.slice(0, 2).sort(), ['now', 'now-many'])
    assert.deepEqual(keys.slice(2).sort(), ['late', 'late-many'])
    for (const s of seen.slice(0, 2)) assert.ok(s.at - t1 < DELAY_MS, `${keyOf(s.body)} was held up by a delayed message (${s.at - t1} ms)`)
    const late = nth(seen.filter((s) => keyOf(s.body) === 'late'), 0)
    const lateMany = nth(seen.filter((s) => keyOf(s.body) === 'late-many'), 0)
    assert.ok(late.at - t1 >= DELAY_MS - TOLERANCE_MS, `delivered ${late.at - t1} ms after enqueue, before its delay of ${DELAY_MS} ms`)
    assert.ok(lateMany.at - t2 >= DELAY_MS - TOLERANCE_MS, `delivered ${lateMany.at - t2} ms after enqueueMany, before its delay of ${DELAY_MS} ms`)
  })

  add('concurrency: a consumer runs at most `concurrency` handlers at once, and that many when there is work', {}, async (c) => {
    await c.queue.enqueueMany(Array.from({ length: 9 }, (_, k) => ({ body: { k: `m${k}` } })))
    const overlap = new Overlap()
    let done = 0
    await c.consume(
      async () => {
        const leave = overlap.enter()
        await sleep(60)
        leave()
        done++
      },
      { concurrency: 3 },
    )
    await waitFor('9 handled', () => done === 9)
    assert.equal(overlap.max, 3)
  })

  add('a handler that returns acknowledges: the message counts as completed and is never delivered again', {}, async (c) => {
    await c.queue.enqueueMany([{ body: { k: 'sync' } }, { body: { k: 'async' } }, { body: { k: 'explicit' } }])
    const { seen } = await c.collect(
      (d) => {
        const k = keyOf(d.body)
        if (k === 'async') return sleep(20)
        if (k === 'explicit') return d.ack()
        return undefined
      },
      { concurrency: 3 },
    )
    await waitFor('3 deliveries', () => seen.length === 3)
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 3, failed: 0, deadLettered: 0 }))
    await sleep(QUIET_MS)
    assert.equal(seen.length, 3, 'an acknowledged message was delivered again')
  })

  add('a handler that throws: delivered again after the backoff with deliveries 2, dead-lettered after maxDeliveries with the error message', { retry: FAST_RETRY }, async (c) => {
    const [syncId, asyncId] = await c.queue.enqueueMany([{ body: { k: 'sync' } }, { body: { k: 'async' } }])
    const { seen } = await c.collect(
      (d) => {
        const k = keyOf(d.body)
        if (k === 'sync') throw new Error(`sync boom #${d.deliveries}`)
        return Promise.reject(new Error(`async boom #${d.deliveries}`))
      },
      { concurrency: 2 },
    )
    await eventually(async () => assert.equal((await c.queue.deadLetters.list()).length, 2), 2 * BACKOFF_MS + WAIT_MS)
    const dead = await c.queue.deadLetters.list()
    for (const [id, k] of [
      [syncId, 'sync'],
      [asyncId, 'async'],
    ] as const) {
      const of = seen.filter((s) => s.id === id)
      assert.deepEqual(
        of.map((s) => s.deliveries),
        [1, 2, 3],
        `deliveries of the ${k} message`,
      )
      for (let n = 1; n < of.length; n++) {
        const gap = nth(of, n).at - nth(of, n - 1).at
        assert.ok(gap >= BACKOFF_MS - TOLERANCE_MS, `the ${k} message came back after ${gap} ms, before its backoff of ${BACKOFF_MS} ms`)
      }
      const letter = dead.find((d) => d.id === id)
      assert.ok(letter, `the ${k} message is a dead letter`)
      assert.equal(letter.reason, `${k} boom #3`)
      assert.equal(letter.deliveries, 3)
      assert.deepEqual(letter.body, { k })
      assert.equal(letter.priority, 0)
      near(letter.enqueuedAt, 'enqueuedAt')
      near(letter.deadLetteredAt, 'deadLetteredAt')
      assert.ok(letter.deadLetteredAt >= letter.enqueuedAt, 'dead-lettered after it was enqueued')
    }
    await sleep(QUIET_MS)
    assert.equal(seen.length, 6, 'a dead-lettered message was delivered again')
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 0, failed: 6, deadLettered: 2 }))
  })

  add('nack({ delayMs }) holds the message that long; a nack on the last allowed delivery dead-letters it with its reason', { retry: { maxDeliveries: 2, backoff: { type: 'fixed', delayMs: FAR_MS } } }, async (c) => {
    const id = await c.queue.enqueue({ k: 'nacked' })
    const { seen } = await c.collect(async (d) => {
      if (d.deliveries === 1) await d.nack({ delayMs: NACK_DELAY_MS, reason: 'not yet' })
      else await d.nack({ reason: 'still not' })
    })
    // The queue's backoff (10 s) would time this out: the nack's own delay is what counts.
    await eventually(async () => assert.equal((await c.queue.deadLetters.list()).length, 1), NACK_DELAY_MS + WAIT_MS)
    assert.deepEqual(
      seen.map((s) => [s.id, s.deliveries]),
      [
        [id, 1],
        [id, 2],
      ],
    )
    const gap = nth(seen, 1).at - nth(seen, 0).at
    assert.ok(gap >= NACK_DELAY_MS - TOLERANCE_MS, `delivered again ${gap} ms after nack({ delayMs: ${NACK_DELAY_MS} })`)
    const letter = nth(await c.queue.deadLetters.list(), 0)
    assert.equal(letter.id, id)
    assert.equal(letter.reason, 'still not')
    assert.equal(letter.deliveries, 2)
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 0, failed: 2, deadLettered: 1 }))
  })

  add('deadLetter(reason) moves the message to the dead letters at once, whatever deliveries it has left', { retry: { maxDeliveries: 5 } }, async (c) => {
    const id = await c.queue.enqueue({ k: 'poison' }, { priority: 7 })
    const { seen } = await c.collect((d) => d.deadLetter('poison: cannot parse'))
    await eventually(async () => assert.equal((await c.queue.deadLetters.list()).length, 1))
    const letter = nth(await c.queue.deadLetters.list(), 0)
    assert.equal(letter.id, id)
    assert.equal(letter.reason, 'poison: cannot parse')
    assert.equal(letter.deliveries, 1)
    assert.equal(letter.priority, 7)
    assert.deepEqual(letter.body, { k: 'poison' })
    await sleep(QUIET_MS)
    assert.equal(seen.length, 1, 'a dead-lettered message was delivered again')
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 0, failed: 1, deadLettered: 1 }))
  })

  add('dead letters: listed oldest first up to a limit, requeued with deliveries reset to 1, purged', {}, async (c) => {
    const a = await c.queue.enqueue({ k: 'a' })
    const b = await c.queue.enqueue({ k: 'b' })
    const cc = await c.queue.enqueue({ k: 'c' })
    const buried = new Set<string>()
    // First delivery of a message: dead-letter it; once requeued: acknowledge it.
    const { seen } = await c.collect(async (d) => {
      if (buried.has(d.id)) return
      buried.add(d.id)
      await d.deadLetter(`reason ${keyOf(d.body)}`)
    })
    await eventually(async () => assert.equal((await c.queue.deadLetters.list()).length, 3))
    const listed = await c.queue.deadLetters.list()
    assert.deepEqual(
      listed.map((l) => [l.id, l.reason]),
      [
        [a, 'reason a'],
        [b, 'reason b'],
        [cc, 'reason c'],
      ],
    )
    assert.deepEqual(
      (await c.queue.deadLetters.list({ limit: 2 })).map((l) => l.id),
      [a, b],
    )
    assert.deepEqual(await c.queue.deadLetters.requeue([b, 'no-such-id']), [b])
    await waitFor('the requeued message', () => seen.filter((s) => s.id === b).length === 2)
    const again = nth(
      seen.filter((s) => s.id === b),
      1,
    )
    assert.equal(again.deliveries, 1, 'a requeued message starts again at delivery 1')
    assert.deepEqual(again.body, { k: 'b' })
    assert.deepEqual(
      (await c.queue.deadLetters.list()).map((l) => l.id),
      [a, cc],
    )
    assert.deepEqual([...(await c.queue.deadLetters.requeue())].sort(), [a, cc].sort())
    await waitFor('both requeued messages', () => seen.length === 6)
    for (const s of seen.slice(3)) assert.equal(s.deliveries, 1)
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 3, failed: 3, deadLettered: 0 }))
    await c.queue.enqueueMany([{ body: { k: 'd' } }, { body: { k: 'e' } }])
    await eventually(async () => assert.equal((await c.queue.deadLetters.list()).length, 2))
    assert.equal(await c.queue.deadLetters.purge(), 2)
    assert.deepEqual(await c.queue.deadLetters.list(), [])
    assert.deepEqual(await c.queue.deadLetters.requeue(), [])
    assert.equal((await c.queue.stats()).deadLettered, 0)
  })

  add('maxSize: enqueue up to it works, one more is refused with TW_QUEUE_FULL, an enqueueMany past it adds nothing', { maxSize: 3 }, async (c) => {
    await c.queue.enqueue({ k: 'a' })
    await c.queue.enqueue({ k: 'b' })
    await rejectsWithCode(c.queue.enqueueMany([{ body: { k: 'refused 1' } }, { body: { k: 'refused 2' } }]), 'TW_QUEUE_FULL')
    assert.equal((await c.queue.stats()).pending, 2, 'a refused enqueueMany added nothing')
    await c.queue.enqueue({ k: 'c' })
    await rejectsWithCode(c.queue.enqueue({ k: 'refused 3' }), 'TW_QUEUE_FULL')
    await rejectsWithCode(c.queue.enqueueMany([{ body: { k: 'refused 4' } }]), 'TW_QUEUE_FULL')
    assert.equal((await c.queue.stats()).pending, 3)
    const { seen, consumer } = await c.collect()
    await waitFor('3 deliveries', () => seen.length === 3)
    await consumer.close({ graceMs: WAIT_MS })
    assert.deepEqual(
      seen.map((s) => keyOf(s.body)),
      ['a', 'b', 'c'],
    )
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 3, failed: 0, deadLettered: 0 }))
    // Consumed: there is room again.
    assert.equal((await c.queue.enqueueMany([{ body: { k: 'x' } }, { body: { k: 'y' } }, { body: { k: 'z' } }])).length, 3)
    await rejectsWithCode(c.queue.enqueue({ k: 'refused 5' }), 'TW_QUEUE_FULL')
  })

  add('stats: pending, delayed, processing, completed, failed, deadLettered, meanProcessingMs and countsScope', {}, async (c) => {
    const empty = await c.queue.stats()
    assert.deepEqual(counts(empty), { pending: 0, delayed: 0, processing: 0, completed: 0, failed: 0, deadLettered: 0 })
    assert.equal(empty.meanProcessingMs, 0)
    assert.ok(empty.countsScope === 'queue' || empty.countsScope === 'process', `countsScope is "queue" or "process", not ${String(empty.countsScope)}`)
    await c.queue.enqueue({ k: 'hold' }, { priority: 9 })
    await c.queue.enqueue({ k: 'dead' }, { priority: 5 })
    await c.queue.enqueue({ k: 'slow' }, { priority: 0 })
    await c.queue.enqueue({ k: 'later' }, { delayMs: FAR_MS })
    const held = gate()
    let holding = false
    await c.collect(async (d) => {
      const k = keyOf(d.body)
      if (k === 'hold') {
        holding = true
        await held.promise
        await sleep(PROCESSING_MS)
      } else if (k === 'dead') await d.deadLetter('bad')
      else await sleep(PROCESSING_MS)
    })
    await waitFor('the first delivery', () => holding)
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 2, delayed: 1, processing: 1, completed: 0, failed: 0, deadLettered: 0 }))
    held.open()
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 1, processing: 0, completed: 2, failed: 1, deadLettered: 1 }))
    const { meanProcessingMs, countsScope } = await c.queue.stats()
    assert.ok(meanProcessingMs >= PROCESSING_MS - TOLERANCE_MS && meanProcessingMs < WAIT_MS, `meanProcessingMs ${meanProcessingMs}: both handlers took ${PROCESSING_MS} ms or more`)
    assert.equal(countsScope, empty.countsScope)
  })

  add('purge removes the waiting and delayed messages, not those being processed nor the dead letters', {}, async (c) => {
    await c.queue.enqueue({ k: 'dead' }, { priority: 9 })
    await c.queue.enqueue({ k: 'hold' }, { priority: 5 })
    const held = gate()
    let holding = false
    const { seen } = await c.collect(async (d) => {
      if (keyOf(d.body) === 'dead') return d.deadLetter('x')
      holding = true
      await held.promise
    })
    await waitFor('the held delivery', () => holding)
    await c.queue.enqueueMany([{ body: { k: 'w1' } }, { body: { k: 'w2' } }, { body: { k: 'w3' } }])
    await c.queue.enqueue({ k: 'delayed' }, { delayMs: FAR_MS })
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 3, delayed: 1, processing: 1, completed: 0, failed: 1, deadLettered: 1 }))
    assert.equal(await c.queue.purge(), 4)
    assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 1, completed: 0, failed: 1, deadLettered: 1 })
    held.open()
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 1, failed: 1, deadLettered: 1 }))
    await sleep(QUIET_MS)
    assert.deepEqual(
      seen.map((s) => keyOf(s.body)),
      ['dead', 'hold'],
    )
  })

  add('Consumer.close waits up to graceMs for the running handlers, which settle as usual; then it takes nothing more', {}, async (c) => {
    await c.queue.enqueueMany([{ body: { k: 'a' } }, { body: { k: 'b' } }])
    let started = 0
    let finished = 0
    const consumer = await c.consume(
      async () => {
        started++
        await sleep(150)
        finished++
      },
      { concurrency: 2 },
    )
    await waitFor('both handlers running', () => started === 2)
    await consumer.close({ graceMs: WAIT_MS })
    assert.equal(finished, 2, 'close() resolved before the running handlers finished')
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 2, failed: 0, deadLettered: 0 }))
    await c.queue.enqueue({ k: 'after close' })
    await sleep(QUIET_MS)
    assert.equal(started, 2, 'a closed consumer took a message')
    assert.equal((await c.queue.stats()).pending, 1)
  })

  add('a delivery still unsettled when the grace ends goes back to the queue: the next consumer gets it with deliveries 2', { leaseMs: 1000 }, async (c) => {
    const id = await c.queue.enqueue({ k: 'stuck' })
    const stuck = gate()
    let started = false
    const first = await c.consume(async () => {
      started = true
      await stuck.promise
    })
    await waitFor('the first delivery', () => started)
    const t0 = Date.now()
    await first.close({ graceMs: 100 })
    const took = Date.now() - t0
    assert.ok(took >= 100 - TOLERANCE_MS && took < 100 + WAIT_MS, `close({ graceMs: 100 }) took ${took} ms`)
    const { seen } = await c.collect()
    await waitFor('the delivery given back', () => seen.length === 1, 1000 + WAIT_MS)
    const again = nth(seen, 0)
    assert.equal(again.id, id)
    assert.equal(again.deliveries, 2)
    assert.deepEqual(again.body, { k: 'stuck' })
    await eventually(async () => assert.equal((await c.queue.stats()).completed, 1))
    // The first handler returns only now, without its lease: that changes nothing.
    stuck.open()
    await sleep(QUIET_MS)
    assert.equal(seen.length, 1)
    assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 1, failed: 0, deadLettered: 0 })
  })

  add('aborting the signal given to consume closes the consumer', {}, async (c) => {
    const controller = new AbortController()
    const { seen } = await c.collect(undefined, { signal: controller.signal })
    await c.queue.enqueue({ k: 'before' })
    await waitFor('the first delivery', () => seen.length === 1)
    controller.abort()
    await sleep(QUIET_MS)
    await c.queue.enqueue({ k: 'after' })
    await sleep(QUIET_MS)
    assert.equal(seen.length, 1, 'an aborted consumer took a message')
    await eventually(async () => assert.equal((await c.queue.stats()).pending, 1))
  })

  add('a second handle on the same name is the same queue; closing it leaves the queue', {}, async (c) => {
    if (c.reopen === undefined) return
    const other = await c.reopen()
    const id = await c.queue.enqueue({ k: 'from the first handle' })
    await eventually(async () => assert.equal((await other.stats()).pending, 1))
    const { seen } = await c.collect((d) => (keyOf(d.body) === 'to bury' ? d.deadLetter('buried through the second handle') : undefined), {}, other)
    await waitFor('the delivery on the second handle', () => seen.length === 1)
    assert.equal(nth(seen, 0).id, id)
    await other.enqueue({ k: 'to bury' })
    await eventually(async () => {
      const letters = await c.queue.deadLetters.list()
      assert.deepEqual(
        letters.map((l) => [l.reason, l.body]),
        [['buried through the second handle', { k: 'to bury' }]],
      )
    })
    await other.close()
    await c.queue.enqueue({ k: 'after the second handle closed' })
    await sleep(QUIET_MS)
    assert.equal(seen.length, 2, "a closed handle's consumer took a message")
    await eventually(async () => assert.equal((await c.queue.stats()).pending, 1))
  })

  add('destroy removes the queue with its messages, dead letters and counts', {}, async (c) => {
    await c.queue.enqueue({ k: 'dead' }, { priority: 9 })
    await c.queue.enqueue({ k: 'done' }, { priority: 5 })
    const { consumer } = await c.collect((d) => (keyOf(d.body) === 'dead' ? d.deadLetter('x') : undefined))
    await eventually(async () => assert.deepEqual(counts(await c.queue.stats()), { pending: 0, delayed: 0, processing: 0, completed: 1, failed: 1, deadLettered: 1 }))
    await consumer.close({ graceMs: WAIT_MS })
    await c.queue.enqueue({ k: 'waiting' })
    await c.queue.enqueue({ k: 'delayed' }, { delayMs: NACK_DELAY_MS })
    await c.queue.destroy()
    c.destroyed()
    const fresh = await c.openAgain()
    const stats = await fresh.stats()
    assert.deepEqual(counts(stats), { pending: 0, delayed: 0, processing: 0, completed: 0, failed: 0, deadLettered: 0 })
    assert.equal(stats.meanProcessingMs, 0)
    assert.deepEqual(await fresh.deadLetters.list(), [])
    const { seen } = await c.collect(undefined, {}, fresh)
    await sleep(NACK_DELAY_MS + QUIET_MS)
    assert.deepEqual(seen, [], 'a message of the destroyed queue was delivered')
  })

  return cases
}
