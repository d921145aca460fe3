/**
 * Group caps shared across owners, on one owner's side: an attempt of a shared group is published
 * only once it holds one of the group's places in the {@link SharedLimiter}.
 *
 * Modes of an attempt here, and what moves it:
 * - **waiting**, in its group's line (in the order the engine dispatched): the head asks the
 *   limiter, one round trip at a time per group so the order holds; a place → **holding** (the
 *   runner moves it on); refused → the group asks again after {@link REFUSED_RETRY_MS}, or at once
 *   when this owner gives a place back; the limiter not answering → after {@link ERROR_RETRY_MS}.
 * - **holding**: its place is a lease, renewed every third of `leaseMs` while any place is held
 *   here. It ends (outcome, cancel, failure) → the place goes back and the group's line moves.
 * - An attempt that ends while it waits leaves the line; one that ends while its request is under
 *   way gives back the place it got. On close, places still held are left to expire.
 * @module
 */
import type { CancelTimer, Clock } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import type { SharedLimiter } from '../core/shared-limiter.js'

/** Wait before a refused group asks again, in ms (places given back by other owners are not announced). */
export const REFUSED_RETRY_MS = 50
/** Wait before asking a limiter that did not answer again, in ms. */
export const ERROR_RETRY_MS = 500

/** One attempt in the gate. */
interface Entry {
  readonly attemptId: string
  readonly group: string
  readonly granted: () => void
  holds: boolean
}

/** The owner's side of shared group caps (see the module comment). */
export class SharedGroupGate {
  readonly #limiter: SharedLimiter
  readonly #groups: Readonly<Record<string, number>>
  readonly #leaseMs: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #entries = new Map<string, Entry>()
  /** Per group, attempts waiting, in the order they came. */
  readonly #lines = new Map<string, Entry[]>()
  /** Groups with a request under way. */
  readonly #asking = new Set<string>()
  #renewTimer: CancelTimer | undefined
  #closed = false

  constructor(limiter: SharedLimiter, groups: Readonly<Record<string, number>>, leaseMs: number, clock: Clock, logger: Logger) {
    this.#limiter = limiter
    this.#groups = groups
    this.#leaseMs = leaseMs
    this.#clock = clock
    this.#logger = logger
  }

  /** Whether `group` is capped here. */
  has(group: string | undefined): group is string {
    return group !== undefined && Object.hasOwn(this.#groups, group)
  }

  /** Puts an attempt in its group's line; `granted` once it holds a place. */
  wait(attemptId: string, group: string, granted: () => void): void {
    const entry: Entry = { attemptId, group, granted, holds: false }
    this.#entries.set(attemptId, entry)
    const line = this.#lines.get(group) ?? []
    line.push(entry)
    this.#lines.set(group, line)
    this.#ask(group)
  }

  /** Attempts waiting for a place. */
  get waiting(): number {
    // Counted from the live entries: lines drop ended ones only when they next move.
    let n = 0
    for (const entry of this.#entries.values()) if (!entry.holds) n++
    return n
  }

  /** The attempt ended: its place goes back (and its group's line moves), or it leaves the line. */
  end(attemptId: string): void {
    const entry = this.#entries.get(attemptId)
    if (entry === undefined) return
    this.#entries.delete(attemptId)
    if (entry.holds) this.#release(entry.group, attemptId)
  }

  /** Stops asking and renewing; places still held expire with their leases. */
  close(): void {
    this.#closed = true
    this.#renewTimer?.()
    this.#renewTimer = undefined
    this.#lines.clear()
    for (const [id, entry] of this.#entries) if (!entry.holds) this.#entries.delete(id)
  }

  #ask(group: string): void {
    if (this.#closed || this.#asking.has(group)) return
    const line = this.#lines.get(group)
    // Attempts that ended while they waited leave here.
    while (line !== undefined && line.length > 0 && this.#entries.get((line[0] as Entry).attemptId) !== line[0]) line.shift()
    const head = line?.[0]
    if (head === undefined) {
      this.#lines.delete(group)
      return
    }
    this.#asking.add(group)
    this.#limiter.tryAcquire(`group:${group}`, this.#groups[group] as number, head.attemptId, this.#leaseMs).then(
      (taken) => {
        this.#asking.delete(group)
        if (!taken) {
          this.#clock.setTimer(REFUSED_RETRY_MS, () => this.#ask(group))
          return
        }
        line?.shift()
        if (this.#entries.get(head.attemptId) !== head) {
          this.#release(group, head.attemptId)
        } else {
          head.holds = true
          this.#armRenewal()
          head.granted()
        }
        this.#ask(group)
      },
      (err: unknown) => {
        this.#asking.delete(group)
        this.#logger.warn('the shared limiter did not answer; trying again', { group, error: err instanceof Error ? err.message : String(err) })
        this.#clock.setTimer(ERROR_RETRY_MS, () => this.#ask(group))
      },
    )
  }

  /** Gives a place back and lets the next of its group in. */
  #release(group: string, holder: string): void {
    this.#limiter
      .release(`group:${group}`, holder)
      .catch((err: unknown) => this.#logger.warn('could not give a shared place back; its lease will expire', { place: `group:${group}`, error: String(err) }))
      .finally(() => this.#ask(group))
  }

  /** Renews the leases of the places held, every third of a lease, while any is held. */
  #armRenewal(): void {
    if (this.#renewTimer !== undefined || this.#closed) return
    this.#renewTimer = this.#clock.setTimer(this.#leaseMs / 3, () => {
      this.#renewTimer = undefined
      const permits = [...this.#entries.values()].flatMap((e) => (e.holds ? [{ key: `group:${e.group}`, holder: e.attemptId }] : []))
      if (permits.length === 0) return
      this.#limiter
        .renew(permits, this.#leaseMs)
        .catch((err: unknown) => this.#logger.warn('could not renew shared places', { count: permits.length, error: String(err) }))
        .finally(() => this.#armRenewal())
    })
  }
}
