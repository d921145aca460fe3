/**
 * The shared rate budget port: request and token budgets of rate keys that several processes
 * draw from, so a provider's quota (`60 requests/min on openai`) holds for a whole deployment
 * rather than per owner.
 *
 * Each budget of a key is a token bucket that holds at most `limit` units and refills
 * continuously, `limit` per `windowMs` — the same meaning `limits.rates` gives a budget in one
 * process, and the way providers count. Over any stretch of time `T`, takes from one budget never
 * exceed `limit + limit × T / windowMs` units (a full bucket, then the refill).
 *
 * The caller names the budget's `limit` and `windowMs` with every call, so a backend keeps only
 * each budget's level and the time it was last seen; a budget left alone until it is full again
 * is the same as one never used, so a backend may forget it then (Redis lets its key expire).
 * Nothing is held across calls, so a process that dies leaks nothing.
 * @module
 */
import { InvalidOptionError } from './errors.js'

/** Units of one budget of a key that a call takes (or, in {@link SharedRateBudget.adjust}, gives back). */
export interface SharedRateCharge {
  /** Which budget of the key: `'requests'`, `'tokens'`, or any other name. */
  readonly budget: string
  /** The most the budget holds, in units. */
  readonly limit: number
  /** The time the budget takes to refill from empty, in ms. */
  readonly windowMs: number
  /** Units to take; in {@link SharedRateBudget.adjust}, units to give back (negative: to charge more). */
  readonly amount: number
}

/**
 * The answer to a take: granted, or refused with the time after which the budgets will hold the
 * amounts asked for (and the key's pause is over) if nobody else takes first (`Infinity` when an
 * amount exceeds its budget's limit: it never will).
 */
export type SharedRateAnswer = { readonly granted: true } | { readonly granted: false; readonly retryAfterMs: number }

/** Rate budgets shared by every process that uses the same backend. */
export interface SharedRateBudget {
  /**
   * Takes every charge from key `key`'s budgets, all or none, atomically with respect to every
   * other process: granted when each budget holds its amount now. A refusal takes nothing.
   */
  take(key: string, charges: readonly SharedRateCharge[]): Promise<SharedRateAnswer>
  /**
   * Gives each charge's `amount` back to its budget (a negative amount charges more: a call that
   * used more tokens than it reserved). A budget never holds more than its limit, and may owe
   * (hold less than zero) until it refills.
   */
  adjust(key: string, charges: readonly SharedRateCharge[]): Promise<void>
  /**
   * Pauses key `key` for `forMs` from now: every take is refused until then (a provider answered
   * 429 with `Retry-After`). A pause never shortens one already longer.
   */
  pause(key: string, forMs: number): Promise<void>
  /** Units budget `charge.budget` of `key` holds now (`charge.amount` is ignored). */
  level(key: string, charge: SharedRateCharge): Promise<number>
  /** Releases the connection (the budgets stay, and refill by themselves). */
  close(): Promise<void>
}

/**
 * Refuses charges no budget can count with (`TW_INVALID_OPTION` naming the field): every adapter
 * checks them the same way before it touches a budget.
 */
export function checkCharges(key: string, charges: readonly SharedRateCharge[]): void {
  checkKey(key)
  // Checked as what a caller without types may pass.
  const list: readonly SharedRateCharge[] = charges
  if (!Array.isArray(charges)) throw new InvalidOptionError('charges', 'an array of { budget, limit, windowMs, amount }', charges)
  const names = new Set<string>()
  for (const charge of list) {
    if (typeof charge !== 'object' || charge === null) throw new InvalidOptionError('charges[]', 'an object { budget, limit, windowMs, amount }', charge)
    if (typeof charge.budget !== 'string' || charge.budget.length === 0 || charge.budget.length > 100) throw new InvalidOptionError('charge.budget', 'a name of 1 to 100 characters', charge.budget)
    // Two charges of one budget would each see the level before the other took.
    if (names.has(charge.budget)) throw new InvalidOptionError('charge.budget', 'a budget named once per call', charge.budget)
    names.add(charge.budget)
    if (!(typeof charge.limit === 'number' && Number.isFinite(charge.limit) && charge.limit > 0)) throw new InvalidOptionError('charge.limit', 'a finite number > 0', charge.limit)
    if (!(typeof charge.windowMs === 'number' && Number.isFinite(charge.windowMs) && charge.windowMs > 0)) throw new InvalidOptionError('charge.windowMs', 'a finite number > 0', charge.windowMs)
    if (!(typeof charge.amount === 'number' && Number.isFinite(charge.amount))) throw new InvalidOptionError('charge.amount', 'a finite number', charge.amount)
  }
}

/** Refuses a rate key no backend can name (`TW_INVALID_OPTION`). */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) throw new InvalidOptionError('key', 'a rate key of 1 to 200 characters', key)
}

/** Refuses a pause that is not a finite number of ms ≥ 0 (`TW_INVALID_OPTION`). */
export function checkPause(key: string, forMs: number): void {
  checkKey(key)
  if (!(typeof forMs === 'number' && Number.isFinite(forMs) && forMs >= 0)) throw new InvalidOptionError('forMs', 'a finite number of ms ≥ 0', forMs)
}
