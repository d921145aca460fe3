/**
 * Throughput of the RabbitMQ transport beside raw amqplib, on the broker at `RABBITMQ_URL`
 * (default amqp://guest:guest@127.0.0.1:5672). Run it by hand, not under vitest:
 *
 *     node --import tsx test/queues/rabbitmq-throughput.ts [count]
 *
 * `CONCURRENCY` sets the worker's concurrency (default 256); `BROKER_PID`, the broker's process
 * id when it runs on this host, adds its CPU time per run (a fairer measure on a busy machine).
 *
 * - **transport**: an owner publishes `count` attempt envelopes (batches of 1,000), a worker
 *   (its own transport handle and connection, concurrency 256) consumes each, reports its
 *   outcome to the owner and acks it; timed until the owner heard every outcome.
 * - **raw, one hop**: amqplib alone: `count` persistent messages published to a durable priority
 *   queue with confirms (one `waitForConfirms` per 1,000), consumed with prefetch 256 and acked.
 * - **raw, round trip**: the same, and the consumer publishes a persistent reply per message to
 *   a second queue that the publisher consumes: the transport's work without its bookkeeping.
 *
 * Everything it declares is named `twbench-<random>…` and deleted at the end.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import amqp from 'amqplib'
import type { Channel } from 'amqplib'
import type { AttemptEnvelope, AttemptReport } from '../../src/core/transport.js'
import { openRabbitTransport } from '../../src/queues/rabbitmq/index.js'
import { transportNames } from '../../src/queues/rabbitmq/names.js'

const URL_ = process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672'
/** The broker's process id, when it runs on this host: then its CPU time per run is printed too (a fair measure on a busy machine). */
const BROKER_PID = process.env['BROKER_PID']
const COUNT = Number(process.argv[2] ?? 20_000)
const BATCH = 1000
const CONCURRENCY = Number(process.env["CONCURRENCY"] ?? 256)

function envelope(owner: string, k: number): AttemptEnvelope {
  const attemptId = `run-1/task-${k}#1`
  return {
    request: { runId: 'run-1', taskId: `task-${k}`, attempt: 1, attemptId, idempotencyKey: `run-1/task-${k}`, tool: 'echo', input: { text: 'hello', k }, inputChecked: true, timeoutMs: 30_000, priority: k % 10 },
    owner,
    queue: 'default',
    publishedAt: Date.now(),
  }
}

async function transportRun(prefix: string): Promise<number> {
  const owner = `owner-${randomUUID()}`
  const ownerSide = await openRabbitTransport({ url: URL_, prefix })
  const workerSide = await openRabbitTransport({ url: URL_, prefix })
  let heard = 0
  let done!: () => void
  const allHeard = new Promise<void>((resolve) => (done = resolve))
  const reports = await ownerSide.receive(owner, (report: AttemptReport) => {
    if (report.kind === 'outcome' && ++heard === COUNT) done()
  })
  const consumer = await workerSide.consume(
    async (delivery) => {
      const { request } = delivery.envelope
      await workerSide.report(delivery.envelope.owner, { kind: 'outcome', attemptId: request.attemptId, worker: 'w1', outcome: { attemptId: request.attemptId, ok: true, output: request.input } })
      await delivery.ack()
    },
    { worker: 'w1', concurrency: CONCURRENCY },
  )
  const started = performance.now()
  for (let k = 0; k < COUNT; k += BATCH) {
    const batch: AttemptEnvelope[] = []
    for (let j = k; j < Math.min(COUNT, k + BATCH); j++) batch.push(envelope(owner, j))
    await ownerSide.publish(batch)
  }
  const published = performance.now()
  await allHeard
  const elapsed = performance.now() - started
  console.log(`transport: published ${COUNT} in ${Math.round(published - started)} ms; all outcomes heard after ${Math.round(elapsed)} ms`)
  await consumer.close({ graceMs: 1000 })
  await reports.close()
  await ownerSide.removeOwner(owner)
  await ownerSide.close()
  await workerSide.close()
  return COUNT / (elapsed / 1000)
}

async function publishConfirmed(channel: amqp.ConfirmChannel, queue: string, count: number, content: (k: number) => Buffer): Promise<void> {
  for (let k = 0; k < count; k++) {
    if (!channel.sendToQueue(queue, content(k), { persistent: true, priority: k % 10, messageId: String(k) })) await new Promise((resolve) => channel.once('drain', resolve))
    if ((k + 1) % BATCH === 0) await channel.waitForConfirms()
  }
  await channel.waitForConfirms()
}

