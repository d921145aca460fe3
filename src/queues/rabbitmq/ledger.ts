/**
 * What the transport handles know about which attempts the broker holds, for `holds()` and for
 * the work queues `stats()` lists. RabbitMQ cannot look a message up by id, so the handles keep
 * a ledger between them, through notices on a fanout exchange (`prefix:ledger`) that every
 * handle hears on an exclusive queue of its own:
 *
 * - `publish()` sends, before its attempts and in the same confirmed batch, a notice naming
 *   them and their queues: once `publish()` resolved, every listening handle has it queued;
 * - an attempt acked or dead-lettered through a handle (its worker settled it) is announced gone,
 *   together with those of the next {@link GONE_NOTICE_MS}; an owner that hears an attempt's outcome
 *   forgets it at once too;
 * - `holds()` first lets {@link GONE_NOTICE_MS} pass (so attempts settled anywhere before the
 *   call have been announced), then sends a barrier notice to itself and waits for it: every
 *   notice sent before it has then been heard. It answers held for an attempt published and not gone whose queue
 *   still exists (a durable queue that exists holds its messages: waiting, delayed or being
 *   processed); gone, unknown, or in a queue that is gone (a worker's queue that expired) is
 *   not held.
 *
 * What a handle cannot know: notices sent while its connection was down (its exclusive queue
 * goes with the connection), and attempts published before it started listening. An owner
 * publishes its own attempts, which it records at once, so neither matters to its reconciler
 * beyond, at worst, an attempt published again. The ledger remembers at most
 * {@link MAX_REMEMBERED} attempts; the oldest are forgotten first.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { RabbitConnection } from './connection.js'
import type { Outgoing, Publisher } from './publisher.js'
import { Subscriber } from './subscriber.js'

/** Most attempts a handle remembers. */
export const MAX_REMEMBERED = 100_000
/**
 * Attempts settled through a handle are announced gone together, this long after the first:
 * a busy worker sends one small notice per interval rather than one per event-loop turn. The
 * handle itself forgets them at once.
 */
export const GONE_NOTICE_MS = 20

/** Where an attempt was published: its work queue, and the worker it was routed to. */
export interface LedgerEntry {
  readonly queue: string
  readonly worker?: string | undefined
}

interface Notice {
  /** Published: attempt id, work queue, routed worker (or ''). */
  readonly p?: readonly (readonly [string, string, string])[]
  /** Gone: attempt ids. */
  readonly g?: readonly string[]
  /** A barrier: the token of a handle waiting for it. */
  readonly b?: string
}

const ignore = (): void => {}

/** The ledger of one transport handle (see the module header). */
export class Ledger {
  readonly #publisher: Publisher
  readonly #exchange: string
  readonly #subscriber: Subscriber
  readonly #entries = new Map<string, LedgerEntry>()
  readonly #queues = new Set<string>()
  readonly #barriers = new Map<string, () => void>()
  #gone: string[] = []
  #scheduled = false

