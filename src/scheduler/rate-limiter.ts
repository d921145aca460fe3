/**
 * Rate keys: engine-wide budgets per provider key (`openai:gpt-4o`), shared by every run.
 *
 * A key holds several budgets at once — requests per window, tokens per window (token buckets
 * that refill continuously, as providers count), calls in flight (fixed, or adaptive: see
 * `aimd.ts`), attempts per second (the retry-storm cap) — and a pause. A call is admitted only
 * when all of them allow it; it reserves one request and its token estimate, and gives back what
 * it did not use when it settles with the usage the provider reported. A 429 pauses the whole key
 * until the provider's `Retry-After`. The provider's `x-ratelimit-*` headers teach the key its
 * limits when nobody configured them, and pull its counts down when the provider has seen more
 * (another client on the same key).
 *
 * Requests that cannot be admitted wait per key in priority order, then first come first served
 * across runs; the head of the queue decides, so a large call is not starved by small ones. A
 * key that waits on time (a refill, a pause) sets one timer on the clock; one that waits on
 * calls in flight is served when one settles. Grants happen on a microtask, never inside the
 * call that freed room.
 * @module
 */
import type { CancelTimer, Clock } from '../core/clock.js'
import type { ProviderLimits } from '../core/rate.js'
import { TokenBucket } from '../core/token-bucket.js'
import { AimdLimit } from './aimd.js'
import { stricterLimits, UNCONFIGURED, type RateKeyLimits } from '../core/rate-spec.js'
import { heapPop, heapPush, heapRemove } from './waiter-heap.js'

/** Someone who can be handed an admission it waited for (a run). */
export interface RateHolder {
  /** Receives `lease` for the request made with `ticket`; false when it has no use for it any more (the lease is then undone). */
  rateGranted(lease: RateLease, ticket: number): boolean
  /** The request made with `ticket` can never be admitted (its estimate is larger than the key's token budget). */
  rateRefused(key: string, ticket: number, reason: string): void
  /**
   * The tokens the request made with `ticket` reserves, asked when it reaches the head of its
   * key's line if it was queued with {@link TOKENS_LATER}. Must not throw.
   */
  rateTokens?(ticket: number): number
}

/**
 * Passed to {@link RateLimiter.wait} as the token count of a request whose estimate is worked out
 * only when it reaches the head of the line ({@link RateHolder.rateTokens}): with a long line,
 * the first calls then leave without waiting for every queued call's prompt to be tokenized.
 */
export const TOKENS_LATER = -1

/** One admitted call: what it reserved, to settle when it ends. */
export interface RateLease {
  readonly key: string
  /** Tokens reserved (the estimate). */
  readonly tokens: number
  /** The key's start counter when this call started (for adaptive concurrency). */
  readonly startSeq: number
  /** The key's request and token counts right after this call took its share, for header correction. */
  readonly requestsLevel: number
  readonly tokensLevel: number
  readonly requestsTaken: number
  readonly tokensTaken: number
}

/** Why a call cannot start now. */
export type RateBlock =
  | { readonly blocked: 'paused' | 'requests' | 'tokens' | 'attempts'; readonly waitMs: number }
  | { readonly blocked: 'concurrency' | 'queued'; readonly waitMs: undefined }
  | { readonly blocked: 'never'; readonly reason: string; readonly waitMs: undefined }

/** A snapshot of one key, for `engine.stats()`. */
export interface RateKeyStats {
  readonly key: string
  readonly inFlight: number
  readonly waiting: number
  /** Calls allowed in flight now (adaptive or fixed); undefined when uncapped. */
  readonly concurrency: number | undefined
  /** Requests and tokens left in the window now; undefined without that budget. */
  readonly requestsLeft: number | undefined
  readonly tokensLeft: number | undefined
  /** Clock time (ms) until which the key is paused by a 429, if it is. */
  readonly pausedUntil: number | undefined
  /** Whether its budgets were learned from the provider's headers. */
  readonly learned: boolean
  readonly throttled: number
  readonly admitted: number
}

