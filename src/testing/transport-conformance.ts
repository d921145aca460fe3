/**
 * The transport conformance suite: every guarantee of the `Transport` port
 * (`core/transport.ts`) as a case that throws when an adapter breaks it. The memory, Redis and
 * RabbitMQ transports run it against their real brokers; a third party's runs it the same way,
 * with any test framework (leave out, by name, a case an adapter cannot pass, saying why):
 *
 * ```ts
 * import { transportConformanceCases } from 'taskweave/testing'
 * for (const c of transportConformanceCases(async () => ({ transport: await openMine(), second: openMine }))) it(c.name, c.run)
 * ```
 *
 * Queue names, owners, workers and attempt ids are unique to each run of each case, so cases can
 * share a broker with each other and with other test runs; cancels are broadcast, so a case only
 * counts the cancels of its own attempts. Where the adapter gives a `second` handle, the cases
 * publish and report from it and consume and receive on the first, as owner and worker
 * processes would.
 * @module
 */
import assert from 'node:assert/strict'
import { attemptIdOf } from '../core/attempt.js'
import type { SerializedError } from '../core/errors.js'
import type { AttemptDelivery, AttemptEnvelope, AttemptReport, Transport, TransportConsumeOptions, TransportSubscription, WorkerInfo } from '../core/transport.js'
import { Overlap, QUIET_MS, TOLERANCE_MS, WAIT_MS, eventually, gate, sleep, uniquePrefix, waitFor } from './conformance-kit.js'
import type { ConformanceCase } from './conformance-kit.js'

/** A transport under test, opened afresh for one case. */
export interface TransportUnderTest {
  readonly transport: Transport
  /** Another handle on the same broker, as another process would have (omit when there is none; the cases then use `transport` for both sides). */
  readonly second?: () => Promise<Transport>
  /** Removes what the case left behind; called after every handle was closed. */
  readonly cleanup?: () => Promise<void>
}

/** One case of the transport suite. */
export type TransportConformanceCase = ConformanceCase

const NACK_DELAY_MS = 200
const FAR_MS = 10_000

/** What a case body gets. */
interface TransportCase {
  readonly transport: Transport
  /** The second handle when the adapter has one, else `transport`. */
  readonly other: Transport
  /** Whether `other` is a second handle. */
  readonly hasSecond: boolean
  /** Closes `transport` (twice, to check close is idempotent), telling the wrapper not to use it for clean-up. */
  closeTransport(): Promise<void>
  /** `<case prefix>-<suffix>`: a queue, owner or worker name of this case. */
  name(suffix: string): string
  /** An envelope for attempt 1 of task `taskId` of this case's run. */
  envelope(taskId: string, options: { readonly queue: string; readonly owner?: string; readonly worker?: string; readonly priority?: number }): AttemptEnvelope
  /** Starts a consumer on `transport` (default the first), closed with no grace at the end of the case. */
  consume(handler: (delivery: AttemptDelivery) => Promise<void>, options: TransportConsumeOptions, transport?: Transport): Promise<TransportSubscription>
  /** A consumer that records every delivery, then runs `behaviour` (default: ack). */
  collect(options: TransportConsumeOptions, behaviour?: (delivery: AttemptDelivery) => Promise<void>, transport?: Transport): Promise<Received[]>
  /** Listens for `owner`'s reports on `transport` (default the first). */
  receive(owner: string, transport?: Transport): Promise<{ readonly reports: AttemptReport[]; readonly subscription: TransportSubscription }>
}

/** A delivery as a case saw it. */
interface Received {
  readonly envelope: AttemptEnvelope
  readonly deliveries: number
  readonly at: number
}

function idsOf(list: readonly Received[]): string[] {
  return list.map((r) => r.envelope.request.attemptId).sort()
}

function nth<T>(list: readonly T[], k: number): T {
  const item = list[k]
  assert.ok(item !== undefined, `expected at least ${k + 1} items, found ${list.length}`)
  return item
}

