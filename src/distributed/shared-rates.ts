/**
 * Rate budgets shared across owners, on one owner's side: before an attempt under a shared rate
 * key is published, it takes one request and its token estimate from the key's
 * {@link SharedRateBudget}; when it ends, the budget is settled with the tokens its worker
 * reported.
 *
 * Modes of an attempt here, and what moves it:
 * - **waiting**, in its key's line (first come, first served per key): the head works out its
 *   token estimate (only there: a tokenizer pass over a long prompt is not paid by every queued
 *   call before the first is published) and asks the budget;
 *   granted → **taken** (the runner publishes it); refused → the key tries again after the delay
 *   the budget named (at most {@link MAX_RETRY_MS}, so units other owners give back are seen
 *   soon), or at once when this owner gives units back; an amount over a budget's limit → it
 *   fails `TW_RATE_NEVER_FITS`. The budget not answering → tried again after {@link ERROR_RETRY_MS}.
 * - **taken**: tokens its worker reports add up. It ends with an outcome (the estimate not used
 *   goes back, tokens used beyond it are charged; a 429 whose `retryAfterMs` the tool reported
 *   pauses the key for every owner), a cancel after it was published (tokens used
 *   beyond the estimate are charged, nothing goes back: the call may have reached the provider),
 *   or a cancel before it was published (everything goes back).
 * - An attempt cancelled while it waits leaves the line; one cancelled while its take is under
 *   way gives back what the take got.
 *
 * Owners are not ordered among themselves: whoever asks first after a refill gets it.
 * @module
 */
import type { AttemptRequest } from '../core/attempt.js'
import type { CancelTimer, Clock } from '../core/clock.js'
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { LlmUsage, RateWindowSpec } from '../core/rate.js'
import { parseRateWindow } from '../core/rate-spec.js'
import type { RateWindow } from '../core/rate-spec.js'
import type { SharedRateBudget, SharedRateCharge } from '../core/shared-rate.js'
import type { AnyTool } from '../core/tool.js'

/** Longest a refused key waits before it asks again, in ms: other owners may give units back sooner than the budget could tell. */
export const MAX_RETRY_MS = 1000
/** Wait before asking a budget that did not answer again, in ms. */
export const ERROR_RETRY_MS = 500

/** The budgets of one shared rate key, as written (`'60/min'`, `{ limit: 60, per: '1m' }`). */
export interface SharedRateSpec {
  /** Requests per window: one per attempt published. */
  readonly requests?: RateWindowSpec
  /** Input + output tokens per window: the tool's estimate is reserved, then settled with the usage its worker reports. */
  readonly tokens?: RateWindowSpec
}

/** What the gate needs to find an attempt's key and estimate, resolved. */
export interface SharedRateSettings {
  readonly budget: SharedRateBudget
  readonly rates: Readonly<Record<string, SharedRateSpec>>
  readonly tools?: readonly AnyTool[] | undefined
  readonly rateKeyOf?: ((request: AttemptRequest) => string | undefined) | undefined
  readonly estimateTokens?: ((request: AttemptRequest) => number) | undefined
}

/** An attempt's way through the gate: its key and the budgets it takes from. */
export interface RatePlan {
  readonly key: string
  readonly requests: RateWindow | undefined
  readonly tokens: RateWindow | undefined
  /** The attempt: its token estimate is worked out when it reaches the head of its key's line. */
  readonly request: AttemptRequest
}

/** One attempt in the gate. */
interface Entry {
  readonly attemptId: string
  readonly plan: RatePlan
  readonly granted: () => void
  readonly refused: (error: unknown) => void
  /** Tokens reserved, once worked out at the head of the line (0 without a token budget). */
  estimate: number | undefined
  taken: boolean
  /** Tokens its worker reported so far. */
  used: number
}

/** The owner's side of shared rate budgets (see the module comment). */
export class SharedRateGate {
  readonly #budget: SharedRateBudget
  readonly #limits = new Map<string, { readonly requests: RateWindow | undefined; readonly tokens: RateWindow | undefined }>()
  readonly #tools: ReadonlyMap<string, AnyTool>
  readonly #rateKeyOf: ((request: AttemptRequest) => string | undefined) | undefined
  readonly #estimateTokens: ((request: AttemptRequest) => number) | undefined
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #entries = new Map<string, Entry>()
  /** Per key, attempts waiting, in the order they came. */
  readonly #lines = new Map<string, Entry[]>()
  /** Keys with a take under way (one at a time per key keeps the order). */
  readonly #asking = new Set<string>()
  readonly #timers = new Map<string, CancelTimer>()
  #closed = false