interface Waiter {
  readonly holder: RateHolder
  readonly ticket: number
  /** {@link TOKENS_LATER} until the holder is asked, at the head of the line. */
  tokens: number
  readonly priority: number
  readonly seq: number
}

/** Provider limits quote per-minute budgets; a window read from headers outside this range is not trusted. */
const MIN_LEARNED_WINDOW_MS = 1000
const MAX_LEARNED_WINDOW_MS = 3_600_000
const DEFAULT_LEARNED_WINDOW_MS = 60_000
/** Learned budgets run this much below what the provider said, for the rounding of its headers. */
const LEARNED_MARGIN = 0.98

class KeyState {
  limits: RateKeyLimits
  requests: TokenBucket | undefined
  tokens: TokenBucket | undefined
  attempts: TokenBucket | undefined
  adaptive: AimdLimit | undefined
  learned = false
  /**
   * For a learned budget: how far below its limit the provider's count was in the reading its
   * window was worked out from (0: no reading showed any use, the window is the default minute).
   * A later reading with twice the basis revises the window.
   */
  requestsBasis = 0
  tokensBasis = 0
  inFlight = 0
  pausedUntil = 0
  startSeq = 0
  requestsTaken = 0
  tokensTaken = 0
  throttled = 0
  /** Back-off episodes (429s on calls sent after the last pause began) since the last call that ended well: what the back-off without a named wait grows with. */
  throttledInARow = 0
  /** {@link startSeq} when the last back-off pause began: a 429 on a call started before it belongs to that pause's episode. */
  pausedAtSeq = 0
  admitted = 0
  readonly waiters: Waiter[] = []
  timer: CancelTimer | undefined
  timerAt = Infinity

  constructor(limits: RateKeyLimits, now: number) {
    this.limits = limits
    if (limits.requests !== undefined) this.requests = new TokenBucket(limits.requests.limit, limits.requests.windowMs, now)
    if (limits.tokens !== undefined) this.tokens = new TokenBucket(limits.tokens.limit, limits.tokens.windowMs, now)
    if (limits.attemptsPerSecond !== undefined) this.attempts = new TokenBucket(limits.attemptsPerSecond, 1000, now)
    if (limits.adaptive !== undefined) this.adaptive = new AimdLimit(limits.adaptive)
  }

  concurrency(): number | undefined {
    return this.adaptive?.limit ?? this.limits.concurrent
  }
}

/** Engine-wide rate budgets per key. */
export class RateLimiter {
  readonly #clock: Clock
  readonly #configured = new Map<string, RateKeyLimits>()
  /** Keys the engine configured: a workflow's declaration does not change them. */
  readonly #engineKeys = new Set<string>()
  /** Declarations already applied (a workflow's compiled limits, run after run). */
  readonly #declared = new WeakSet<RateKeyLimits>()
  /** Whether any `tool:<name>` key is configured (tasks of such tools count against it without naming a key). */
  hasToolKeys = false
  readonly #keys = new Map<string, KeyState>()
  #seq = 0
  readonly #toDrain = new Set<string>()
  #drainScheduled = false

  constructor(clock: Clock, configured: ReadonlyMap<string, RateKeyLimits> = new Map()) {
    this.#clock = clock
    for (const [key, limits] of configured) {
      this.#configured.set(key, limits)
      this.#engineKeys.add(key)
      if (key.startsWith('tool:')) this.hasToolKeys = true
    }
  }

  /** The limits in force for `key` (configured, else adaptive with budgets learned from headers). */
  limitsOf(key: string): RateKeyLimits {
    return this.#keys.get(key)?.limits ?? this.#configured.get(key) ?? UNCONFIGURED
  }

  /** Whether `key` was configured (by the engine or a workflow), as opposed to adaptive only. */
  isConfigured(key: string): boolean {
    return this.#configured.has(key)
  }

