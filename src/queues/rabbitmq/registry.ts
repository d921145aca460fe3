/**
 * Which workers are alive: heartbeats on a fanout exchange (`prefix:workers`). A worker's
 * `announce()` publishes its `WorkerInfo` there; every handle listens on an exclusive queue of
 * its own and remembers the last info of each worker with when it arrived (arrival time on this
 * host, so clocks that differ between hosts do not matter).
 *
 * A handle that starts listening knows nobody yet, so it sends a `ping`: every handle that
 * announced a worker within {@link ANSWER_PINGS_WITHIN_HEARTBEATS} heartbeats (at least a minute)
 * announces it again at once. A fresh handle thus knows the live workers within a round trip
 * rather than a heartbeat interval (workers that announced last more than that ago are heard at
 * their next heartbeat). {@link WorkerRegistry.settled} waits for that round trip: until the
 * handle heard its own ping come back (every handle has it by then) and a moment for the answers.
 * Heartbeats are not persistent and not kept: a worker is known only while it keeps announcing.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { WorkerInfo } from '../../core/transport.js'
import type { RabbitConnection } from './connection.js'
import type { Publisher } from './publisher.js'
import { Subscriber } from './subscriber.js'

/** A handle answers a ping for the workers it announced within this many heartbeats (and at least a minute). */
export const ANSWER_PINGS_WITHIN_HEARTBEATS = 20
/** After its own ping came back, how long a handle waits for the answers of the others (they heard the ping when it did). */
export const PING_ANSWERS_MS = 300
/** A worker that missed this many heartbeats in a row is taken for gone (its claims are no longer held). */
export const LIVE_HEARTBEATS = 3

/** How long the attempts a worker last listed as held count as held after it went quiet (see `heldByLive`). */
const HOLDING_TRUSTED_MS = 5 * 60_000
/** Longest wait in {@link WorkerRegistry.settled} for a ping that does not come back (a broker that does not answer). */
const SETTLE_AT_MOST_MS = 3_000

/** A ping carries its sender's id, so the sender knows when it came back. */
type Heartbeat = { readonly kind: 'announce'; readonly info: WorkerInfo } | { readonly kind: 'ping'; readonly id?: string }

interface Heard {
  readonly info: WorkerInfo
  /** When it arrived here (epoch ms). */
  readonly at: number
}

const ignore = (): void => {}

/** The worker registry of a transport handle (see the module header). */
export class WorkerRegistry {
  readonly #publisher: Publisher
  readonly #exchange: string
  readonly #subscriber: Subscriber
  readonly #heard = new Map<string, Heard>()
  readonly #mine = new Map<string, Heard>()
  readonly #answerWithinMs: number
  /** The id of this handle's first ping. */
  readonly #pingId = randomUUID()
  #answered: (() => void) | undefined
  /** Resolved {@link PING_ANSWERS_MS} after this handle's first ping came back. */
  readonly #settled: Promise<void>