function consumeAll(channel: Channel, queue: string, count: number, onMessage: (message: amqp.ConsumeMessage) => void): Promise<void> {
  return new Promise((resolve) => {
    let got = 0
    void channel.consume(queue, (message) => {
      if (message === null) return
      onMessage(message)
      got++
      if (got === count) {
        channel.ack(message, true)
        resolve()
      } else if (got % 64 === 0) channel.ack(message, true)
    })
  })
}

async function rawRun(prefix: string, roundTrip: boolean): Promise<number> {
  const connection = await amqp.connect(URL_)
  const work = `${prefix}:raw-work`
  const replies = `${prefix}:raw-replies`
  const publisher = await connection.createConfirmChannel()
  const worker = await connection.createChannel()
  const workerOut = await connection.createConfirmChannel()
  const listener = await connection.createChannel()
  await publisher.assertQueue(work, { durable: true, maxPriority: 9 })
  await publisher.assertQueue(replies, { durable: true })
  await worker.prefetch(CONCURRENCY)
  await listener.prefetch(CONCURRENCY)
  const body = (owner: string) => (k: number) => Buffer.from(JSON.stringify(envelope(owner, k)))
  const started = performance.now()
  const handled = consumeAll(worker, work, COUNT, (message) => {
    if (roundTrip) workerOut.sendToQueue(replies, Buffer.from(JSON.stringify([{ kind: 'outcome', attemptId: message.properties.messageId as string }])), { persistent: true })
  })
  const answered = roundTrip ? consumeAll(listener, replies, COUNT, () => {}) : Promise.resolve()
  await publishConfirmed(publisher, work, COUNT, body('raw'))
  await handled
  await answered
  if (roundTrip) await workerOut.waitForConfirms()
  const elapsed = performance.now() - started
  console.log(`raw amqplib (${roundTrip ? 'round trip' : 'one hop'}): ${COUNT} in ${Math.round(elapsed)} ms`)
  await publisher.deleteQueue(work)
  await publisher.deleteQueue(replies)
  await connection.close()
  return COUNT / (elapsed / 1000)
}

/** Deletes what the transport run declared. */
async function cleanup(prefix: string): Promise<void> {
  const names = transportNames(prefix)
  const connection = await amqp.connect(URL_)
  const channel = await connection.createChannel()
  for (const n of [names.work('default'), names.worker('w1')]) {
    for (const queue of [n.main, n.later, n.dead]) await channel.deleteQueue(queue)
    await channel.deleteExchange(n.deadExchange)
  }
  await channel.deleteExchange(names.cancels)
  await channel.deleteExchange(names.workers)
  await channel.deleteExchange(names.ledger)
  await connection.close()
}

/** CPU seconds the broker process used so far (utime + stime from /proc), or undefined. */
function brokerCpuSeconds(): number | undefined {
  if (BROKER_PID === undefined) return undefined
  const fields = readFileSync(`/proc/${BROKER_PID}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Runs `fn`, printing the broker's CPU time it took when known, and this process's. */
async function measured<R>(label: string, fn: () => Promise<R>): Promise<R> {
  const broker = brokerCpuSeconds()
  const self = process.cpuUsage()
  const result = await fn()
  const used = process.cpuUsage(self)
  const brokerUsed = broker === undefined ? undefined : (brokerCpuSeconds() ?? broker) - broker
  console.log(`  ${label}: client CPU ${((used.user + used.system) / 1e6).toFixed(2)} s${brokerUsed === undefined ? '' : `, broker CPU ${brokerUsed.toFixed(2)} s`}`)
  return result
}

const prefix = `twbench-${randomUUID().slice(0, 8)}`
try {
  const transport = await measured('transport', () => transportRun(prefix))
  const oneHop = await measured('raw one hop', () => rawRun(prefix, false))
  const roundTrip = await measured('raw round trip', () => rawRun(prefix, true))
  console.log(`attempts/s: transport ${Math.round(transport)} (publish, consume, report, hear); raw amqplib one hop ${Math.round(oneHop)} msg/s, round trip ${Math.round(roundTrip)} msg/s`)
} finally {
  await cleanup(prefix)
}