  /**
   * Declares the limits of `key` (a workflow's `limits.rates`), unless the engine configured it
   * already; a key declared twice keeps the stricter of each budget.
   */
  declare(key: string, limits: RateKeyLimits): void {
    if (this.#engineKeys.has(key) || this.#declared.has(limits)) return
    this.#declared.add(limits)
    if (key.startsWith('tool:')) this.hasToolKeys = true
    const known = this.#configured.get(key)
    const next = known === undefined ? limits : stricterLimits(known, limits)
    this.#configured.set(key, next)
    const state = this.#keys.get(key)
    if (state !== undefined && state.limits !== next) this.#reconfigure(key, state, next)
  }

  /**
   * Admits a call of `key` that will use at most `tokens`, if every budget allows it now and
   * nobody waits ahead: returns its lease, or why it cannot start (nothing is reserved then).
   */
  tryTake(key: string, tokens: number): RateLease | RateBlock {
    const state = this.#state(key)
    if (state.waiters.length > 0) {
      const never = this.#neverFits(state, tokens)
      return never ?? { blocked: 'queued', waitMs: undefined }
    }
    return this.#admit(key, state, tokens)
  }

  /**
   * Queues a call of `key` that could not start; `holder.rateGranted(lease, ticket)` is called
   * once it is admitted. Returns its place in line; a call sent back by a 429 passes the place it
   * had (`place`), so it goes before those that queued after it. `tokens` may be
   * {@link TOKENS_LATER}: the holder is asked for them when the call reaches the head of the line.
   */
  wait(key: string, tokens: number, holder: RateHolder, ticket: number, priority: number, place?: number): number {
    const state = this.#state(key)
    const seq = place ?? this.#seq++
    heapPush(state.waiters, { holder, ticket, tokens, priority, seq })
    this.#scheduleDrain(key)
    return seq
  }

  /** Whether calls of `key` wait in line now (a new one would queue behind them whatever it reserves). */
  isQueued(key: string): boolean {
    const state = this.#keys.get(key)
    return state !== undefined && state.waiters.length > 0
  }

  /** A place in line for a call that started without waiting (kept in case a 429 sends it back). */
  place(): number {
    return this.#seq++
  }

  /**
   * A call ended. `usedTokens` is what the provider reported (undefined when nothing was
   * reported: the estimate stays spent); `congested` says it timed out (the adaptive limit halves).
   */
  settle(lease: RateLease, usedTokens: number | undefined, congested = false): void {
    const state = this.#keys.get(lease.key)
    if (state === undefined) return
    state.inFlight--
    if (!congested) state.throttledInARow = 0
    const now = this.#clock.now()
    if (usedTokens !== undefined && state.tokens !== undefined) state.tokens.adjust(lease.tokens - usedTokens, now)
    if (state.adaptive !== undefined) {
      if (congested) state.adaptive.congested(lease.startSeq, state.startSeq)
      else state.adaptive.succeeded()
    }
    this.#scheduleDrain(lease.key)
  }

  /**
   * The provider refused `lease`'s call with a 429: the whole key pauses for `retryAfterMs`
   * (or, when the provider named no wait, for a short back-off), and its adaptive limit halves.
   * The call's reservation is given back: it did not count at the provider. Returns the clock
   * time the pause ends.
   */
  throttle(lease: RateLease, retryAfterMs: number | undefined): number {
    const state = this.#keys.get(lease.key)
    const now = this.#clock.now()
    if (state === undefined) return now
    state.inFlight--
    state.throttled++
    // The calls in flight when a provider starts refusing come back 429 together: they are one
    // episode, answered by one pause, not a doubling each (ten at once made a 30 s pause).
    if (lease.startSeq >= state.pausedAtSeq) {
      state.throttledInARow++
      state.pausedAtSeq = state.startSeq
    }
    state.requests?.adjust(1, now)
    state.tokens?.adjust(lease.tokens, now)
    state.adaptive?.congested(lease.startSeq, state.startSeq)
    // Without a named wait: 250 ms, doubling with each episode of 429s in a row, at most 30 s; a
    // call that ends well starts the count again.
    const pauseMs = retryAfterMs ?? Math.min(30_000, 250 * 2 ** Math.min(7, Math.max(1, state.throttledInARow) - 1))
    state.pausedUntil = Math.max(state.pausedUntil, now + pauseMs)
    this.#scheduleDrain(lease.key)
    return state.pausedUntil
  }

  /**
   * What the provider said about its limits after `lease`'s call. Unconfigured budgets are
   * learned from it; a budget the provider has used more of than this engine counted (another
   * client on the same key) is pulled down to match. It never raises a count: the provider's
   * headers are older than this engine's own bookkeeping.
   */
  observe(lease: RateLease, limits: ProviderLimits): void {
    const state = this.#keys.get(lease.key)
    if (state === undefined) return
    const now = this.#clock.now()
    if (state.requests === undefined && state.limits.requests === undefined) {
      const learned = learnedBucket(limits.limitRequests, limits.remainingRequests, limits.resetRequestsMs, now)
      if (learned !== undefined) {
        state.requests = learned.bucket
        state.requestsBasis = learned.basis
        learned.bucket.adjust(-(state.requestsTaken - lease.requestsTaken), now)
        state.learned = true
      }
    } else if (state.requests !== undefined && limits.remainingRequests !== undefined) {
      if (state.limits.requests === undefined) state.requestsBasis = revise(state.requests, state.requestsBasis, limits.limitRequests, limits.remainingRequests, limits.resetRequestsMs, now)
      pullDown(state.requests, limits.remainingRequests, lease.requestsLevel, now)
    }
    if (state.tokens === undefined && state.limits.tokens === undefined) {
      const learned = learnedBucket(limits.limitTokens, limits.remainingTokens, limits.resetTokensMs, now)
      if (learned !== undefined) {
        state.tokens = learned.bucket
        state.tokensBasis = learned.basis
        learned.bucket.adjust(-(state.tokensTaken - lease.tokensTaken), now)
        state.learned = true
      }
    } else if (state.tokens !== undefined && limits.remainingTokens !== undefined) {
      if (state.limits.tokens === undefined) state.tokensBasis = revise(state.tokens, state.tokensBasis, limits.limitTokens, limits.remainingTokens, limits.resetTokensMs, now)
      pullDown(state.tokens, limits.remainingTokens, lease.tokensLevel, now)
    }
    this.#scheduleDrain(lease.key)
  }

  /** Undoes a lease nobody used (its task was cancelled before it started). */
  undo(lease: RateLease): void {
    const state = this.#keys.get(lease.key)
    if (state === undefined) return
    const now = this.#clock.now()
    state.inFlight--
    state.requests?.adjust(1, now)
    state.tokens?.adjust(lease.tokens, now)
    state.attempts?.adjust(1, now)
    this.#scheduleDrain(lease.key)
  }

  /** Drops every queued request of `holder` (its run ended). */
  forget(holder: RateHolder): void {
    for (const [key, state] of this.#keys) if (heapRemove(state.waiters, (w) => w.holder === holder)) this.#scheduleDrain(key)
  }

  /** Every key in use. */
  stats(): RateKeyStats[] {
    const now = this.#clock.now()
    return [...this.#keys].map(([key, s]) => ({
      key,
      inFlight: s.inFlight,
      waiting: s.waiters.length,
      concurrency: s.concurrency(),
      requestsLeft: s.requests === undefined ? undefined : Math.floor(s.requests.level(now)),
      tokensLeft: s.tokens === undefined ? undefined : Math.floor(s.tokens.level(now)),
      pausedUntil: s.pausedUntil > now ? s.pausedUntil : undefined,
      learned: s.learned,
      throttled: s.throttled,
      admitted: s.admitted,
    }))
  }

