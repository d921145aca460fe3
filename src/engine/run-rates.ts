/**
 * A run's side of rate keys and budgets: which key a task counts against, the leases its tasks
 * hold, the usage its tools report, and the run's budget. The engine-wide counting is the
 * {@link RateLimiter}'s; this keeps what belongs to one run, so the run's dispatch loop asks one
 * question per task and hears back through {@link RateGrantTarget}.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { LlmUsage, ProviderLimits, RunBudgetSpec } from '../core/rate.js'
import type { RunUsage } from '../core/report.js'
import { TOKENS_LATER } from '../scheduler/rate-limiter.js'
import type { RateBlock, RateHolder, RateLease, RateLimiter } from '../scheduler/rate-limiter.js'
import type { TaskShape } from '../workflow/compile.js'

/** What the run does when a waiting task is admitted, or can never be. */
export interface RateGrantTarget {
  /** Task `index` was admitted after waiting; false when it no longer waits (the lease is then undone). */
  rateAdmitted(index: number): boolean
  /** Task `index` can never be admitted under its key. */
  rateRefused(index: number, error: TaskweaveError): void
  /** The tokens task `index` reserves (its tool's estimate), asked when it reaches the head of its key's line. */
  rateTokens(index: number): number
}

/** The answer to "may task `index` start under its rate key?". */
export type RateAdmission = { readonly admitted: true } | { readonly admitted: false; readonly block: RateBlock }

const QUEUED: RateAdmission = { admitted: false, block: { blocked: 'queued', waitMs: undefined } }

/** Per-run rate bookkeeping. */
export class RunRates implements RateHolder {
  readonly #limiter: RateLimiter
  readonly #target: RateGrantTarget
  readonly #budget: RunBudgetSpec | undefined
  readonly #runId: string
  readonly #leases = new Map<number, RateLease>()
  /** Tokens reported by each running attempt that holds a lease (to settle its reservation). */
  readonly #attemptTokens = new Map<number, number>()
  /** Each LLM task's place in its key's line, kept while a 429 may send it back. */
  readonly #places = new Map<number, number>()
  #inputTokens = 0
  #outputTokens = 0
  #costUsd = 0
  #priced = false
  #calls = 0
  /** Why the run's budget is used up, once it is. */
  exhausted: string | undefined
  /** Which of its limits used it up. */
  #exhaustedBy: 'tokens' | 'cost' | undefined
  /** LLM tasks skipped because the budget was used up. */
  budgetSkipped = 0
  /** The rate keys this run's tasks went by. */
  readonly keysUsed = new Set<string>()

  constructor(limiter: RateLimiter, target: RateGrantTarget, budget: RunBudgetSpec | undefined, runId: string) {
    this.#limiter = limiter
    this.#target = target
    this.#budget = budget
    this.#runId = runId
  }

  /** The rate key of a task of `shape` with `input` (its own, else its tool's, else a configured `tool:<name>` key). */
  keyOf(shape: TaskShape, input: unknown): string | undefined {
    if (shape.rateKey !== undefined) return shape.rateKey
    const tool = shape.tool
    if (tool.rateKeyOf !== undefined) {
      try {
        const key = tool.rateKeyOf(input)
        if (typeof key === 'string' && key.length > 0) return key
      } catch {
        // A key function that throws on this input: the attempt's own input check reports it.
      }
    }
    if (tool.rateKey !== undefined) return tool.rateKey
    const toolKey = `tool:${shape.toolName}`
    return this.#limiter.isConfigured(toolKey) ? toolKey : undefined
  }

  /** Tokens a call of `shape` with `input` reserves: the tool's estimate, 0 without one. */
  estimateOf(shape: TaskShape, input: unknown): number {
    const tool = shape.tool
    if (tool.estimateTokens === undefined) return 0
    try {
      const tokens = tool.estimateTokens(input)
      return Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0
    } catch {
      return 0
    }
  }

  /** Whether task `index` holds an admission. */
  holds(index: number): boolean {
    return this.#leases.has(index)
  }

  /** The key task `index` holds an admission of. */
  keyHeldBy(index: number): string | undefined {
    return this.#leases.get(index)?.key
  }

