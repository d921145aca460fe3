/**
 * Reports from workers to owners: one durable queue per owner (`prefix:owner:<owner>`).
 *
 * - **Sending** coalesces: the reports one handle sends to one owner within an event-loop turn
 *   travel as one message (a JSON array, at most {@link MAX_BATCH_REPORTS} reports or about
 *   {@link MAX_BATCH_BYTES}), so a worker reporting thousands of outcomes a second publishes a
 *   fraction as many messages. Batches go through the one confirm channel in the order they were
 *   made, so reports from one sender to one owner arrive in the order they were sent; each
 *   `report()` resolves once its batch is confirmed.
 * - **The queue** is declared by whoever uses it first (a sender or the owner), with `x-expires`
 *   = `ownerExpiresMs`: reports wait there while the owner is away, and an owner that never
 *   comes back (it died without `removeOwner`) leaves a queue the broker deletes once nobody read
 *   or declared it for that long. A sender declares it again at most once a minute, which renews
 *   the lease; so every process must use the same `ownerExpiresMs` (RabbitMQ refuses to
 *   declare a queue again with other arguments).
 * - **Receiving** reads the queue in order on a channel of its own, acks after the handler ran
 *   (a process that dies mid-batch hears the batch again on restart), and swallows a handler's
 *   throw so one bad report does not stop the rest.
 * @module
 */
import type { Channel } from 'amqplib'
import type { AttemptReport, TransportSubscription } from '../../core/transport.js'
import { Acker } from './acks.js'
import type { RabbitConnection } from './connection.js'
import { rabbitError } from './errors.js'
import type { Scope } from './errors.js'
import type { Ledger } from './ledger.js'
import type { TransportNames } from './names.js'
import type { Outgoing, Publisher } from './publisher.js'
import { Subscriber } from './subscriber.js'
import { declaring } from './topology.js'

/** Most reports in one message. */
export const MAX_BATCH_REPORTS = 1000
/** A batch is closed once its JSON reaches this many bytes (one report may be larger alone). */
export const MAX_BATCH_BYTES = 1 << 20
/** A sender declares an owner's queue again when its last declaration is older than this. */
const REDECLARE_MS = 60_000
/** Report batches a receiver holds unacknowledged at most. */
const RECEIVE_PREFETCH = 256

interface Pending {
  readonly json: string
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

const ignore = (): void => {}

/** The reports of a transport handle (see the module header). */
export class Reports {
  readonly #connection: RabbitConnection
  readonly #publisher: Publisher
  readonly #scope: Scope
  readonly #names: TransportNames
  readonly #expiresMs: number
  readonly #ledger: Ledger
  readonly #declared = new Map<string, { readonly generation: number; readonly at: number }>()
  readonly #receivers = new Map<string, Set<Subscriber>>()
  #buffers = new Map<string, Pending[]>()
  #scheduled = false
  #chain: Promise<void> = Promise.resolve()

  constructor(connection: RabbitConnection, publisher: Publisher, scope: Scope, names: TransportNames, expiresMs: number, ledger: Ledger) {
    this.#connection = connection
    this.#publisher = publisher
    this.#scope = scope
    this.#names = names
    this.#expiresMs = expiresMs
    this.#ledger = ledger
  }