  /** Stops the timers (the engine is closing). */
  close(): void {
    for (const state of this.#keys.values()) {
      state.timer?.()
      state.timer = undefined
    }
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key)
    if (state === undefined) {
      state = new KeyState(this.#configured.get(key) ?? UNCONFIGURED, this.#clock.now())
      this.#keys.set(key, state)
    }
    return state
  }

  #reconfigure(key: string, state: KeyState, limits: RateKeyLimits): void {
    const now = this.#clock.now()
    const fresh = new KeyState(limits, now)
    // Keep what is spent: the new buckets start no fuller than the old ones.
    if (fresh.requests !== undefined && state.requests !== undefined) fresh.requests.adjust(state.requests.level(now) - fresh.requests.capacity, now)
    if (fresh.tokens !== undefined && state.tokens !== undefined) fresh.tokens.adjust(state.tokens.level(now) - fresh.tokens.capacity, now)
    state.limits = limits
    state.requests = fresh.requests
    state.tokens = fresh.tokens
    state.attempts = fresh.attempts
    state.adaptive = fresh.adaptive
    this.#scheduleDrain(key)
  }

  #neverFits(state: KeyState, tokens: number): RateBlock | undefined {
    const cap = state.tokens?.capacity
    if (cap === undefined || tokens <= cap) return undefined
    return { blocked: 'never', reason: `its estimate of ${tokens} tokens is more than the key's whole token budget (${Math.floor(cap)} per window)`, waitMs: undefined }
  }

  #admit(key: string, state: KeyState, tokens: number): RateLease | RateBlock {
    const never = this.#neverFits(state, tokens)
    if (never !== undefined) return never
    const now = this.#clock.now()
    if (state.pausedUntil > now) return { blocked: 'paused', waitMs: state.pausedUntil - now }
    const cap = state.concurrency()
    if (cap !== undefined && state.inFlight >= cap) return { blocked: 'concurrency', waitMs: undefined }
    const waitRequests = state.requests?.waitFor(1, now) ?? 0
    if (waitRequests > 0) return { blocked: 'requests', waitMs: waitRequests }
    const waitTokens = tokens > 0 ? (state.tokens?.waitFor(tokens, now) ?? 0) : 0
    if (waitTokens > 0) return { blocked: 'tokens', waitMs: waitTokens }
    const waitAttempts = state.attempts?.waitFor(1, now) ?? 0
    if (waitAttempts > 0) return { blocked: 'attempts', waitMs: waitAttempts }
    state.requests?.tryTake(1, now)
    if (tokens > 0) state.tokens?.tryTake(tokens, now)
    state.attempts?.tryTake(1, now)
    state.inFlight++
    state.admitted++
    state.requestsTaken++
    state.tokensTaken += tokens
    return {
      key,
      tokens,
      startSeq: state.startSeq++,
      requestsLevel: state.requests?.level(now) ?? Infinity,
      tokensLevel: state.tokens?.level(now) ?? Infinity,
      requestsTaken: state.requestsTaken,
      tokensTaken: state.tokensTaken,
    }
  }

  #scheduleDrain(key: string): void {
    this.#toDrain.add(key)
    if (this.#drainScheduled) return
    this.#drainScheduled = true
    queueMicrotask(() => this.#drain())
  }

  #drain(): void {
    this.#drainScheduled = false
    const keys = [...this.#toDrain]
    this.#toDrain.clear()
    for (const key of keys) {
      const state = this.#keys.get(key)
      if (state !== undefined) this.#serve(key, state)
    }
  }

  #serve(key: string, state: KeyState): void {
    while (state.waiters.length > 0) {
      const head = state.waiters[0] as Waiter
      if (head.tokens === TOKENS_LATER) head.tokens = tokensOf(head)
      const result = this.#admit(key, state, head.tokens)
      if ('blocked' in result) {
        if (result.blocked === 'never') {
          heapPop(state.waiters)
          head.holder.rateRefused(key, head.ticket, result.reason)
          continue
        }
        if (result.waitMs !== undefined) this.#wakeIn(key, state, result.waitMs)
        break
      }
      heapPop(state.waiters)
      if (!head.holder.rateGranted(result, head.ticket)) this.undo(result)
    }
    if (state.waiters.length === 0 && state.inFlight <= 0 && state.timer !== undefined) {
      state.timer()
      state.timer = undefined
      state.timerAt = Infinity
    }
  }

  #wakeIn(key: string, state: KeyState, waitMs: number): void {
    const at = this.#clock.now() + waitMs
    if (state.timer !== undefined && state.timerAt <= at) return
    state.timer?.()
    state.timerAt = at
    state.timer = this.#clock.setTimer(waitMs, () => {
      state.timer = undefined
      state.timerAt = Infinity
      this.#serve(key, state)
    })
  }
}

