/**
 * Rate limits as written (`requests: 600/min`) turned into what the limiter counts with, checked
 * field by field so a mistake names its key and field.
 * @module
 */
import { parseDuration } from './duration.js'
import { InvalidOptionError } from './errors.js'
import type { RateLimitSpec, RateWindowSpec } from './rate.js'

/** A budget over a window, resolved. */
export interface RateWindow {
  readonly limit: number
  readonly windowMs: number
}

/** Adaptive concurrency bounds, resolved. */
export interface AdaptiveBounds {
  readonly initial: number
  readonly min: number
  readonly max: number
}

/** The limits of one rate key, resolved. */
export interface RateKeyLimits {
  readonly requests: RateWindow | undefined
  readonly tokens: RateWindow | undefined
  /** A fixed cap on calls in flight (the adaptive limit's ceiling when both are set). */
  readonly concurrent: number | undefined
  /** AIMD bounds, or undefined for a fixed (or no) concurrency cap. */
  readonly adaptive: AdaptiveBounds | undefined
  readonly maxBounces: number
  readonly attemptsPerSecond: number | undefined
}

/** Bounces a task may take from 429s before one counts as a failed attempt. */
export const DEFAULT_MAX_BOUNCES = 8

/** Adaptive concurrency when nothing else is said: start at 4, between 1 and 256. */
export const DEFAULT_ADAPTIVE: AdaptiveBounds = { initial: 4, min: 1, max: 256 }

/** The limits of a key nobody configured: adaptive concurrency, budgets learned from the provider's headers. */
export const UNCONFIGURED: RateKeyLimits = {
  requests: undefined,
  tokens: undefined,
  concurrent: undefined,
  adaptive: DEFAULT_ADAPTIVE,
  maxBounces: DEFAULT_MAX_BOUNCES,
  attemptsPerSecond: undefined,
}

const UNIT_WORDS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
}
const WINDOW_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(?:(\d+(?:\.\d+)?)\s*)?([a-z]+)\s*$/

/** Parses `'600/min'`, `'10/s'`, `'200000/1m'`, `'5/250ms'` or `{ limit, per }`; throws naming `field`. */
export function parseRateWindow(field: string, spec: RateWindowSpec): RateWindow {
  const expected = "a budget like '600/min', '10/s', '5/250ms' or { limit: 600, per: '1m' }"
  if (typeof spec === 'string') {
    const match = WINDOW_PATTERN.exec(spec)
    const word = match?.[3] ?? ''
    // `s`, `ms`, `min`, `minute` and their plurals (`mins`, `minutes`, `seconds`).
    const unit = UNIT_WORDS[word] ?? UNIT_WORDS[word.replace(/s$/, '')]
    if (match === null || unit === undefined) throw new InvalidOptionError(field, expected, spec)
    return checked(field, Number(match[1]), Number(match[2] ?? 1) * unit, spec, expected)
  }
  if (typeof spec === 'object' && spec !== null) {
    const windowMs = parseDuration(spec.per)
    if (windowMs === undefined) throw new InvalidOptionError(`${field}.per`, "a duration (ms, or a string like '1m')", spec.per)
    return checked(field, spec.limit, windowMs, spec, expected)
  }
  throw new InvalidOptionError(field, expected, spec)
}

function checked(field: string, limit: unknown, windowMs: number, spec: unknown, expected: string): RateWindow {
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) throw new InvalidOptionError(field, `${expected}, with a limit > 0`, spec)
  if (!(windowMs > 0)) throw new InvalidOptionError(field, `${expected}, over a window > 0`, spec)
  return { limit, windowMs }
}

function positiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new InvalidOptionError(field, 'an integer ≥ 1', value)
  return value
}

const SPEC_FIELDS = new Set(['requests', 'tokens', 'concurrent', 'adaptive', 'maxBounces', 'attemptsPerSecond'])