  constructor(settings: SharedRateSettings, clock: Clock, logger: Logger) {
    this.#budget = settings.budget
    if (typeof settings.rates !== 'object' || settings.rates === null) throw new InvalidOptionError('shared.rates', 'an object of rate key → { requests, tokens }', settings.rates)
    for (const key of Object.keys(settings.rates)) {
      const spec = settings.rates[key] as SharedRateSpec
      const at = `shared.rates.${key}`
      if (typeof spec !== 'object' || spec === null) throw new InvalidOptionError(at, 'an object { requests, tokens }', spec)
      for (const field of Object.keys(spec)) if (field !== 'requests' && field !== 'tokens') throw new InvalidOptionError(`${at}.${field}`, 'requests or tokens', field)
      const requests = spec.requests === undefined ? undefined : parseRateWindow(`${at}.requests`, spec.requests)
      const tokens = spec.tokens === undefined ? undefined : parseRateWindow(`${at}.tokens`, spec.tokens)
      if (requests === undefined && tokens === undefined) throw new InvalidOptionError(at, 'a requests or tokens budget', spec)
      this.#limits.set(key, { requests, tokens })
    }
    this.#tools = new Map((settings.tools ?? []).map((tool) => [tool.name, tool]))
    this.#rateKeyOf = settings.rateKeyOf
    this.#estimateTokens = settings.estimateTokens
    this.#clock = clock
    this.#logger = logger
  }

  /**
   * The shared key `request` counts against and what it takes, or undefined when none of
   * `rates` applies. The key is `rateKeyOf(request)` when given, else the key the engine counted
   * the attempt against (`request.rateKey`), else the tool's (`rateKeyOf` of its input, else
   * `rateKey`), else `tool:<name>`. Throws what `rateKeyOf` throws.
   */
  plan(request: AttemptRequest): RatePlan | undefined {
    const key = this.#rateKeyOf !== undefined ? this.#rateKeyOf(request) : (request.rateKey ?? this.#toolKeyOf(request))
    const limits = key === undefined ? undefined : this.#limits.get(key)
    if (key === undefined || limits === undefined) return undefined
    return { key, ...limits, request }
  }

  /**
   * Puts an attempt in its key's line: `granted` once it took its share, `refused` if it never
   * can (its estimate is over the budget, or the caller's `estimateTokens` threw: with that error).
   */
  wait(attemptId: string, plan: RatePlan, granted: () => void, refused: (error: unknown) => void): void {
    const entry: Entry = { attemptId, plan, granted, refused, estimate: undefined, taken: false, used: 0 }
    this.#entries.set(attemptId, entry)
    const line = this.#lines.get(plan.key) ?? []
    line.push(entry)
    this.#lines.set(plan.key, line)
    this.#ask(plan.key)
  }

  /** Attempts waiting for their key. */
  get waiting(): number {
    // Counted from the live entries: lines drop ended ones only when they next move.
    let n = 0
    for (const entry of this.#entries.values()) if (!entry.taken) n++
    return n
  }

  /** The worker of `attemptId` reported `usage` (from the wire: counts that are not numbers count as none). */
  usage(attemptId: string, usage: LlmUsage): void {
    const entry = this.#entries.get(attemptId)
    if (entry !== undefined) entry.used += whole(usage.inputTokens) + whole(usage.outputTokens)
  }

  /**
   * The attempt ended (see the module comment): `outcome` with its outcome, `cancelled` by a
   * cancel after it was published, `unsent` before. `pauseMs`: the provider refused the call (429)
   * and said when to come back; the key pauses that long for every owner.
   */
  end(attemptId: string, how: 'outcome' | 'cancelled' | 'unsent', pauseMs?: number): void {
    const entry = this.#entries.get(attemptId)
    if (entry === undefined) return
    this.#entries.delete(attemptId)
    if (entry.taken && pauseMs !== undefined && Number.isFinite(pauseMs) && pauseMs > 0) {
      const key = entry.plan.key
      this.#budget.pause(key, pauseMs).catch((err: unknown) => this.#logger.warn('could not pause a shared rate key', { rateKey: key, error: err instanceof Error ? err.message : String(err) }))
    }
    // Still waiting: it leaves its line when the line next moves. Taking: the take's answer gives back.
    if (!entry.taken) return
    const { plan, used } = entry
    const estimate = entry.estimate ?? 0
    const back = how === 'unsent' ? estimate : how === 'outcome' ? estimate - used : Math.min(0, estimate - used)
    const charges: SharedRateCharge[] = []
    if (how === 'unsent' && plan.requests !== undefined) charges.push(charge('requests', plan.requests, 1))
    if (plan.tokens !== undefined && back !== 0) charges.push(charge('tokens', plan.tokens, back))
    this.#giveBack(plan.key, charges)
  }

  /** Stops asking; attempts still waiting are forgotten (the runner is closing). */
  close(): void {
    this.#closed = true
    for (const cancel of this.#timers.values()) cancel()
    this.#timers.clear()
    this.#lines.clear()
    for (const [id, entry] of this.#entries) if (!entry.taken) this.#entries.delete(id)
  }

  /** Asks the budget for the head of `key`'s line, unless a take or a timer is under way. */
  #ask(key: string): void {
    if (this.#closed || this.#asking.has(key) || this.#timers.has(key)) return
    const line = this.#lines.get(key)
    // Attempts that ended while they waited leave here.
    while (line !== undefined && line.length > 0 && this.#entries.get((line[0] as Entry).attemptId) !== line[0]) line.shift()
    const head = line?.[0]
    if (head === undefined) {
      this.#lines.delete(key)
      return
    }
    const { plan } = head
    let estimate = head.estimate
    if (estimate === undefined) {
      try {
        estimate = head.estimate = plan.tokens === undefined ? 0 : this.#estimateOf(plan.request)
      } catch (err) {
        // The caller's estimateTokens threw: the attempt fails with its error.
        this.#drop(key, head, err)
        return
      }
    }
    const charges = chargesOf(plan, estimate)
    if (plan.tokens !== undefined && estimate > plan.tokens.limit) {
      this.#drop(key, head, neverFits(plan, `its estimate of ${estimate} tokens is over the budget of ${plan.tokens.limit}`))
      return
    }
    this.#asking.add(key)
    this.#budget.take(key, charges).then(
      (answer) => {
        this.#asking.delete(key)
        if (!answer.granted) {
          if (answer.retryAfterMs === Infinity) {
            line?.shift()
            this.#entries.delete(head.attemptId)
            head.refused(neverFits(plan, 'the shared budget says the call is larger than its limit'))
            this.#ask(key)
          } else this.#retryIn(key, Math.min(MAX_RETRY_MS, Math.max(1, answer.retryAfterMs)))
          return
        }
        line?.shift()
        if (this.#entries.get(head.attemptId) !== head) {
          // Ended while the take was under way: it was never sent.
          this.#giveBack(key, charges)
        } else {
          head.taken = true
          head.granted()
        }
        this.#ask(key)
      },
      (err: unknown) => {
        this.#asking.delete(key)
        this.#logger.warn('the shared rate budget did not answer; trying again', { rateKey: key, error: err instanceof Error ? err.message : String(err) })
        this.#retryIn(key, ERROR_RETRY_MS)
      },
    )
  }

  /** Takes `head` out of `key`'s line, failing it with `error`, and lets the next one ask. */
  #drop(key: string, head: Entry, error: unknown): void {
    this.#lines.get(key)?.shift()
    this.#entries.delete(head.attemptId)
    head.refused(error)
    queueMicrotask(() => this.#ask(key))
  }

  #retryIn(key: string, ms: number): void {
    if (this.#closed) return
    this.#timers.set(
      key,
      this.#clock.setTimer(ms, () => {
        this.#timers.delete(key)
        this.#ask(key)
      }),
    )
  }