/** The tokens of a waiter queued with {@link TOKENS_LATER}, from its holder (0 if it cannot say). */
function tokensOf(waiter: Waiter): number {
  let tokens: number
  try {
    tokens = waiter.holder.rateTokens?.(waiter.ticket) ?? 0
  } catch {
    // A holder that breaks its promise not to throw must not stop the line (nor the other keys being served).
    tokens = 0
  }
  return Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0
}

/**
 * Lowers `bucket` when the provider says it has `remaining` and this engine counts more. Which of
 * this engine's counts to compare with depends on when the provider took its reading: when the
 * call arrived (then it matches the level right after the call was admitted, `atAdmission`) or
 * when it answered (then it matches the level now, calls admitted since included). Comparing with
 * the lower of the two never lowers the bucket by more than the provider has really counted in
 * excess, whichever it is; comparing with the wrong one would count the calls admitted meanwhile
 * twice, and starve the key.
 */
function pullDown(bucket: TokenBucket, remaining: number, atAdmission: number, now: number): void {
  if (!Number.isFinite(atAdmission)) return
  const ours = Math.min(atAdmission, bucket.level(now))
  if (remaining < ours) bucket.adjust(remaining - ours, now)
}

/**
 * The window of a budget the provider announced (`limit`, with `remaining` left and full again
 * in `resetMs`), worked out from the refill rate those imply: `limit × reset ÷ (limit −
 * remaining)`; undefined when the reading shows no use or gives a window outside what providers
 * quote.
 */
