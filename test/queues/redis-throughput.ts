/**
 * Throughput of the Redis transport against raw BullMQ, in one process, on the same server:
 *
 * - raw: `addBulk` of N jobs and a BullMQ `Worker` that completes them;
 * - transport: `publish` of N attempt envelopes, a worker that reports each outcome back to the
 *   owner and acks, and the owner's `receive` hearing every outcome.
 *
 * Both carry the same envelopes, with the same job ids and priority. The two alternate for
 * `rounds` rounds (other work on the machine shifts single runs a lot); each round's rates are
 * printed, then the best and the median of each, and the median of the rounds' own ratios (a
 * round's two runs are close in time, so they share the machine's load best).
 *
 * Not a test (vitest does not pick it up): run `node --import tsx test/queues/redis-throughput.ts
 * [count] [concurrency] [rounds]` with Redis at TASKWEAVE_TEST_REDIS_URL (default
 * redis://127.0.0.1:6379). Every key it makes is under a random prefix and removed at the end.
 */
import { randomBytes } from 'node:crypto'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { openRedisTransport } from '../../src/queues/redis/index.js'
import type { AttemptEnvelope } from '../../src/core/transport.js'

const URL = process.env['TASKWEAVE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const COUNT = Number(process.argv[2] ?? 20_000)
const CONCURRENCY = Number(process.argv[3] ?? 100)
const ROUNDS = Number(process.argv[4] ?? 3)
const BATCH = 1000
const prefix = `twtest-${randomBytes(4).toString('hex')}`

function envelope(i: number): AttemptEnvelope {
  return {
    request: { runId: 'run', taskId: `t${i}`, attempt: 1, attemptId: `run/t${i}#1`, idempotencyKey: `run/t${i}`, tool: 'echo', input: { i, text: 'x'.repeat(100) }, inputChecked: true, timeoutMs: undefined, priority: 0 },
    owner: 'owner-1',
    queue: 'default',
    publishedAt: Date.now(),
  }
}

async function raw(): Promise<number> {
  const connection = new Redis(URL, { maxRetriesPerRequest: null })
  const queue = new Queue('raw', { connection, prefix })
  let done = 0
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const worker = new Worker(
    'raw',
    async () => {
      if (++done === COUNT) finish()
    },
    { connection, prefix, concurrency: CONCURRENCY, removeOnComplete: { count: 0 } },
  )
  await worker.waitUntilReady()
  const started = performance.now()
  const adds: Promise<unknown>[] = []
  for (let i = 0; i < COUNT; i += BATCH) {
    adds.push(queue.addBulk(Array.from({ length: Math.min(BATCH, COUNT - i) }, (_, k) => ({ name: 'a', data: envelope(i + k), opts: { jobId: `run/t${i + k}#1`, priority: 10, removeOnComplete: true } }))))
  }
  await Promise.all(adds)
  await finished
  const rate = COUNT / ((performance.now() - started) / 1000)
  await worker.close()
  await queue.obliterate({ force: true })
  await queue.close()
  connection.disconnect()
  return rate
}

async function transport(): Promise<number> {
  const owner = await openRedisTransport({ url: URL, prefix })
  const workerSide = await openRedisTransport({ url: URL, prefix })
  let heard = 0
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const inbox = await owner.receive('owner-1', (report) => {
    if (report.kind === 'outcome' && ++heard === COUNT) finish()
  })
  const consumer = await workerSide.consume(
    async (delivery) => {
      const { request, owner: to } = delivery.envelope
      await workerSide.report(to, { kind: 'outcome', attemptId: request.attemptId, worker: 'w1', outcome: { attemptId: request.attemptId, ok: true, output: request.input } })
      await delivery.ack()
    },
    { worker: 'w1', concurrency: CONCURRENCY },
  )
  const started = performance.now()
  const publishes: Promise<void>[] = []
  for (let i = 0; i < COUNT; i += BATCH) publishes.push(owner.publish(Array.from({ length: Math.min(BATCH, COUNT - i) }, (_, k) => envelope(i + k))))
  await Promise.all(publishes)
  await finished
  const rate = COUNT / ((performance.now() - started) / 1000)
  await consumer.close()
  await inbox.close()
  await workerSide.close()
  await owner.destroy()
  return rate
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

console.log(`${COUNT} attempts, concurrency ${CONCURRENCY}, ${ROUNDS} rounds`)
const raws: number[] = []
const transports: number[] = []
for (let round = 1; round <= ROUNDS; round++) {
  raws.push(await raw())
  transports.push(await transport())
  console.log(`round ${round}: raw BullMQ ${raws.at(-1)?.toFixed(0)} jobs/s, transport ${transports.at(-1)?.toFixed(0)} attempts/s (${(((transports.at(-1) ?? 0) / (raws.at(-1) ?? 1)) * 100).toFixed(0)}%)`)
}
const best = (list: readonly number[]): number => Math.max(...list)
console.log(`raw BullMQ (addBulk + Worker):            best ${best(raws).toFixed(0)}, median ${median(raws).toFixed(0)} jobs/s`)
console.log(`Redis transport (publish + report + ack): best ${best(transports).toFixed(0)}, median ${median(transports).toFixed(0)} attempts/s`)
const ratios = transports.map((rate, k) => rate / (raws[k] ?? rate))
console.log(`transport / raw: best ${((best(transports) / best(raws)) * 100).toFixed(0)}%, median ${((median(transports) / median(raws)) * 100).toFixed(0)}%, median of the rounds' own ratios ${(median(ratios) * 100).toFixed(0)}%`)
