/**
 * Keeps the last part of a Redis server's `maxmemory` for the consumers. A server at its limit
 * (with `noeviction`, the only safe policy) refuses every write, the ones consumers need to take
 * work off it included (BullMQ moves a job to active in a script that writes): the queue then
 * wedges, full and undrainable, until someone raises the limit. So writes that **add** work (an
 * enqueue, a publish) are refused before that, once used memory would pass
 * `(1 - reserve) × maxmemory`, while taking, acknowledging and reporting go on and free room.
 *
 * Used memory is the server's last reading (`INFO memory`) plus what this handle wrote since and
 * what it is writing now, each message counted by its JSON size with room for Redis's own
 * bookkeeping. Admission is decided and counted in one synchronous step, so a burst of concurrent
 * writes is counted whole, not judged one by one against the same reading. The reading is
 * refreshed in the background once it is {@link MAX_AGE_MS} old; a write waits for a fresh one only
 * when the estimate is within twice the reserve of the limit (other processes write too), and then
 * for at most {@link READ_TIMEOUT_MS}. While the server is disconnected, writes pass, to fail with
 * their own error; a connected server that answers slowly keeps its last figures.
 * @module
 */
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { within } from '../../core/within.js'
import { describeCause, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** Age past which a reading is refreshed. */
const MAX_AGE_MS = 250
/** How often a server without a `maxmemory` is read again (one may be set at run time). */
const UNLIMITED_RECHECK_MS = 10_000
/** Age past which a reading is refreshed before a write, near the limit. */
const NEAR_MAX_AGE_MS = 20
/** Longest wait for a reading: a server that stopped answering fails the write itself, within its own command timeout. */
const READ_TIMEOUT_MS = 500
/** What Redis and BullMQ keep per message beyond its JSON (the job hash's other fields, key and list overheads). */
const PER_MESSAGE_BYTES = 512
/** The JSON's share: Redis stores strings with some overhead of its own. */
const JSON_FACTOR = 1.25

/** The estimated memory of one message whose body is `jsonBytes` long. */
export function messageBytes(jsonBytes: number): number {
  return Math.ceil(jsonBytes * JSON_FACTOR) + PER_MESSAGE_BYTES
}

/** Refuses writes that add work when the server's memory is nearly full. */
export class MemoryGuard {
  readonly #client: Redis
  readonly #reserve: number
  readonly #scope: ErrorScope
  readonly #logger: Logger
  #readAt = -Infinity
  #used = 0
  #max = 0
  /** Bytes of writes admitted and not finished. */
  #inFlight = 0
  /** Bytes of writes finished since the last reading began (not in it). */
  #sinceRead = 0
  #reading: Promise<void> | undefined
  #unreadable = false
  /** The last reading found the server disconnected: it is read again as often as a limited one. */
  #down = false

  /** `reserve`: the share of `maxmemory` kept free (0 turns the guard off). */
  constructor(client: Redis, reserve: number, scope: ErrorScope, logger: Logger) {
    this.#client = client
    this.#reserve = reserve
    this.#scope = scope
    this.#logger = logger
  }

  /**
   * Admits a write of `bytes()` (its estimated memory, computed only when the server has a
   * `maxmemory`) and resolves with the function to call once it finished (written or failed);
   * rejects `scope`'s code (retryable, `details.outOfMemory`) when it would reach the reserve.
   */
  async admit(operation: string, bytes: () => number): Promise<() => void> {
    if (this.#reserve === 0 || this.#unreadable) return done
    const age = performance.now() - this.#readAt
    if (this.#readAt === -Infinity || (this.#near() && age > NEAR_MAX_AGE_MS)) await this.#read()
    // A server without a limit is looked at again now and then: one may be set at run time.
    else if (age > (this.#max > 0 || this.#down ? MAX_AGE_MS : UNLIMITED_RECHECK_MS)) void this.#read()
    if (this.#max === 0) return done
    // From here to the count, nothing awaits: concurrent writes are judged one after another.
    const size = bytes()
    const limit = this.#max * (1 - this.#reserve)
    const estimate = this.#estimate()
    if (estimate + size > limit) {
      throw new TaskweaveError(
        this.#scope.code,
        `${scopeText(this.#scope)}: ${operation} refused: the server's memory is nearly full (about ${mib(estimate)} used of maxmemory ${mib(this.#max)}; the last ${Math.round(this.#reserve * 100)}% is kept so consumers can still take work off it). Try again once consumers have drained some, or raise maxmemory`,
        { retryable: true, details: { location: this.#scope.location, operation, outOfMemory: true, usedBytes: Math.round(estimate), maxmemoryBytes: this.#max, ...(this.#scope.queue === undefined ? {} : { queue: this.#scope.queue }) } },
      )
    }
    this.#inFlight += size
    let finished = false
    return () => {
      if (finished) return
      finished = true
      this.#inFlight -= size
      this.#sinceRead += size
    }
  }

  #estimate(): number {
    return this.#used + this.#sinceRead + this.#inFlight
  }

  /** Within twice the reserve of the limit: close enough that other processes' writes matter. */
  #near(): boolean {
    return this.#max > 0 && this.#estimate() >= this.#max * (1 - 2 * this.#reserve)
  }

  #read(): Promise<void> {
    this.#reading ??= this.#readOnce().finally(() => (this.#reading = undefined))
    return this.#reading
  }

  async #readOnce(): Promise<void> {
    // Writes finished before the reading began are in it; later ones are counted on top.
    const counted = this.#sinceRead
    let info: string
    try {
      info = await within(this.#client.info('memory'), READ_TIMEOUT_MS, () => new Error(`no answer within ${READ_TIMEOUT_MS} ms`))
    } catch (err) {
      this.#readAt = performance.now()
      // A server that is down fails the write itself, with its own error: no stale figure refuses
      // it meanwhile. One that is connected but slow (loaded, nearly full) keeps its last
      // figures: that is when they matter. One that refuses INFO (a managed service) cannot be
      // watched: the guard stands aside and says so once.
      if (this.#client.status !== 'ready') {
        this.#max = 0
        this.#down = true
      }
      if (/unknown command|NOPERM|no permissions/i.test(describeCause(err))) {
        this.#unreadable = true
        this.#logger.warn(`${scopeText(this.#scope)}: INFO memory is refused, so writes are not held back before the server's memory is full; a full server also refuses the writes consumers need (${describeCause(err)})`)
      }
      return
    }
    this.#used = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0)
    this.#max = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0)
    this.#readAt = performance.now()
    this.#down = false
    this.#sinceRead = Math.max(0, this.#sinceRead - counted)
  }
}

function done(): void {}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`
}