function windowOf(limit: number, remaining: number | undefined, resetMs: number | undefined): number | undefined {
  if (remaining === undefined || resetMs === undefined || !(resetMs > 0) || limit - remaining < 1) return undefined
  const estimate = (limit * resetMs) / (limit - remaining)
  return estimate >= MIN_LEARNED_WINDOW_MS && estimate <= MAX_LEARNED_WINDOW_MS ? estimate : undefined
}

/**
 * A bucket for a budget the provider announced, its window worked out by {@link windowOf} (a
 * minute when the reading shows no use yet), running slightly under the provider's budget to
 * absorb header rounding; and the basis of its window (see `KeyState.requestsBasis`).
 */
function learnedBucket(limit: number | undefined, remaining: number | undefined, resetMs: number | undefined, now: number): { readonly bucket: TokenBucket; readonly basis: number } | undefined {
  if (limit === undefined || !(limit > 0)) return undefined
  const windowMs = windowOf(limit, remaining, resetMs)
  const bucket = new TokenBucket(limit * LEARNED_MARGIN, windowMs ?? DEFAULT_LEARNED_WINDOW_MS, now)
  if (remaining !== undefined) bucket.adjust(Math.min(remaining, limit) * LEARNED_MARGIN - bucket.capacity, now)
  return { bucket, basis: windowMs === undefined ? 0 : limit - (remaining ?? limit) }
}

/**
 * Revises a learned budget's window from a later reading that rests on at least twice the use of
 * the one it came from (and on 2% of the limit): a first reading that showed the bucket full left
 * it at a guessed minute, and a reading of one call's use is coarse. Returns the basis now in use.
 */
function revise(bucket: TokenBucket, basis: number, limit: number | undefined, remaining: number, resetMs: number | undefined, now: number): number {
  if (limit === undefined || !(limit > 0)) return basis
  const used = limit - remaining
  if (used < Math.max(1, 0.02 * limit) || used < 2 * basis) return basis
  const windowMs = windowOf(limit, remaining, resetMs)
  if (windowMs === undefined) return basis
  bucket.resize(limit * LEARNED_MARGIN, windowMs, now)
  return used
}