/** A reason to cancel, as the owner sends it. */
function cancelReason(message: string): SerializedError {
  return { name: 'CancelledError', code: 'TW_CANCELLED', message, retryable: false, details: { by: 'conformance' } }
}

/** The cases, each opening its transport with `open` and closing every handle at the end. */
export function transportConformanceCases(open: () => Promise<TransportUnderTest>): TransportConformanceCase[] {
  const cases: TransportConformanceCase[] = []
  const add = (name: string, body: (c: TransportCase) => Promise<void>): void => {
    cases.push({
      name,
      run: async () => {
        const prefix = uniquePrefix('tc', name)
        const t = await open()
        const other = t.second !== undefined ? await t.second() : t.transport
        const subscriptions: TransportSubscription[] = []
        const owners = new Set<string>()
        let closed = false
        const consume: TransportCase['consume'] = async (handler, options, transport = t.transport) => {
          const subscription = await transport.consume(handler, options)
          subscriptions.push(subscription)
          return subscription
        }
        const c: TransportCase = {
          transport: t.transport,
          other,
          hasSecond: other !== t.transport,
          closeTransport: async () => {
            closed = true
            await t.transport.close()
            await t.transport.close()
          },
          name: (suffix) => `${prefix}-${suffix}`,
          envelope: (taskId, options) => {
            const runId = `${prefix}-run`
            const owner = options.owner ?? `${prefix}-owner`
            owners.add(owner)
            return {
              request: {
                runId,
                taskId,
                attempt: 1,
                attemptId: attemptIdOf(runId, taskId, 1),
                idempotencyKey: `${runId}/${taskId}`,
                tool: 'http.fetch',
                input: { url: `https://example.com/${taskId}?q=ü`, headers: { accept: 'text/html' }, retries: [1, 2] },
                inputChecked: true,
                timeoutMs: 30_000,
                priority: options.priority ?? 0,
              },
              owner,
              queue: options.queue,
              ...(options.worker !== undefined ? { worker: options.worker } : {}),
              publishedAt: Date.now(),
              traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            }
          },
          consume,
          collect: async (options, behaviour = (d) => d.ack(), transport) => {
            const received: Received[] = []
            await consume(
              async (d) => {
                received.push({ envelope: d.envelope, deliveries: d.deliveries, at: Date.now() })
                await behaviour(d)
              },
              options,
              transport,
            )
            return received
          },
          receive: async (owner, transport = t.transport) => {
            owners.add(owner)
            const reports: AttemptReport[] = []
            const subscription = await transport.receive(owner, (r) => reports.push(r))
            subscriptions.push(subscription)
            return { reports, subscription }
          },
        }
        try {
          await body(c)
        } finally {
          for (const subscription of subscriptions) await subscription.close({ graceMs: 0 })
          const open = !closed ? t.transport : other !== t.transport ? other : undefined
          for (const owner of owners) await open?.removeOwner(owner)
          if (other !== t.transport) await other.close()
          await t.transport.close()
          await t.cleanup?.()
        }
      },
    })
  }

  add('publish and consume: a worker gets the attempts of its queues, as published, and none of other queues', async (c) => {
    const io = c.name('io')
    const cpu = c.name('cpu')
    const ioEnvelopes = [c.envelope('fetch-a', { queue: io }), c.envelope('fetch-b', { queue: io })]
    const cpuEnvelopes = [c.envelope('parse-a', { queue: cpu }), c.envelope('parse-b', { queue: cpu })]
    await c.other.publish([ioEnvelopes[0] as AttemptEnvelope, cpuEnvelopes[0] as AttemptEnvelope, ioEnvelopes[1] as AttemptEnvelope, cpuEnvelopes[1] as AttemptEnvelope])
    const ioWorker = await c.collect({ worker: c.name('w-io'), queues: [io], concurrency: 4 })
    await waitFor('the io attempts', () => ioWorker.length === 2)
    await sleep(QUIET_MS)
    assert.equal(ioWorker.length, 2, 'a worker of queue io got an attempt of another queue')
    const byId = (list: readonly AttemptEnvelope[]): AttemptEnvelope[] => [...list].sort((x, y) => x.request.attemptId.localeCompare(y.request.attemptId))
    assert.deepEqual(
      byId(ioWorker.map((r) => r.envelope)),
      byId(ioEnvelopes),
    )
    for (const r of ioWorker) assert.equal(r.deliveries, 1)
    const cpuWorker = await c.collect({ worker: c.name('w-cpu'), queues: [cpu], concurrency: 4 })
    await waitFor('the cpu attempts', () => cpuWorker.length === 2)
    assert.deepEqual(
      byId(cpuWorker.map((r) => r.envelope)),
      byId(cpuEnvelopes),
    )
  })

  add('routed attempts (envelope.worker) reach only that worker, whatever their queue', async (c) => {
    const queue = c.name('q')
    const w1 = c.name('w1')
    const w2 = c.name('w2')
    const first = await c.collect({ worker: w1, queues: [queue], concurrency: 4 })
    const second = await c.collect({ worker: w2, queues: [queue], concurrency: 4 })
    const routed = [c.envelope('s1', { queue, worker: w2 }), c.envelope('s2', { queue, worker: w2 }), c.envelope('s3', { queue, worker: w2 }), c.envelope('s4', { queue: c.name('not-consumed'), worker: w2 })]
    await c.other.publish(routed)
    await waitFor('the routed attempts at w2', () => second.length === 4)
    await sleep(QUIET_MS)
    assert.deepEqual(first, [], 'another worker got an attempt routed to w2')
    assert.deepEqual(
      idsOf(second),
      routed.map((e) => e.request.attemptId).sort(),
    )
  })

  add('concurrency: a worker holds at most `concurrency` attempts at once, across its queues and its route, and that many when there is work', async (c) => {
    const q1 = c.name('q1')
    const q2 = c.name('q2')
    const worker = c.name('w')
    await c.other.publish([
      ...Array.from({ length: 3 }, (_, k) => c.envelope(`a${k}`, { queue: q1 })),
      ...Array.from({ length: 3 }, (_, k) => c.envelope(`b${k}`, { queue: q2 })),
      ...Array.from({ length: 3 }, (_, k) => c.envelope(`r${k}`, { queue: q1, worker })),
    ])
    const overlap = new Overlap()
    let done = 0
    await c.consume(
      async (d) => {
        const leave = overlap.enter()
        await sleep(50)
        leave()
        await d.ack()
        done++
      },
      { worker, queues: [q1, q2], concurrency: 2 },
    )
    await waitFor('9 attempts handled', () => done === 9)
    assert.equal(overlap.max, 2)
  })

  add('ack removes an attempt: never delivered again, no longer held', async (c) => {
    const queue = c.name('q')
    const envelope = c.envelope('once', { queue })
    await c.other.publish([envelope])
    const received = await c.collect({ worker: c.name('w'), queues: [queue], concurrency: 1 })
    await waitFor('the delivery', () => received.length === 1)
    await eventually(async () => assert.deepEqual([...(await c.other.holds([envelope.request.attemptId]))], []))
    await sleep(QUIET_MS)
    assert.equal(received.length, 1, 'an acknowledged attempt was delivered again')
    await eventually(async () => {
      const stats = (await c.other.stats()).queues.find((q) => q.queue === queue)
      assert.equal(stats?.waiting ?? 0, 0)
      assert.equal(stats?.active ?? 0, 0)
    })
  })

  add('nack gives an attempt back: delivered again with deliveries + 1, after delayMs when given', async (c) => {
    const queue = c.name('q')
    const envelope = c.envelope('flaky', { queue })
    await c.other.publish([envelope])
    const received = await c.collect({ worker: c.name('w'), queues: [queue], concurrency: 1 }, async (d) => {
      if (d.deliveries === 1) await d.nack()
      else if (d.deliveries === 2) await d.nack({ delayMs: NACK_DELAY_MS })
      else await d.ack()
    })
    await waitFor('three deliveries', () => received.length === 3, NACK_DELAY_MS + WAIT_MS)
    assert.deepEqual(
      received.map((r) => r.deliveries),
      [1, 2, 3],
    )
    for (const r of received) assert.deepEqual(r.envelope, envelope)
    const gap = nth(received, 2).at - nth(received, 1).at
    assert.ok(gap >= NACK_DELAY_MS - TOLERANCE_MS, `delivered again ${gap} ms after nack({ delayMs: ${NACK_DELAY_MS} })`)
    await sleep(QUIET_MS)
    assert.equal(received.length, 3)
  })

  add('deadLetter: the attempt is never delivered again, no longer held, and counted as dead', async (c) => {
    const queue = c.name('q')
    const envelope = c.envelope('unreadable', { queue })
    await c.other.publish([envelope])
    const received = await c.collect({ worker: c.name('w'), queues: [queue], concurrency: 1 }, (d) => d.deadLetter('cannot read the envelope'))
    await waitFor('the delivery', () => received.length === 1)
    await eventually(async () => assert.equal((await c.other.stats()).queues.find((q) => q.queue === queue)?.dead, 1))
    assert.deepEqual([...(await c.other.holds([envelope.request.attemptId]))], [])
    await sleep(QUIET_MS)
    assert.equal(received.length, 1, 'a dead-lettered attempt was delivered again')
  })

  add('attempts published together are settled each on its own: an ack, a nack with a delay and a dead letter', async (c) => {
    const queue = c.name('q')
    const sent = ['done', 'later', 'unreadable', 'also-done'].map((taskId) => c.envelope(taskId, { queue }))
    await c.other.publish(sent)
    const received = await c.collect({ worker: c.name('w'), queues: [queue], concurrency: 4 }, async (d) => {
      const taskId = d.envelope.request.taskId
      if (taskId === 'unreadable') await d.deadLetter('cannot read the envelope')
      else if (taskId === 'later' && d.deliveries === 1) await d.nack({ delayMs: NACK_DELAY_MS })
      else await d.ack()
    })
    await waitFor('five deliveries', () => received.length === 5, NACK_DELAY_MS + WAIT_MS)
    const seen = (taskId: string): number[] => received.filter((r) => r.envelope.request.taskId === taskId).map((r) => r.deliveries)
    assert.deepEqual(seen('done'), [1])
    assert.deepEqual(seen('also-done'), [1])
    assert.deepEqual(seen('unreadable'), [1])
    assert.deepEqual(seen('later'), [1, 2])
    // Stats before holds(): an adapter may drop a dead copy that holds() finds (so a republish is accepted).
    await eventually(async () => assert.deepEqual((await c.other.stats()).queues.find((q) => q.queue === queue) ?? { queue, waiting: 0, active: 0, delayed: 0, dead: 0 }, { queue, waiting: 0, active: 0, delayed: 0, dead: 1 }))
    await eventually(async () => assert.deepEqual([...(await c.other.holds(sent.map((e) => e.request.attemptId)))], []))
    await sleep(QUIET_MS)
    assert.equal(received.length, 5, 'an attempt was delivered again after it was settled')
  })

  add('a consumer closed past its grace gives back only what it had not settled of attempts published together', async (c) => {
    const queue = c.name('q')
    const sent = ['quick-1', 'stuck', 'quick-2'].map((taskId) => c.envelope(taskId, { queue }))
    await c.other.publish(sent)
    const stuck = gate()
    let acked = 0
    let started = false
    const first = await c.consume(
      async (d) => {
        if (d.envelope.request.taskId !== 'stuck') {
          await d.ack()
          acked++
          return
        }
        started = true
        await stuck.promise
      },
      { worker: c.name('w1'), queues: [queue], concurrency: 3 },
    )
    await waitFor('the quick attempts acknowledged and the stuck one started', () => acked === 2 && started)
    await first.close({ graceMs: 100 })
    const received = await c.collect({ worker: c.name('w2'), queues: [queue], concurrency: 3 }, async (d) => d.ack(), c.other)
    await waitFor('the attempt given back', () => received.length === 1, 2 * WAIT_MS)
    assert.equal(nth(received, 0).envelope.request.taskId, 'stuck')
    assert.equal(nth(received, 0).deliveries, 2)
    await sleep(QUIET_MS)
    assert.equal(received.length, 1, 'an acknowledged attempt was delivered again')
    stuck.open()
  })

  add('reports reach their owner in the order they were sent; other owners hear none of them', async (c) => {
    const o1 = c.name('owner-1')
    const o2 = c.name('owner-2')
    const first = await c.receive(o1)
    const second = await c.receive(o2)
    const attemptId = attemptIdOf(c.name('run'), 'chat', 1)
    const worker = c.name('w')
    const sent: AttemptReport[] = [
      { kind: 'started', attemptId, worker },
      ...Array.from({ length: 25 }, (_, k): AttemptReport => ({ kind: 'progress', attemptId, progress: { message: `step ${k}`, fraction: k / 25 } })),
      { kind: 'usage', attemptId, usage: { inputTokens: 120, outputTokens: 30 } },
      { kind: 'limits', attemptId, limits: { remainingRequests: 99, remainingTokens: 10_000 } },
      { kind: 'outcome', attemptId, worker, outcome: { attemptId, ok: true, output: { text: 'done ✓' } } },
    ]
    // Sent as a worker sends progress: without waiting for one before the next.
    await Promise.all(sent.map((r) => c.other.report(o1, r)))
    const toOther: AttemptReport = { kind: 'started', attemptId: `${attemptId}-other`, worker }
    await c.other.report(o2, toOther)
    await waitFor('every report', () => first.reports.length === sent.length)
    assert.deepEqual(first.reports, sent)
    await waitFor('the other owner’s report', () => second.reports.length === 1)
    await sleep(QUIET_MS)
    assert.deepEqual(second.reports, [toOther])
    assert.equal(first.reports.length, sent.length)
  })

  add('reports sent before receive() are delivered once it starts, each once; so are those sent between two receives', async (c) => {
    const owner = c.name('owner')
    const attemptId = attemptIdOf(c.name('run'), 'task', 1)
    const worker = c.name('w')
    const progress = (k: number): AttemptReport => ({ kind: 'progress', attemptId, progress: { message: `p${k}` } })
    for (const k of [1, 2, 3]) await c.other.report(owner, progress(k))
    const first = await c.receive(owner)
    await waitFor('the reports sent before receive()', () => first.reports.length === 3)
    await c.other.report(owner, progress(4))
    await waitFor('the report sent after receive()', () => first.reports.length === 4)
    await sleep(QUIET_MS)
    assert.deepEqual(first.reports, [1, 2, 3, 4].map(progress))
    await first.subscription.close()
    await c.other.report(owner, { kind: 'started', attemptId, worker })
    await c.other.report(owner, progress(5))
    const again = await c.receive(owner)
    await waitFor('the reports sent between the two receives', () => again.reports.length === 2)
    await sleep(QUIET_MS)
    assert.deepEqual(again.reports, [{ kind: 'started', attemptId, worker }, progress(5)])
    assert.equal(first.reports.length, 4, 'a closed subscription got a report')
  })

  add('removeOwner drops the reports waiting for the owner', async (c) => {
    const owner = c.name('owner')
    const attemptId = attemptIdOf(c.name('run'), 'task', 1)
    await c.other.report(owner, { kind: 'progress', attemptId, progress: { message: 'lost' } })
    await c.other.report(owner, { kind: 'progress', attemptId, progress: { message: 'lost too' } })
    await c.transport.removeOwner(owner)
    await c.transport.removeOwner(c.name('never-seen')) // an owner the broker never had: nothing to do
    const { reports } = await c.receive(owner)
    await sleep(QUIET_MS)
    assert.deepEqual(reports, [])
  })

  add('cancel reaches every onCancel subscriber, on every handle; a closed subscription hears no more', async (c) => {
    const mine = (list: Array<[string, SerializedError]>) => (attemptId: string, reason: SerializedError) => {
      // Cancels are broadcast to the whole broker: count only this case's.
      if (attemptId.startsWith(c.name(''))) list.push([attemptId, reason])
    }
    const heardA: Array<[string, SerializedError]> = []
    const heardB: Array<[string, SerializedError]> = []
    const subA = await c.transport.onCancel(mine(heardA))
    const subB = await c.other.onCancel(mine(heardB))
    const first = attemptIdOf(c.name('run'), 'slow', 1)
    const reason = cancelReason('run cancelled by the user')
    await c.transport.cancel(first, reason)
    await waitFor('both subscribers to hear the cancel', () => heardA.length === 1 && heardB.length === 1)
    assert.deepEqual(heardA, [[first, reason]])
    assert.deepEqual(heardB, [[first, reason]])
    await subA.close()
    const second = attemptIdOf(c.name('run'), 'slower', 1)
    await c.other.cancel(second, cancelReason('timed out'))
    await waitFor('the open subscriber to hear the second cancel', () => heardB.length === 2)
    await sleep(QUIET_MS)
    assert.equal(heardA.length, 1, 'a closed subscription heard a cancel')
    await subB.close()
  })

  add('holds: true for attempts published and not acked (waiting, delayed or held), false for acked and unknown ids', async (c) => {
    const queue = c.name('q')
    const acked = c.envelope('acked', { queue })
    const held = c.envelope('held', { queue })
    const delayed = c.envelope('delayed', { queue })
    const ids = [acked, held, delayed].map((e) => e.request.attemptId)
    const unknown = attemptIdOf(c.name('run'), 'never-published', 1)
    await c.other.publish([acked, held, delayed])
    assert.deepEqual([...(await c.transport.holds([...ids, unknown]))].sort(), [...ids].sort())
    const release = gate()
    await c.consume(
      async (d) => {
        const taskId = d.envelope.request.taskId
        if (taskId === 'acked') await d.ack()
        else if (taskId === 'delayed') await d.nack({ delayMs: FAR_MS })
        else {
          await release.promise
          await d.ack()
        }
      },
      { worker: c.name('w'), queues: [queue], concurrency: 3 },
    )
    await eventually(async () => assert.deepEqual([...(await c.transport.holds([...ids, unknown]))].sort(), [held.request.attemptId, delayed.request.attemptId].sort()))
    release.open()
    await eventually(async () => assert.deepEqual([...(await c.transport.holds([...ids, unknown]))], [delayed.request.attemptId]))
    assert.deepEqual([...(await c.transport.holds([]))], [])
  })

  add('announce and workers: the workers heard from within withinMs, one entry per worker, on every handle', async (c) => {
    const worker = c.name('w')
    const info = (running: number, sessions: readonly string[]): WorkerInfo => ({ worker, queues: [c.name('q')], concurrency: 4, running, sessions, host: 'conformance-host', pid: 4242, at: Date.now() })
    const mine = (list: readonly WorkerInfo[]): WorkerInfo[] => list.filter((w) => w.worker === worker)
    await c.transport.announce(info(0, []))
    const latest = info(2, ['assistant#s1'])
    await c.transport.announce(latest)
    await eventually(async () => assert.deepEqual(mine(await c.other.workers()), [latest]))
    assert.deepEqual(mine(await c.transport.workers({ withinMs: 60_000 })), [latest])
    await sleep(QUIET_MS)
    assert.deepEqual(mine(await c.transport.workers({ withinMs: QUIET_MS / 2 })), [], 'a worker silent for longer than withinMs is listed')
    assert.deepEqual(mine(await c.transport.workers({ withinMs: 60_000 })), [latest])
  })

  add('stats: waiting, active, delayed and dead per queue, the type, and the workers announced', async (c) => {
    const q1 = c.name('q1')
    const q2 = c.name('q2')
    const worker = c.name('w')
    await c.other.publish(['hold-1', 'delay', 'dead', 'hold-2'].map((taskId) => c.envelope(taskId, { queue: q1 })))
    await c.other.publish([c.envelope('other', { queue: q2 })])
    const queueStats = async (queue: string) => ((await c.transport.stats()).queues.find((q) => q.queue === queue) ?? { queue, waiting: 0, active: 0, delayed: 0, dead: 0 })
    const stats = await c.transport.stats()
    assert.equal(stats.type, c.transport.type)
    await eventually(async () => assert.deepEqual(await queueStats(q1), { queue: q1, waiting: 4, active: 0, delayed: 0, dead: 0 }))
    await eventually(async () => assert.deepEqual(await queueStats(q2), { queue: q2, waiting: 1, active: 0, delayed: 0, dead: 0 }))
    const release = gate()
    await c.consume(
      async (d) => {
        const taskId = d.envelope.request.taskId
        if (taskId === 'delay') await d.nack({ delayMs: FAR_MS })
        else if (taskId === 'dead') await d.deadLetter('unreadable')
        else {
          await release.promise
          await d.ack()
        }
      },
      { worker, queues: [q1], concurrency: 2 },
    )
    await eventually(async () => assert.deepEqual(await queueStats(q1), { queue: q1, waiting: 0, active: 2, delayed: 1, dead: 1 }))
    const info: WorkerInfo = { worker, queues: [q1], concurrency: 2, running: 2, sessions: [], host: 'conformance-host', pid: 4242, at: Date.now() }
    await c.transport.announce(info)
    await eventually(async () => assert.deepEqual((await c.other.stats()).workers.filter((w) => w.worker === worker), [info]))
    release.open()
    await eventually(async () => assert.deepEqual(await queueStats(q1), { queue: q1, waiting: 0, active: 0, delayed: 1, dead: 1 }))
  })

  add('a consumer closed with attempts still running past its grace gives them back: delivered again with deliveries 2', async (c) => {
    const queue = c.name('q')
    const envelope = c.envelope('stuck', { queue })
    await c.other.publish([envelope])
    const stuck = gate()
    let started = false
    const first = await c.consume(
      async () => {
        started = true
        await stuck.promise
      },
      { worker: c.name('w1'), queues: [queue], concurrency: 1 },
    )
    await waitFor('the first delivery', () => started)
    const t0 = Date.now()
    await first.close({ graceMs: 100 })
    const took = Date.now() - t0
    assert.ok(took >= 100 - TOLERANCE_MS && took < 100 + WAIT_MS, `close({ graceMs: 100 }) took ${took} ms`)
    const received = await c.collect({ worker: c.name('w2'), queues: [queue], concurrency: 1 }, async (d) => d.ack(), c.other)
    await waitFor('the attempt given back', () => received.length === 1, 2 * WAIT_MS)
    assert.equal(nth(received, 0).deliveries, 2)
    assert.deepEqual(nth(received, 0).envelope, envelope)
    stuck.open()
  })

  add('close stops the consumers of the handle: attempts published afterwards go to other workers', async (c) => {
    const queue = c.name('q')
    const closing = await c.collect({ worker: c.name('w1'), queues: [queue], concurrency: 2 })
    await c.other.publish([c.envelope('before', { queue })])
    await waitFor('the attempt published before close', () => closing.length === 1)
    await c.closeTransport()
    if (!c.hasSecond) return
    const after = c.envelope('after', { queue })
    await c.other.publish([after])
    await sleep(QUIET_MS)
    assert.equal(closing.length, 1, 'a consumer of a closed transport took an attempt')
    const open = await c.collect({ worker: c.name('w2'), queues: [queue], concurrency: 1 }, (d) => d.ack(), c.other)
    await waitFor('the attempt published after close, at another worker', () => open.length === 1)
    assert.deepEqual(nth(open, 0).envelope, after)
  })

  return cases
}