  constructor(connection: RabbitConnection, publisher: Publisher, exchange: string, heartbeatMs: number) {
    this.#answerWithinMs = Math.max(60_000, ANSWER_PINGS_WITHIN_HEARTBEATS * heartbeatMs)
    this.#settled = new Promise<void>((resolve) => (this.#answered = resolve))
    this.#publisher = publisher
    this.#exchange = exchange
    this.#subscriber = new Subscriber(connection, async ({ channel }) => {
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })
      await channel.bindQueue(queue, exchange, '')
      await channel.consume(queue, (message) => {
        if (message === null) return
        try {
          this.#heard_(JSON.parse(message.content.toString('utf8')) as Heartbeat)
        } catch {
          // Not a heartbeat of ours: ignored.
        }
      }, { noAck: true })
      this.#send({ kind: 'ping', id: this.#pingId }).catch(ignore)
    })
  }

  /** Starts listening (and again on every connection). */
  start(): Promise<void> {
    return this.#subscriber.start()
  }

  /** Says `info.worker` is alive; known to this handle at once, to others once the broker passed it on. */
  async announce(info: WorkerInfo): Promise<void> {
    const heard = { info, at: Date.now() }
    this.#heard.set(info.worker, heard)
    this.#mine.set(info.worker, heard)
    await this.#send({ kind: 'announce', info })
  }

  /**
   * Resolves once this handle has heard the live workers' answers to its first ping (see the
   * module header), or after a few seconds if the ping never came back: what a fresh handle asks
   * before it lists the workers.
   */
  async settled(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_AT_MOST_MS)))])
    clearTimeout(timer)
  }

  /** The workers heard from within `withinMs`, as they announced themselves (without the attempts they hold, which only `holds()` reads). */
  workers(withinMs: number): WorkerInfo[] {
    const since = Date.now() - withinMs
    const alive: WorkerInfo[] = []
    for (const heard of this.#heard.values()) {
      if (heard.at < since) continue
      if (heard.info.holding === undefined) alive.push(heard.info)
      else {
        const { holding: _holding, ...info } = heard.info
        alive.push(info)
      }
    }
    return alive
  }

  /**
   * The attempts claimed by workers still alive: heard from within three of their heartbeats
   * (`defaultHeartbeatMs` for a worker that does not say its own).
   */
  claimedByLive(defaultHeartbeatMs: number): Set<string> {
    const now = Date.now()
    const claimed = new Set<string>()
    for (const heard of this.#heard.values()) {
      const list = heard.info.claimed
      if (!Array.isArray(list) || list.length === 0) continue
      const every = typeof heard.info.heartbeatMs === 'number' && heard.info.heartbeatMs > 0 ? heard.info.heartbeatMs : defaultHeartbeatMs
      if (heard.at < now - LIVE_HEARTBEATS * every) continue
      for (const id of list) if (typeof id === 'string') claimed.add(id)
    }
    return claimed
  }

  /**
   * What the workers still alive hold (heard from within three of their heartbeats): the attempts
   * they list, and the queues some live worker consumes without listing what it holds (an older
   * worker): an attempt of such a queue may be running unlisted. `slowestHeartbeatMs`: the longest
   * heartbeat among them (what a newly taken attempt may wait to be listed).
   */
  heldByLive(defaultHeartbeatMs: number): { readonly held: Set<string>; readonly unlisted: Set<string>; readonly slowestHeartbeatMs: number } {
    const now = Date.now()
    const held = new Set<string>()
    const unlisted = new Set<string>()
    let slowestHeartbeatMs = defaultHeartbeatMs
    for (const heard of this.#heard.values()) {
      const every = typeof heard.info.heartbeatMs === 'number' && heard.info.heartbeatMs > 0 ? heard.info.heartbeatMs : defaultHeartbeatMs
      const list = heard.info.holding
      // What a worker last said it holds stays held long after it went quiet: its deliveries are
      // unacknowledged, so if it died the broker puts them back in their queue (which then is not
      // empty), and if it lives but its heartbeats do not arrive, it still runs them.
      if (Array.isArray(list) && heard.at >= now - Math.max(HOLDING_TRUSTED_MS, 20 * every)) for (const id of list) if (typeof id === 'string') held.add(id)
      if (heard.at < now - LIVE_HEARTBEATS * every) continue
      slowestHeartbeatMs = Math.max(slowestHeartbeatMs, every)
      if (!Array.isArray(list)) {
        for (const queue of heard.info.queues) unlisted.add(queue)
        unlisted.add(heard.info.worker)
      }
    }
    return { held, unlisted, slowestHeartbeatMs }
  }

  /** Stops listening; a {@link settled} wait ends at once. */
  close(): Promise<void> {
    this.#answered?.()
    this.#answered = undefined
    return this.#subscriber.close()
  }

  #heard_(heartbeat: Heartbeat): void {
    if (heartbeat.kind === 'announce' && typeof heartbeat.info?.worker === 'string') {
      this.#heard.set(heartbeat.info.worker, { info: heartbeat.info, at: Date.now() })
      // Forget workers not heard from for long: a registry that runs for weeks stays small.
      if (this.#heard.size > 1000) for (const [id, h] of this.#heard) if (h.at < Date.now() - 10 * this.#answerWithinMs) this.#heard.delete(id)
    } else if (heartbeat.kind === 'ping') {
      if (heartbeat.id === this.#pingId && this.#answered !== undefined) {
        const answered = this.#answered
        this.#answered = undefined
        setTimeout(answered, PING_ANSWERS_MS).unref()
      }
      const since = Date.now() - this.#answerWithinMs
      for (const mine of this.#mine.values()) if (mine.at >= since) this.#send({ kind: 'announce', info: mine.info }).catch(ignore)
    }
  }

  async #send(heartbeat: Heartbeat): Promise<void> {
    await this.#publisher.publish([{ exchange: this.#exchange, routingKey: '', content: Buffer.from(JSON.stringify(heartbeat)), options: { persistent: false, contentType: 'application/json' } }], 'announcing a worker')
  }
}
