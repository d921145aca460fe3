/**
 * Keeps the last part of a Redis server's `maxmemory` for the consumers. A server at its limit
 * (with `noeviction`, the only safe policy) refuses every write, the ones consumers need to take
 * work off it included (BullMQ moves a job to active in a script that writes): the queue then
 * wedges, full and undrainable, until someone raises the limit. So writes that **add** work (an
 * enqueue, a publish) are refused before that, once used memory passes `(1 - reserve) × maxmemory`,
 * while taking, acknowledging and reporting go on and free room.
 *
 * The reading (`INFO memory`) is at most {@link MAX_AGE_MS} or {@link MAX_WRITES} writes old, and
 * taken before every write once used memory is within twice the reserve of the limit: a burst of
 * writes between two readings lands in the reserve, not past the limit.
 * @module
 */
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { describeCause, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** Oldest reading trusted far from the limit. */
const MAX_AGE_MS = 250
/** Most writes admitted on one reading far from the limit. */
const MAX_WRITES = 32

/** Refuses writes that add work when the server's memory is nearly full. */
export class MemoryGuard {
  readonly #client: Redis
  readonly #reserve: number
  readonly #scope: ErrorScope
  readonly #logger: Logger
  #readAt = -Infinity
  #writes = 0
  #used = 0
  #max = 0
  #reading: Promise<void> | undefined
  #unreadable = false

  /** `reserve`: the share of `maxmemory` kept free (0 turns the guard off). */
  constructor(client: Redis, reserve: number, scope: ErrorScope, logger: Logger) {
    this.#client = client
    this.#reserve = reserve
    this.#scope = scope
    this.#logger = logger
  }

  /** Resolves when `operation` may add work; rejects `scope`'s code (retryable, `details.outOfMemory`) when the reserve is reached. */
  async admit(operation: string): Promise<void> {
    if (this.#reserve === 0 || this.#unreadable) return
    const near = this.#max > 0 && this.#used >= this.#max * (1 - 2 * this.#reserve)
    if (near || this.#writes >= MAX_WRITES || Date.now() - this.#readAt > MAX_AGE_MS) await this.#read()
    if (this.#max === 0) return
    const limit = this.#max * (1 - this.#reserve)
    if (this.#used >= limit) {
      throw new TaskweaveError(
        this.#scope.code,
        `${scopeText(this.#scope)}: ${operation} refused: the server's memory is nearly full (${mib(this.#used)} used of maxmemory ${mib(this.#max)}; the last ${Math.round(this.#reserve * 100)}% is kept so consumers can still take work off it). Try again once consumers have drained some, or raise maxmemory`,
        { retryable: true, details: { location: this.#scope.location, operation, outOfMemory: true, usedBytes: this.#used, maxmemoryBytes: this.#max, ...(this.#scope.queue === undefined ? {} : { queue: this.#scope.queue }) } },
      )
    }
    this.#writes++
  }

  #read(): Promise<void> {
    this.#reading ??= this.#readOnce().finally(() => (this.#reading = undefined))
    return this.#reading
  }

  async #readOnce(): Promise<void> {
    let info: string
    try {
      info = await this.#client.info('memory')
    } catch (err) {
      // A server that is down fails the write itself, with its own error. One that refuses INFO
      // (a managed service) cannot be watched: the guard stands aside and says so once.
      if (/unknown command|NOPERM|no permissions/i.test(describeCause(err))) {
        this.#unreadable = true
        this.#logger.warn(`${scopeText(this.#scope)}: INFO memory is refused, so writes are not held back before the server's memory is full; a full server also refuses the writes consumers need (${describeCause(err)})`)
      }
      return
    }
    this.#used = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0)
    this.#max = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0)
    this.#readAt = Date.now()
    this.#writes = 0
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`
}