  /** Asks for an admission of task `index` under `key`; when it must wait it is queued (in `priority` order). */
  admit(index: number, key: string, tokens: number, priority: number): RateAdmission {
    const result = this.#limiter.tryTake(key, tokens)
    if ('blocked' in result) {
      if (result.blocked !== 'never') this.#places.set(index, this.#limiter.wait(key, tokens, this, index, priority, this.#places.get(index)))
      return { admitted: false, block: result }
    }
    this.#leases.set(index, result)
    if (!this.#places.has(index)) this.#places.set(index, this.#limiter.place())
    return { admitted: true }
  }

  /**
   * As {@link admit}, for a task whose tokens the target estimates ({@link RateGrantTarget.rateTokens}).
   * Behind a line it queues unestimated and is estimated when it reaches the head: counting the
   * tokens of a long prompt takes a tokenizer pass (about 0.1 ms per 1,000 words), and 2,000 queued
   * calls estimated up front would hold back the first request by a quarter of a second.
   */
  admitEstimated(index: number, key: string, priority: number): RateAdmission {
    if (this.#limiter.isQueued(key)) {
      this.#places.set(index, this.#limiter.wait(key, TOKENS_LATER, this, index, priority, this.#places.get(index)))
      return QUEUED
    }
    return this.admit(index, key, this.#target.rateTokens(index), priority)
  }

  /** @internal Called by the limiter for a task queued unestimated. */
  rateTokens(ticket: number): number {
    return this.#target.rateTokens(ticket)
  }

  /** @internal Called by the limiter. */
  rateGranted(lease: RateLease, ticket: number): boolean {
    this.#leases.set(ticket, lease)
    if (this.#target.rateAdmitted(ticket)) return true
    this.#leases.delete(ticket)
    return false
  }

  /** @internal Called by the limiter. */
  rateRefused(key: string, ticket: number, reason: string): void {
    this.#target.rateRefused(ticket, neverFits(key, reason))
  }

  /** Gives back the admission of task `index` unused (it will not start: skipped, cancelled). */
  undo(index: number): void {
    const lease = this.#leases.get(index)
    this.#places.delete(index)
    if (lease === undefined) return
    this.#leases.delete(index)
    this.#limiter.undo(lease)
  }

  /** The attempt of task `index` ended (not by a 429): its key takes back what it did not use. */
  settle(index: number, congested: boolean): void {
    const lease = this.#leases.get(index)
    if (lease === undefined) return
    this.#leases.delete(index)
    this.#places.delete(index)
    const used = this.#attemptTokens.get(index)
    this.#attemptTokens.delete(index)
    this.#limiter.settle(lease, used, congested)
  }

  /**
   * The attempt of task `index` got a 429: its key pauses (for `retryAfterMs`, when the provider
   * named it). Returns the key and the clock time the pause ends, or undefined when the task
   * held no admission.
   */
  throttle(index: number, retryAfterMs: number | undefined): { readonly key: string; readonly until: number } | undefined {
    const lease = this.#leases.get(index)
    if (lease === undefined) return undefined
    this.#leases.delete(index)
    this.#attemptTokens.delete(index)
    return { key: lease.key, until: this.#limiter.throttle(lease, retryAfterMs) }
  }

  /** The tool of task `index` reported its provider's limits. */
  observe(index: number, limits: ProviderLimits): void {
    const lease = this.#leases.get(index)
    if (lease !== undefined) this.#limiter.observe(lease, limits)
  }

  /**
   * The tool of task `index` reported usage: it counts toward the run's budget and the task's
   * reservation. Returns the cleaned usage to add to the task's report, and whether this report
   * used up the budget.
   */
  record(index: number, usage: LlmUsage): { readonly usage: RunUsage; readonly exhaustedNow: boolean } {
    const input = cleanCount(usage.inputTokens)
    const output = cleanCount(usage.outputTokens)
    const cost = typeof usage.costUsd === 'number' && Number.isFinite(usage.costUsd) && usage.costUsd >= 0 ? usage.costUsd : undefined
    if (this.#leases.has(index)) this.#attemptTokens.set(index, (this.#attemptTokens.get(index) ?? 0) + input + output)
    this.#inputTokens += input
    this.#outputTokens += output
    this.#calls++
    if (cost !== undefined) {
      this.#costUsd += cost
      this.#priced = true
    }
    const wasExhausted = this.exhausted !== undefined
    this.#checkBudget()
    return { usage: { inputTokens: input, outputTokens: output, ...(cost !== undefined ? { costUsd: cost } : {}), calls: 1 }, exhaustedNow: !wasExhausted && this.exhausted !== undefined }
  }

  /** The run's usage so far, or undefined when no tool reported any. */
  usage(): RunUsage | undefined {
    if (this.#calls === 0) return undefined
    return { inputTokens: this.#inputTokens, outputTokens: this.#outputTokens, ...(this.#priced ? { costUsd: roundCost(this.#costUsd) } : {}), calls: this.#calls }
  }

  /** The run ended: leave every key queue, and give back admissions of tasks that never started. */
  close(running: (index: number) => boolean): void {
    this.#limiter.forget(this)
    for (const index of [...this.#leases.keys()]) if (!running(index)) this.undo(index)
  }

  /**
   * Why the run's result is `partial` for its budget, if it is: tasks were left unstarted, or it
   * spent more than allowed. A run that spent its budget exactly and left nothing undone is not.
   */
  get budgetShortfall(): string | undefined {
    const budget = this.#budget
    if (this.exhausted === undefined || budget === undefined) return undefined
    const tokens = this.#inputTokens + this.#outputTokens
    const over = (budget.maxTokens !== undefined && tokens > budget.maxTokens) || (budget.maxCostUsd !== undefined && this.#costUsd > budget.maxCostUsd)
    if (!(this.budgetSkipped > 0 || over)) return undefined
    // The calls in flight when the budget ran out still finished and spent: said, so the reason
    // agrees with the run's usage.
    const final = this.#exhaustedBy === 'tokens' ? `${tokens} tokens` : `$${roundCost(this.#costUsd)}`
    return this.exhausted.startsWith(`budget exhausted: ${final} `) ? this.exhausted : `${this.exhausted}; ${final} by the end (calls in flight when it ran out still finished)`
  }

  #checkBudget(): void {
    const budget = this.#budget
    if (budget === undefined || this.exhausted !== undefined) return
    const tokens = this.#inputTokens + this.#outputTokens
    if (budget.maxTokens !== undefined && tokens >= budget.maxTokens) {
      this.#exhaustedBy = 'tokens'
      this.exhausted = `budget exhausted: ${tokens} tokens used of maxTokens ${budget.maxTokens} in run ${this.#runId}`
    } else if (budget.maxCostUsd !== undefined && this.#costUsd >= budget.maxCostUsd) {
      this.#exhaustedBy = 'cost'
      this.exhausted = `budget exhausted: $${roundCost(this.#costUsd)} spent of maxCostUsd $${budget.maxCostUsd} in run ${this.#runId}`
    }
  }
}

/** Adds one usage report to a task's running total. */
export function addUsage(total: RunUsage | undefined, more: RunUsage): RunUsage {
  if (total === undefined) return more
  const cost = total.costUsd === undefined && more.costUsd === undefined ? undefined : roundCost((total.costUsd ?? 0) + (more.costUsd ?? 0))
  return { inputTokens: total.inputTokens + more.inputTokens, outputTokens: total.outputTokens + more.outputTokens, ...(cost !== undefined ? { costUsd: cost } : {}), calls: total.calls + more.calls }
}

/** The error of a task whose estimate can never fit its key's token budget. */
export function neverFits(key: string, reason: string): TaskweaveError {
  return new TaskweaveError('TW_RATE_NEVER_FITS', `the call can never run under rate key "${key}": ${reason}`, { retryable: false, details: { rateKey: key } })
}

function cleanCount(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.round(n) : 0
}

/** Costs to a millionth of a dollar: sums of float prices otherwise print as 0.30000000000000004. */
function roundCost(usd: number): number {
  return Math.round(usd * 1e6) / 1e6
}