  /** Gives units back to `key`'s budgets (charges more for negative amounts); a waiting line there may move at once. */
  #giveBack(key: string, charges: readonly SharedRateCharge[]): void {
    const nonZero = charges.filter((c) => c.amount !== 0)
    if (nonZero.length === 0) return
    this.#budget
      .adjust(key, nonZero)
      .catch((err: unknown) => this.#logger.warn('could not settle a shared rate budget', { rateKey: key, error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        if (!nonZero.some((c) => c.amount > 0) || this.#closed) return
        // Units came back: the line need not wait for its timer.
        this.#timers.get(key)?.()
        this.#timers.delete(key)
        this.#ask(key)
      })
  }

  #toolKeyOf(request: AttemptRequest): string | undefined {
    const tool = this.#tools.get(request.tool)
    if (tool?.rateKeyOf !== undefined) {
      try {
        const key = tool.rateKeyOf(request.input)
        if (typeof key === 'string' && key.length > 0) return key
      } catch {
        // A key function that throws on this input: the worker's input check reports it.
      }
    }
    return tool?.rateKey ?? `tool:${request.tool}`
  }

  #estimateOf(request: AttemptRequest): number {
    if (this.#estimateTokens !== undefined) return whole(this.#estimateTokens(request))
    const tool = this.#tools.get(request.tool)
    if (tool?.estimateTokens === undefined) return 0
    try {
      return whole(tool.estimateTokens(request.input))
    } catch {
      return 0
    }
  }
}

/** What `plan` takes: one request, and its estimate (0 still waits while the token budget owes). */
function chargesOf(plan: RatePlan, estimate: number): SharedRateCharge[] {
  const charges: SharedRateCharge[] = []
  if (plan.requests !== undefined) charges.push(charge('requests', plan.requests, 1))
  if (plan.tokens !== undefined) charges.push(charge('tokens', plan.tokens, estimate))
  return charges
}

function charge(budget: 'requests' | 'tokens', window: RateWindow, amount: number): SharedRateCharge {
  return { budget, limit: window.limit, windowMs: window.windowMs, amount }
}

/** A token count as a whole number ≥ 0 (anything else counts as 0). */
function whole(tokens: unknown): number {
  return typeof tokens === 'number' && Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0
}

function neverFits(plan: RatePlan, reason: string): TaskweaveError {
  return new TaskweaveError('TW_RATE_NEVER_FITS', `the call can never run under shared rate key "${plan.key}": ${reason}`, { retryable: false, details: { rateKey: plan.key } })
}