/** Resolves the limits of rate key `key` as written, throwing `TW_INVALID_OPTION` naming `where.key.field`. */
export function resolveRateLimits(where: string, key: string, spec: RateLimitSpec): RateKeyLimits {
  const at = `${where}.${key}`
  if (typeof spec !== 'object' || spec === null) throw new InvalidOptionError(at, 'an object with requests, tokens, concurrent, adaptive, maxBounces or attemptsPerSecond', spec)
  for (const name of Object.keys(spec)) if (!SPEC_FIELDS.has(name)) throw new InvalidOptionError(`${at}.${name}`, `one of ${[...SPEC_FIELDS].join(', ')}`, name)
  const concurrent = spec.concurrent === undefined ? undefined : positiveInteger(`${at}.concurrent`, spec.concurrent)
  let adaptive: AdaptiveBounds | undefined
  // Adaptive unless a fixed cap is given: even with budgets configured it matters. A burst of a
  // whole window's budget at once queues in the client (sockets, TLS) and reaches the provider
  // later than the engine counted it, when the provider's bucket has refilled less than the
  // engine's: measured, 28 of 300 calls refused. Slow start finds the level in a few round trips.
  if (spec.adaptive === true || (spec.adaptive === undefined && concurrent === undefined)) adaptive = { ...DEFAULT_ADAPTIVE }
  else if (typeof spec.adaptive === 'object' && spec.adaptive !== null) {
    const a = spec.adaptive
    const min = a.min === undefined ? DEFAULT_ADAPTIVE.min : positiveInteger(`${at}.adaptive.min`, a.min)
    const max = a.max === undefined ? (concurrent ?? DEFAULT_ADAPTIVE.max) : positiveInteger(`${at}.adaptive.max`, a.max)
    const initial = a.initial === undefined ? Math.min(max, Math.max(min, DEFAULT_ADAPTIVE.initial)) : positiveInteger(`${at}.adaptive.initial`, a.initial)
    if (!(min <= initial && initial <= max)) throw new InvalidOptionError(`${at}.adaptive`, 'min ≤ initial ≤ max', a)
    adaptive = { initial, min, max }
  } else if (spec.adaptive !== undefined && spec.adaptive !== false) throw new InvalidOptionError(`${at}.adaptive`, 'true, false or { initial, min, max }', spec.adaptive)
  if (adaptive !== undefined && concurrent !== undefined) adaptive = { ...adaptive, max: Math.min(adaptive.max, concurrent), initial: Math.min(adaptive.initial, concurrent) }
  const maxBounces = spec.maxBounces === undefined ? DEFAULT_MAX_BOUNCES : spec.maxBounces
  if (typeof maxBounces !== 'number' || !Number.isInteger(maxBounces) || maxBounces < 0) throw new InvalidOptionError(`${at}.maxBounces`, 'an integer ≥ 0', maxBounces)
  const aps = spec.attemptsPerSecond
  if (aps !== undefined && (typeof aps !== 'number' || !Number.isFinite(aps) || aps <= 0)) throw new InvalidOptionError(`${at}.attemptsPerSecond`, 'a number > 0', aps)
  return {
    requests: spec.requests === undefined ? undefined : parseRateWindow(`${at}.requests`, spec.requests),
    tokens: spec.tokens === undefined ? undefined : parseRateWindow(`${at}.tokens`, spec.tokens),
    concurrent,
    adaptive,
    maxBounces,
    attemptsPerSecond: aps,
  }
}

/** The table of a definition without `rates` (shared: it is read-only). */
const NO_RATES: ReadonlyMap<string, RateKeyLimits> = new Map()

/** Resolves every key of a `rates` option (a null-prototype map, so `__proto__` is an ordinary key). */
export function resolveRateTable(where: string, rates: Readonly<Record<string, RateLimitSpec>> | undefined): ReadonlyMap<string, RateKeyLimits> {
  if (rates === undefined) return NO_RATES
  const out = new Map<string, RateKeyLimits>()
  if (typeof rates !== 'object' || rates === null) throw new InvalidOptionError(where, 'an object of rate key → limits', rates)
  for (const key of Object.keys(rates)) {
    if (key.length === 0 || key.length > 200) throw new InvalidOptionError(`${where}.${key}`, 'a rate key of 1 to 200 characters', key)
    out.set(key, resolveRateLimits(where, key, rates[key] as RateLimitSpec))
  }
  return out
}

/** The stricter of two budgets: the lower rate, and the smaller burst. */
function stricterWindow(a: RateWindow | undefined, b: RateWindow | undefined): RateWindow | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  const rateA = a.limit / a.windowMs
  const rateB = b.limit / b.windowMs
  return rateA <= rateB ? (a.limit <= b.limit ? a : { limit: b.limit, windowMs: b.limit / rateA }) : b.limit <= a.limit ? b : { limit: a.limit, windowMs: a.limit / rateB }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b)
}

/**
 * Two declarations of one key's limits (two workflows, say) combined into the stricter of each:
 * a key is one provider quota, so the engine keeps under the lowest anyone declared.
 */
export function stricterLimits(a: RateKeyLimits, b: RateKeyLimits): RateKeyLimits {
  const concurrent = minDefined(a.concurrent, b.concurrent)
  const adaptive = a.adaptive === undefined || b.adaptive === undefined ? undefined : { initial: Math.min(a.adaptive.initial, b.adaptive.initial), min: Math.min(a.adaptive.min, b.adaptive.min), max: Math.min(a.adaptive.max, b.adaptive.max) }
  return {
    requests: stricterWindow(a.requests, b.requests),
    tokens: stricterWindow(a.tokens, b.tokens),
    concurrent,
    adaptive,
    maxBounces: Math.min(a.maxBounces, b.maxBounces),
    attemptsPerSecond: minDefined(a.attemptsPerSecond, b.attemptsPerSecond),
  }
}