  constructor(connection: RabbitConnection, publisher: Publisher, exchange: string) {
    this.#publisher = publisher
    this.#exchange = exchange
    this.#subscriber = new Subscriber(connection, async ({ channel }) => {
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })
      await channel.bindQueue(queue, exchange, '')
      await channel.consume(
        queue,
        (message) => {
          if (message === null) return
          try {
            this.#apply(JSON.parse(message.content.toString('utf8')) as Notice)
          } catch {
            // Not a notice of ours: ignored.
          }
        },
        { noAck: true },
      )
    })
  }

  /** Starts listening (and again on every connection). */
  start(): Promise<void> {
    return this.#subscriber.start()
  }

  /** Stops listening. */
  close(): Promise<void> {
    return this.#subscriber.close()
  }

  /** The notice to publish ahead of attempts; records them here at once. */
  publishing(attempts: readonly (readonly [attemptId: string, entry: LedgerEntry])[]): Outgoing {
    const p: [string, string, string][] = []
    for (const [id, entry] of attempts) {
      this.#remember(id, entry)
      p.push([id, entry.queue, entry.worker ?? ''])
    }
    return this.#notice({ p })
  }

  /**
   * `attemptId` is in its queue again as a new message (a claimed attempt given back): recorded
   * here and announced to the others; resolves once the broker took the notice.
   */
  async republished(attemptId: string, entry: LedgerEntry): Promise<void> {
    // Its claim announced it gone: a notice not sent yet must not arrive after this one.
    if (this.#gone.includes(attemptId)) this.#gone = this.#gone.filter((id) => id !== attemptId)
    await this.#publisher.publish([this.publishing([[attemptId, entry]])], 'announcing an attempt given back')
  }

  /**
   * `attemptId` is about to leave its queue while still running (a claim): announced at once, not
   * with this turn's others, and resolves once the broker took the notice.
   */
  async goneNow(attemptId: string): Promise<void> {
    this.#entries.delete(attemptId)
    await this.#publisher.publish([this.#notice({ g: [attemptId] })], 'announcing a claimed attempt')
  }

  /** `attemptId` left the broker through this handle: forgotten here, and announced to the others with this turn's. */
  gone(attemptId: string): void {
    this.#entries.delete(attemptId)
    this.#gone.push(attemptId)
    if (!this.#scheduled) {
      this.#scheduled = true
      setTimeout(() => {
        this.#scheduled = false
        const g = this.#gone
        this.#gone = []
        this.#publisher.publish([this.#notice({ g })], 'announcing settled attempts').catch(ignore)
      }, GONE_NOTICE_MS)
    }
  }

  /** `attemptId`'s outcome was heard: forgotten here only (its worker announces it gone when it acks). */
  forget(attemptId: string): void {
    this.#entries.delete(attemptId)
  }

  /**
   * Waits until every notice sent before now was heard, or `timeoutMs` passed. An attempt settled
   * through another handle just before is announced up to {@link GONE_NOTICE_MS} later: the
   * barrier goes out only after that long, so the announcement is ahead of it.
   */
  async sync(timeoutMs: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, GONE_NOTICE_MS + 5))
    const token = randomUUID()
    let timer: NodeJS.Timeout | undefined
    const heard = new Promise<void>((resolve) => {
      this.#barriers.set(token, resolve)
      timer = setTimeout(resolve, timeoutMs)
    })
    try {
      await this.#publisher.publish([this.#notice({ b: token })], 'checking which attempts the broker holds')
      await heard
    } finally {
      clearTimeout(timer)
      this.#barriers.delete(token)
    }
  }

  /** Where `attemptId` was published, if it is published and not gone as far as this handle knows. */
  entry(attemptId: string): LedgerEntry | undefined {
    return this.#entries.get(attemptId)
  }

  /** Every work queue this handle heard of (published to by any handle, or noted with {@link noteQueue}). */
  get queues(): ReadonlySet<string> {
    return this.#queues
  }

  /** Notes a work queue this handle consumes. */
  noteQueue(queue: string): void {
    this.#queues.add(queue)
  }

  #remember(id: string, entry: LedgerEntry): void {
    this.#entries.delete(id)
    this.#entries.set(id, entry)
    this.#queues.add(entry.queue)
    if (this.#entries.size > MAX_REMEMBERED) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
  }

  #apply(notice: Notice): void {
    const published: readonly (readonly [string, string, string])[] = Array.isArray(notice.p) ? notice.p : []
    const gone: readonly string[] = Array.isArray(notice.g) ? notice.g : []
    for (const [id, queue, worker] of published) this.#remember(id, worker === '' ? { queue } : { queue, worker })
    for (const id of gone) this.#entries.delete(id)
    if (typeof notice.b === 'string') this.#barriers.get(notice.b)?.()
  }

  #notice(notice: Notice): Outgoing {
    return { exchange: this.#exchange, routingKey: '', content: Buffer.from(JSON.stringify(notice)), options: { persistent: false, contentType: 'application/json' } }
  }
}
