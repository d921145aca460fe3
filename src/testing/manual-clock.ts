/**
 * A clock that moves only when told to. Timers fire in due-time order (FIFO among equal times)
 * when `advance()` or `runUntilSettled()` moves time past them, so hour-long backoffs and timeouts
 * run instantly and the same way every time.
 * @module
 */
import type { Clock, CancelTimer } from '../core/clock.js'
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'

/** Throws `TW_INVALID_OPTION` unless `value` is a finite number (a NaN time would stop every timer firing). */
function checkTime(value: unknown, field: string, min = -Infinity): asserts value is number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min)) throw new InvalidOptionError(field, min === 0 ? 'a finite number of ms, 0 or more' : 'a finite number of ms', value)
}

interface Timer {
  readonly due: number
  readonly seq: number
  readonly fn: () => void
  cancelled: boolean
}

/** A deterministic {@link Clock} for tests and simulations. */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #timers: Timer[] = []
  /** Wall time (epoch ms) at monotonic time 0. */
  #epoch: number

  /**
   * @param start the initial monotonic time, in ms
   * @param epoch the wall time (epoch ms) that monotonic time 0 stands for @default 0 (1970-01-01T00:00:00Z), so reports are reproducible
   */
  constructor(start = 0, epoch = 0) {
    checkTime(start, 'start')
    checkTime(epoch, 'epoch')
    this.#now = start
    this.#epoch = epoch
  }

  now(): number {
    return this.#now
  }

  /** Wall time in epoch ms: the epoch plus the monotonic time, so it moves with `advance()`. */
  wallNow(): number {
    return this.#epoch + this.#now
  }

  /** Sets the wall time the clock reports now (epoch ms), without moving monotonic time or firing timers. */
  setWallTime(epochMs: number): void {
    checkTime(epochMs, 'epochMs')
    this.#epoch = epochMs - this.#now
  }

  setTimer(ms: number, fn: () => void): CancelTimer {
    // Infinity is a timer that never fires; NaN would sort nowhere and break the order of the rest.
    if (typeof ms !== 'number' || Number.isNaN(ms)) throw new InvalidOptionError('ms', 'a number of ms', ms)
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn)
    const timer: Timer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false }
    this.#insert(timer)
    return () => {
      timer.cancelled = true
    }
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length
  }

  /** Due time of the next timer, or undefined when none is pending. */
  nextDue(): number | undefined {
    this.#dropCancelled()
    return this.#timers[0]?.due
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    checkTime(ms, 'ms', 0)
    this.advanceTo(this.#now + ms)
  }

  /** Moves time to `time` (never backwards), firing due timers in order. */
  advanceTo(time: number): void {
    checkTime(time, 'time')
    for (;;) {
      this.#dropCancelled()
      const next = this.#timers[0]
      if (next === undefined || next.due > time) break
      this.#timers.shift()
      this.#now = Math.max(this.#now, next.due)
      next.fn()
    }
    this.#now = Math.max(this.#now, time)
  }

  /** Jumps to the next timer and fires it (and any others due at the same time). Returns false when none was pending. */
  advanceToNext(): boolean {
    const due = this.nextDue()
    if (due === undefined) return false
    this.advanceTo(due)
    return true
  }

  /**
   * Drives time until `promise` settles: lets pending callbacks run (a macrotask turn), then jumps
   * to the next timer, and repeats. For code whose only waits are on this clock; a wait on
   * something else (real I/O) is given real time, up to `idleTimeoutMs` with no timer on this
   * clock, after which it rejects `TW_TIMEOUT` rather than poll for ever.
   */
  async runUntilSettled<T>(promise: Promise<T>, options: { readonly maxSteps?: number; readonly idleTimeoutMs?: number } = {}): Promise<T> {
    const maxSteps = options.maxSteps ?? 10_000_000
    const idleTimeoutMs = options.idleTimeoutMs ?? 10_000
    checkTime(maxSteps, 'maxSteps', 0)
    checkTime(idleTimeoutMs, 'idleTimeoutMs', 0)
    let settled = false
    const done = promise.then(
      (value) => {
        settled = true
        return value
      },
      (err: unknown) => {
        settled = true
        throw err
      },
    )
    let idleSince: number | undefined
    for (let step = 0; !settled; step++) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (settled) break
      if (this.advanceToNext()) idleSince = undefined
      else {
        // Nothing scheduled on this clock: the promise waits on something else (real I/O); yield and look again.
        idleSince ??= performance.now()
        if (performance.now() - idleSince > idleTimeoutMs) throw new TaskweaveError('TW_TIMEOUT', `ManualClock.runUntilSettled: the promise has not settled, and nothing was scheduled on this clock for ${idleTimeoutMs} ms (real time): it waits on something else`, { retryable: false, details: { idleTimeoutMs } })
        await new Promise<void>((resolve) => setTimeout(resolve, 1))
      }
      if (step > maxSteps) throw new TaskweaveError('TW_TIMEOUT', `ManualClock.runUntilSettled: still not settled after ${maxSteps} steps`, { retryable: false, details: { maxSteps } })
    }
    return done
  }

  #insert(timer: Timer): void {
    const timers = this.#timers
    let lo = 0
    let hi = timers.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const t = timers[mid] as Timer
      if (t.due < timer.due || (t.due === timer.due && t.seq < timer.seq)) lo = mid + 1
      else hi = mid
    }
    timers.splice(lo, 0, timer)
  }

  #dropCancelled(): void {
    while (this.#timers[0]?.cancelled === true) this.#timers.shift()
  }
}