  /** Sends `report` to `owner` with the others of this turn; resolves once the broker confirmed its batch. */
  send(owner: string, report: AttemptReport): Promise<void> {
    let json: string | undefined
    try {
      json = JSON.stringify(report)
    } catch (err) {
      return Promise.reject(rabbitError(this.#scope, 'encoding a report as JSON', err, { retryable: false }))
    }
    if (json === undefined) return Promise.reject(rabbitError(this.#scope, 'encoding a report as JSON', new Error('the report is not JSON data'), { retryable: false }))
    const text = json
    return new Promise<void>((resolve, reject) => {
      let buffer = this.#buffers.get(owner)
      if (buffer === undefined) this.#buffers.set(owner, (buffer = []))
      buffer.push({ json: text, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  /** Hears the reports sent to `owner`, waiting ones first. */
  async receive(owner: string, handler: (report: AttemptReport) => void): Promise<TransportSubscription> {
    const queue = this.#names.owner(owner)
    let acker: Acker | undefined
    const subscriber = new Subscriber(this.#connection, async ({ channel, cancelled }) => {
      await this.#declare(channel, queue)
      await channel.prefetch(RECEIVE_PREFETCH)
      const acks = new Acker(channel)
      acker = acks
      channel.on('close', () => acks.close())
      await channel.consume(queue, (message) => {
        if (message === null) return cancelled()
        acks.delivered(message)
        let reports: unknown
        try {
          reports = JSON.parse(message.content.toString('utf8'))
        } catch {
          reports = [] // not ours: dropped
        }
        for (const report of Array.isArray(reports) ? (reports as AttemptReport[]) : [reports as AttemptReport]) {
          if (report?.kind === 'outcome') this.#ledger.forget(report.attemptId)
          try {
            handler(report)
          } catch {
            // The handler's own failure: the other reports still go to it.
          }
        }
        acks.ack(message).catch(ignore)
      })
    })
    let set = this.#receivers.get(owner)
    if (set === undefined) this.#receivers.set(owner, (set = new Set()))
    set.add(subscriber)
    try {
      await subscriber.start()
    } catch (err) {
      set.delete(subscriber)
      await subscriber.close()
      throw err
    }
    return {
      close: async () => {
        this.#receivers.get(owner)?.delete(subscriber)
        // Acks still waiting for their turn go out first: a closed receiver's reports must not come back.
        acker?.flush()
        await subscriber.close()
      },
    }
  }

  /** Deletes `owner`'s queue (its waiting reports with it) after closing this handle's receivers of it. */
  async remove(owner: string): Promise<void> {
    const receivers = this.#receivers.get(owner)
    this.#receivers.delete(owner)
    for (const subscriber of receivers ?? []) await subscriber.close()
    const queue = this.#names.owner(owner)
    this.#declared.delete(queue)
    await this.#connection.withSession('removing an owner', async (session) => (await session.ops()).deleteQueue(queue))
  }

  /** Closes every receiver of this handle. */
  async close(): Promise<void> {
    const all = [...this.#receivers.values()].flatMap((set) => [...set])
    this.#receivers.clear()
    await Promise.all(all.map((s) => s.close()))
  }

  async #declare(channel: Channel, queue: string): Promise<void> {
    await declaring(this.#scope, () => channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic', 'x-expires': this.#expiresMs } }))
  }

  #flush(): void {
    this.#scheduled = false
    const buffers = this.#buffers
    this.#buffers = new Map()
    // One flush at a time, each handing its batches to the publisher before the next: the order of reports holds.
    this.#chain = this.#chain.then(() => this.#send(buffers)).catch(ignore)
  }

  async #send(buffers: ReadonlyMap<string, Pending[]>): Promise<void> {
    const outgoing: Outgoing[] = []
    const batches: Pending[][] = []
    for (const [owner, pending] of buffers) {
      // Whatever fails for one owner (its queue's name, its declaration) fails its reports only:
      // the others in this flush still go out.
      let queue: string
      try {
        queue = this.#names.owner(owner)
        await this.#ensureDeclared(queue)
      } catch (err) {
        for (const p of pending) p.reject(err)
        continue
      }
      let batch: Pending[] = []
      let bytes = 2
      const close = (): void => {
        if (batch.length === 0) return
        outgoing.push({ exchange: '', routingKey: queue, content: Buffer.from(`[${batch.map((p) => p.json).join(',')}]`), options: { persistent: true, contentType: 'application/json' } })
        batches.push(batch)
        batch = []
        bytes = 2
      }
      for (const p of pending) {
        if (batch.length >= MAX_BATCH_REPORTS || (batch.length > 0 && bytes + p.json.length > MAX_BATCH_BYTES)) close()
        batch.push(p)
        bytes += p.json.length + 1
      }
      close()
    }
    if (outgoing.length === 0) return
    this.#publisher.publish(outgoing, 'reporting').then(
      (results) => {
        for (let k = 0; k < batches.length; k++) {
          const batch = batches[k] as Pending[]
          if (results[k] === 'ok') for (const p of batch) p.resolve()
          else for (const p of batch) p.reject(rabbitError(this.#scope, 'reporting', new Error('the broker refused the report')))
        }
      },
      (err: unknown) => {
        for (const batch of batches) for (const p of batch) p.reject(err)
      },
    )
  }

  async #ensureDeclared(queue: string): Promise<void> {
    await this.#connection.withSession('reporting', async (session) => {
      const last = this.#declared.get(queue)
      if (last !== undefined && last.generation === session.generation && Date.now() - last.at < REDECLARE_MS) return
      await this.#declare(await session.ops(), queue)
      this.#declared.set(queue, { generation: session.generation, at: Date.now() })
    })
  }
}
