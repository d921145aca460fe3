/**
 * Adaptive concurrency for one rate key: additive increase, multiplicative decrease (AIMD).
 *
 * Why AIMD and not a latency gradient (Netflix's gradient2, Vegas): an LLM provider does not slow
 * down as it nears its quota, it answers 429; and a call's latency is dominated by how many tokens
 * it writes, which varies tenfold between prompts. A gradient algorithm reads that variance as
 * congestion. AIMD reacts only to the signals a provider actually sends (429, timeouts), grows by
 * one call per window of healthy completions (one "round trip" of the current limit), and halves
 * at once on trouble, which is what keeps 429s rare while probing upward.
 *
 * One decrease per congestion episode: every call that was already in flight when the limit was
 * halved may come back with a 429 too; those say nothing new and do not halve it again.
 *
 * Slow start, as in TCP: until the first 429 or timeout the limit grows by one per healthy call
 * (it doubles every window), so a key finds its level in a few round trips instead of climbing
 * one call per window from 4 to the 30 or so a provider at 600 requests a minute with one-second
 * answers takes. After the first congestion signal it grows linearly.
 * @module
 */
import type { AdaptiveBounds } from '../core/rate-spec.js'

/** The adaptive limit of one key. */
export class AimdLimit {
  #limit: number
  #healthy = 0
  #decreasedAt = -Infinity
  /** True until the first congestion signal. */
  #slowStart = true
  readonly #bounds: AdaptiveBounds
  /** Times the limit was halved, and raised. */
  decreases = 0
  increases = 0

  constructor(bounds: AdaptiveBounds) {
    this.#bounds = bounds
    this.#limit = bounds.initial
  }

  /** Calls allowed in flight now. */
  get limit(): number {
    return this.#limit
  }

  /** A call finished well: the limit grows by one (in slow start), else by one after a window of `limit` such calls. */
  succeeded(): boolean {
    if (this.#slowStart && this.#limit < this.#bounds.max) {
      this.#limit++
      this.increases++
      return true
    }
    if (++this.#healthy < this.#limit) return false
    this.#healthy = 0
    if (this.#limit >= this.#bounds.max) return false
    this.#limit++
    this.increases++
    return true
  }

  /**
   * Call number `started` (of the key's calls, counted at start) hit a 429 or a timeout, when
   * `startedSoFar` calls have started: halve the limit, unless that call started before the last
   * halving (it belongs to an episode already answered).
   */
  congested(started: number, startedSoFar: number): boolean {
    this.#healthy = 0
    this.#slowStart = false
    if (started < this.#decreasedAt) return false
    this.#decreasedAt = startedSoFar
    const next = Math.max(this.#bounds.min, Math.floor(this.#limit / 2))
    if (next === this.#limit) return false
    this.#limit = next
    this.decreases++
    return true
  }
}
