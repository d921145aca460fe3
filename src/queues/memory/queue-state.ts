/**
 * The state of one memory queue, shared by every handle opened on its name: where each message
 * is, and the queue's counts. It decides nothing about retries (the consumer's handle does, from
 * its own retry policy) and only moves messages between places:
 *
 * - **ready** (per-level FIFO) → `take()` → **processing**, under a {@link Lease};
 * - **processing** → `complete` (gone, counted) | `retry(delay)` (→ delayed, or ready at once) |
 *   `bury(reason)` (→ dead letters);
 * - **delayed** → its timer on the queue's clock → ready;
 * - **dead letters** → `requeueDead` → ready, with deliveries reset.
 *
 * A lease is current while the message is in processing under that very lease object; settling a
 * lease that is no longer current (settled already, or given back when its consumer closed)
 * changes nothing and returns false, so a late settle can never remove a message that was
 * delivered again since. Watchers hear `ready` whenever a message becomes ready and `destroyed`
 * once, when the queue is removed.
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { CancelTimer, Clock } from '../../core/clock.js'
import { setClockTimer } from '../../core/clock-timer.js'
import { QueueFullError } from '../../core/errors.js'
import type { QueueStats } from '../../core/queue.js'
import { ReadyList } from './ready-list.js'

/** A message as the memory queue keeps it. */
export interface StoredMessage {
  readonly id: string
  /** The body's JSON text: every delivery parses a fresh copy. */
  readonly text: string
  /** Its priority level, 0…9. */
  readonly priority: number
  /** Wall time of its first enqueue (epoch ms). */
  readonly enqueuedAt: number
  /** A name the transport looks messages up by (the attempt id), or undefined. */
  readonly key: string | undefined
  /** Deliveries made so far. */
  deliveries: number
}

/** A consumer's hold on one message being processed. */
export interface Lease {
  readonly message: StoredMessage
  /** When it was taken, on the queue's monotonic clock. */
  readonly startedAt: number
}

/** A message in the dead letters. */
export interface BuriedMessage {
  readonly message: StoredMessage
  readonly reason: string
  readonly deadLetteredAt: number
}

/** One message to add. */
export interface NewMessage {
  readonly text: string
  readonly priority: number
  readonly delayMs: number
  readonly key?: string
}

/** What a watcher hears. */
export type QueueEvent = 'ready' | 'destroyed'

/** The shared state of one named memory queue. */
export class QueueState {
  readonly #ready = new ReadyList<StoredMessage>()
  readonly #delayed = new Map<StoredMessage, CancelTimer>()
  readonly #processing = new Map<StoredMessage, Lease>()
  readonly #dead = new Map<string, BuriedMessage>()
  readonly #watchers = new Set<(event: QueueEvent) => void>()
  /** How many live (not dead-lettered) messages carry each key. */
  readonly #keys = new Map<string, number>()
  // A random prefix keeps ids unique across a queue destroyed and created again under one name.
  readonly #idPrefix = randomBytes(4).toString('hex')
  #nextId = 0
  #completed = 0
  #failed = 0
  #processingMsTotal = 0
  #destroyed = false

  constructor(
    readonly name: string,
    readonly clock: Clock,
  ) {}

  /** Whether {@link destroy} was called: the state holds nothing and takes nothing more. */
  get destroyed(): boolean {
    return this.#destroyed
  }

