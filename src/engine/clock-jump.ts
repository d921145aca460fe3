/**
 * Wall-clock jumps (an NTP step, a VM resumed, an operator's `date -s`). Timeouts, retry delays
 * and timers of a live run use the monotonic clock, which never jumps. Wall time is written only
 * where a later process must read it: lease expiries and a retry's due time in the journal. So:
 *
 * - a resumed retry waits until its recorded due time, but never longer than its own delay: a
 *   clock that went back does not hold it for the length of the jump; one that went forward makes
 *   it due at once (by the wall clock, the delay has passed);
 * - a jump is said in the log, found by comparing the two clocks while the engine runs, and at a
 *   resume by a journal whose newest entry is later than now.
 * @module
 */
import type { Logger } from '../core/logger.js'
import type { JournalEntry } from '../core/store.js'

/** Smallest difference between the two clocks' progress counted as a jump. */
export const CLOCK_JUMP_MS = 2000

/** How long a resumed retry still waits: until `retryAt` (wall time), at most `delayMs` from `now`. */
export function retryDelayAfterResume(retryAt: number, delayMs: number | undefined, now: number): number {
  const left = Math.max(0, retryAt - now)
  return delayMs === undefined ? left : Math.min(left, delayMs)
}

/** Compares the wall clock's progress with the monotonic clock's between two looks. */
export class ClockJumpWatch {
  #wall: number
  #mono: number

  constructor(wall: number, mono: number) {
    this.#wall = wall
    this.#mono = mono
  }

  /** How far the wall clock jumped since the last look (positive: forward), or 0 when it kept pace. */
  look(wall: number, mono: number): number {
    const jump = wall - this.#wall - (mono - this.#mono)
    this.#wall = wall
    this.#mono = mono
    return Math.abs(jump) >= CLOCK_JUMP_MS ? jump : 0
  }
}

/** `+2 h 0 min`, `-35 s`: a jump for a log line. */
export function describeJump(ms: number): string {
  const sign = ms < 0 ? '-' : '+'
  const abs = Math.abs(ms)
  if (abs < 60_000) return `${sign}${Math.round(abs / 1000)} s`
  const minutes = Math.round(abs / 60_000)
  return minutes < 60 ? `${sign}${minutes} min` : `${sign}${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** How far ahead of now a journal's newest entry may be before a resume says the clock went back. */
const JOURNAL_AHEAD_MS = 60_000

/**
 * Warns when the newest entry of the journal being resumed was written later than `now`: this
 * machine's wall clock went back since (or is behind the one of the process that wrote it).
 */
export function warnIfJournalAhead(entries: readonly JournalEntry[], runId: string, now: number, logger: Logger): void {
  let newest = -Infinity
  for (const entry of entries) if (entry.at > newest) newest = entry.at
  const ahead = newest - now
  if (!(ahead > JOURNAL_AHEAD_MS)) return
  logger.warn(
    `run "${runId}": its journal's newest entry was written ${describeJump(ahead).slice(1)} later than now (${new Date(newest).toISOString()}): the wall clock went back since, or this machine's is behind the one that wrote it. Retries recorded in it wait at most their own delay`,
    { runId, aheadMs: Math.round(ahead) },
  )
}
