/**
 * The shared rate budget on Redis: each budget of a key one hash (`level`, `at`), refilled in the
 * server's clock (`TIME`), so processes on machines whose clocks differ agree on what refilled. A
 * take is one script over every budget it charges — refill, check, then take from all or none —
 * so two owners can never both take the last unit. Each hash expires when its budget would be
 * full again (a full budget and no hash mean the same), so nothing outlives its use.
 *
 * Keys are `<prefix>:rate:{<key>}:<budget>`: the braces put every budget of one key in one
 * Redis Cluster slot, as a script over several keys needs.
 * @module
 */
import { checkCharges, checkPause } from '../../core/shared-rate.js'
import type { SharedRateAnswer, SharedRateBudget, SharedRateCharge } from '../../core/shared-rate.js'
import { openLimiterClient } from './limiter-client.js'

// Shared by the scripts: the server's time in ms (with µs), a budget's level now, and storing one.
const COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local eps = 1e-9
local function level_of(key, limit, window)
  local s = redis.call('HMGET', key, 'level', 'at')
  if not s[1] or not s[2] then return limit end
  return math.min(limit, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * limit / window)
end
local function store(key, level, limit, window)
  if level >= limit - eps then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'level', string.format('%.17g', level), 'at', string.format('%.17g', now))
  redis.call('PEXPIRE', key, math.ceil((limit - level) * window / limit) + 1)
end
`

// KEYS[1] the key's pause, then one hash per charge; ARGV limit, window ms, amount per charge.
// Returns {1, 0} when taken, {0, ms} when refused (-1: an amount over its limit, never).
const TAKE = `${COMMON}
local levels = {}
local wait = 0
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if paused > now then wait = math.ceil(paused - now) end
for i = 2, #KEYS do
  local key = KEYS[i]
  local limit, window, amount = tonumber(ARGV[i * 3 - 5]), tonumber(ARGV[i * 3 - 4]), tonumber(ARGV[i * 3 - 3])
  if amount > limit + eps then return {0, -1} end
  levels[i] = level_of(key, limit, window)
  local short = amount - levels[i]
  if short > eps then wait = math.max(wait, math.ceil(short * window / limit)) end
end
if wait > 0 then return {0, wait} end
for i = 2, #KEYS do
  store(KEYS[i], levels[i] - tonumber(ARGV[i * 3 - 3]), tonumber(ARGV[i * 3 - 5]), tonumber(ARGV[i * 3 - 4]))
end
return {1, 0}`

// KEYS[1] the key's pause; ARGV[1] its length in ms. Kept as the server time it ends, never shortened.
const PAUSE = `${COMMON}
local ms = tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if ms > 0 and now + ms > paused then redis.call('SET', KEYS[1], string.format('%.17g', now + ms), 'PX', math.ceil(ms)) end
return 0`

// As TAKE; gives each amount back (negative: charges more), never above the limit.
const ADJUST = `${COMMON}
for i, key in ipairs(KEYS) do
  local limit, window, amount = tonumber(ARGV[i * 3 - 2]), tonumber(ARGV[i * 3 - 1]), tonumber(ARGV[i * 3])
  store(key, math.min(limit, level_of(key, limit, window) + amount), limit, window)
end
return 0`

// KEYS[1] the hash; ARGV limit, window ms. The level as text (a Lua number would be truncated).
const LEVEL = `${COMMON}
return string.format('%.17g', level_of(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])))`

/** Options of {@link openRedisSharedRateBudget}. */
export interface RedisSharedRateBudgetOptions {
  /** @default redis://127.0.0.1:6379 */
  readonly url?: string
  /** Keys start with it. @default 'taskweave' */
  readonly prefix?: string
}

/**
 * Opens a {@link SharedRateBudget} on the Redis server at `options.url`. It works beside any
 * transport (Redis, RabbitMQ, in-process): only the owners talk to it.
 * @example
 * ```ts
 * const budget = await openRedisSharedRateBudget({ url: process.env.REDIS_URL })
 * const runner = createRemoteRunner({ transport, shared: { budget, rates: { openai: { requests: '60/min' } }, tools } })
 * ```
 */
export async function openRedisSharedRateBudget(options: RedisSharedRateBudgetOptions = {}): Promise<SharedRateBudget> {
  const connection = await openLimiterClient(options.url ?? 'redis://127.0.0.1:6379', 'the shared rate budget')
  const { client, call } = connection
  const prefix = options.prefix ?? 'taskweave'
  const keysOf = (key: string, charges: readonly SharedRateCharge[]): string[] => charges.map((c) => `${prefix}:rate:{${key}}:${c.budget}`)
  // Not under `rate:{key}:`, where a budget of any name may live; the braces keep it in the key's slot.
  const pauseKeyOf = (key: string): string => `${prefix}:rate-pause:{${key}}`
  const argsOf = (charges: readonly SharedRateCharge[]): string[] => charges.flatMap((c) => [String(c.limit), String(c.windowMs), String(c.amount)])
  return {
    take: async (key, charges) => {
      checkCharges(key, charges)
      const [granted, waitMs] = (await call('taking from a shared rate budget', () => client.eval(TAKE, charges.length + 1, pauseKeyOf(key), ...keysOf(key, charges), ...argsOf(charges)))) as [number, number]
      return granted === 1 ? { granted: true } : ({ granted: false, retryAfterMs: waitMs < 0 ? Infinity : waitMs } satisfies SharedRateAnswer)
    },
    adjust: async (key, charges) => {
      checkCharges(key, charges)
      if (charges.length === 0) return
      await call('adjusting a shared rate budget', () => client.eval(ADJUST, charges.length, ...keysOf(key, charges), ...argsOf(charges)))
    },
    pause: async (key, forMs) => {
      checkPause(key, forMs)
      await call('pausing a shared rate key', () => client.eval(PAUSE, 1, pauseKeyOf(key), String(forMs)))
    },
    level: async (key, charge) => {
      checkCharges(key, [charge])
      return Number(await call('reading a shared rate budget', () => client.eval(LEVEL, 1, ...keysOf(key, [charge]), String(charge.limit), String(charge.windowMs))))
    },
    close: () => connection.close(),
  }
}
