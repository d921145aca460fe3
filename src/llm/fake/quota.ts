/**
 * The fake provider's quotas: a request bucket (`rpm`) and a token bucket (`tpm`), both refilled
 * continuously over the window. A request is admitted only if both buckets hold what it needs,
 * and then takes from both at once; a refused request takes nothing (a 429 costs nothing, as at
 * OpenAI).
 * @module
 */
import { TokenBucket } from '../../core/token-bucket.js'

/** Which quota refused a request. */
export type QuotaLimit = 'requests' | 'tokens'

/** The outcome of {@link Quota.admit}. */
export type Admission =
  | { readonly ok: true }
  /**
   * Refused. `waitMs` is how long until both buckets hold enough; `Infinity` when the request
   * needs more tokens than the token bucket can ever hold (`limit` is then `tokens`).
   */
  | { readonly ok: false; readonly limit: QuotaLimit; readonly waitMs: number }

/** Quotas per window; an absent one is unlimited. */
export interface QuotaLimits {
  readonly rpm?: number | undefined
  readonly tpm?: number | undefined
  readonly windowMs: number
}

/** The request and token buckets of one fake provider. */
export class Quota {
  /** Absent when `rpm` is unlimited. */
  readonly requests: TokenBucket | undefined
  /** Absent when `tpm` is unlimited. */
  readonly tokens: TokenBucket | undefined

  constructor(limits: QuotaLimits, now: number) {
    this.requests = limits.rpm === undefined ? undefined : new TokenBucket(limits.rpm, limits.windowMs, now)
    this.tokens = limits.tpm === undefined ? undefined : new TokenBucket(limits.tpm, limits.windowMs, now)
  }

  /**
   * Admits a request that reserves `tokens` (its prompt plus its completion limit), taking one
   * request and the tokens; or refuses it and takes nothing. A request too large for the token
   * quota is refused as such even when the request bucket is empty too: no wait would help it.
   * When both buckets are short, the refusal names `requests` and the wait covers both.
   */
  admit(tokens: number, now: number): Admission {
    const tokenWait = this.tokens?.waitFor(tokens, now) ?? 0
    if (tokenWait === Infinity) return { ok: false, limit: 'tokens', waitMs: Infinity }
    const requestWait = this.requests?.waitFor(1, now) ?? 0
    if (requestWait > 0 || tokenWait > 0) return { ok: false, limit: requestWait > 0 ? 'requests' : 'tokens', waitMs: Math.max(requestWait, tokenWait) }
    this.requests?.tryTake(1, now)
    this.tokens?.tryTake(tokens, now)
    return { ok: true }
  }

  /**
   * Reconciles an admitted request's token reservation with what it used: the difference goes
   * back to the bucket (or, if it used more, is charged; see {@link TokenBucket.adjust}).
   */
  settle(reserved: number, used: number, now: number): void {
    this.tokens?.adjust(reserved - used, now)
  }

  /** Gives an admitted request back (a scripted 429 consumes nothing). */
  returnRequest(now: number): void {
    this.requests?.adjust(1, now)
  }

  /** Fills both buckets. */
  reset(now: number): void {
    this.requests?.reset(now)
    this.tokens?.reset(now)
  }
}