  /**
   * Adds messages, all or none: refused with `TW_QUEUE_FULL` when the ready messages plus these
   * would pass `maxSize`. Their ids, in order.
   */
  push(messages: readonly NewMessage[], maxSize: number): string[] {
    if (this.#ready.size + messages.length > maxSize) throw new QueueFullError(this.name, maxSize)
    const ids: string[] = []
    const at = this.clock.wallNow()
    let anyReady = false
    for (const m of messages) {
      const message: StoredMessage = { id: `${this.#idPrefix}-${++this.#nextId}`, text: m.text, priority: m.priority, enqueuedAt: at, key: m.key, deliveries: 0 }
      if (message.key !== undefined) this.#keys.set(message.key, (this.#keys.get(message.key) ?? 0) + 1)
      ids.push(message.id)
      if (this.#schedule(message, m.delayMs)) anyReady = true
    }
    if (anyReady) this.#notify('ready')
    return ids
  }

  /** Takes the next ready message (highest level, oldest first) under a new lease, counting the delivery. */
  take(): Lease | undefined {
    const message = this.#ready.shift()
    if (message === undefined) return undefined
    message.deliveries++
    const lease: Lease = { message, startedAt: this.clock.now() }
    this.#processing.set(message, lease)
    return lease
  }

  /** Whether `lease` still holds its message (not settled, not given back). */
  holds(lease: Lease): boolean {
    return this.#processing.get(lease.message) === lease
  }

  /** Acknowledged: the message leaves the queue and counts as completed. */
  complete(lease: Lease): boolean {
    if (!this.#release(lease)) return false
    this.#completed++
    this.#processingMsTotal += Math.max(0, this.clock.now() - lease.startedAt)
    this.#forget(lease.message)
    return true
  }

  /** Back to the queue after `delayMs` (ready at once for 0); `failed` counts it as a failed delivery. */
  retry(lease: Lease, delayMs: number, failed: boolean): boolean {
    if (!this.#release(lease)) return false
    if (failed) this.#failed++
    if (this.#schedule(lease.message, delayMs)) this.#notify('ready')
    return true
  }

  /** To the dead letters with `reason`; `failed` counts it as a failed delivery. */
  bury(lease: Lease, reason: string, failed: boolean): boolean {
    if (!this.#release(lease)) return false
    if (failed) this.#failed++
    this.#forget(lease.message)
    this.#dead.set(lease.message.id, { message: lease.message, reason, deadLetteredAt: this.clock.wallNow() })
    return true
  }

  /** The oldest `limit` dead letters. */
  deadLetters(limit: number): BuriedMessage[] {
    const list: BuriedMessage[] = []
    for (const buried of this.#dead.values()) {
      if (list.length >= limit) break
      list.push(buried)
    }
    return list
  }

  /** Puts dead letters back, ready at once with deliveries reset; the ids found (all when `ids` is undefined). */
  requeueDead(ids: readonly string[] | undefined): string[] {
    const chosen = ids === undefined ? [...this.#dead.keys()] : [...new Set(ids)].filter((id) => this.#dead.has(id))
    for (const id of chosen) {
      const { message } = this.#dead.get(id) as BuriedMessage
      this.#dead.delete(id)
      message.deliveries = 0
      if (message.key !== undefined) this.#keys.set(message.key, (this.#keys.get(message.key) ?? 0) + 1)
      this.#ready.push(message.priority, message)
    }
    if (chosen.length > 0) this.#notify('ready')
    return chosen
  }

  /** Deletes every dead letter; how many. */
  purgeDead(): number {
    const count = this.#dead.size
    this.#dead.clear()
    return count
  }

  /** Removes every ready and delayed message; how many. */
  purge(): number {
    const ready = this.#ready.drain()
    for (const message of ready) this.#forget(message)
    let count = ready.length
    for (const [message, cancel] of this.#delayed) {
      cancel()
      this.#forget(message)
      count++
    }
    this.#delayed.clear()
    return count
  }

  /** Whether a live message (ready, delayed or processing) carries `key`. */
  hasKey(key: string): boolean {
    return (this.#keys.get(key) ?? 0) > 0
  }

  stats(): QueueStats {
    return {
      pending: this.#ready.size,
      delayed: this.#delayed.size,
      processing: this.#processing.size,
      completed: this.#completed,
      failed: this.#failed,
      deadLettered: this.#dead.size,
      meanProcessingMs: this.#completed === 0 ? 0 : this.#processingMsTotal / this.#completed,
      countsScope: 'queue',
    }
  }

  /** Hears `ready` (a message became ready) and `destroyed`; returns the unsubscribe function. */
  watch(watcher: (event: QueueEvent) => void): () => void {
    this.#watchers.add(watcher)
    return () => this.#watchers.delete(watcher)
  }

  /** Drops everything (timers included) and tells the watchers; leases held become stale. */
  destroy(): void {
    if (this.#destroyed) return
    this.purge()
    this.#processing.clear()
    this.#dead.clear()
    this.#keys.clear()
    this.#destroyed = true
    this.#notify('destroyed')
    this.#watchers.clear()
  }

  #release(lease: Lease): boolean {
    if (this.#processing.get(lease.message) !== lease) return false
    this.#processing.delete(lease.message)
    return true
  }

  /** Puts `message` in ready (true) or on a timer (false). */
  #schedule(message: StoredMessage, delayMs: number): boolean {
    if (delayMs <= 0) {
      this.#ready.push(message.priority, message)
      return true
    }
    const cancel = setClockTimer(this.clock, delayMs, () => {
      if (!this.#delayed.delete(message)) return
      this.#ready.push(message.priority, message)
      this.#notify('ready')
    })
    this.#delayed.set(message, cancel)
    return false
  }

  #forget(message: StoredMessage): void {
    if (message.key === undefined) return
    const count = (this.#keys.get(message.key) ?? 0) - 1
    if (count > 0) this.#keys.set(message.key, count)
    else this.#keys.delete(message.key)
  }

  #notify(event: QueueEvent): void {
    for (const watcher of [...this.#watchers]) watcher(event)
  }
}
