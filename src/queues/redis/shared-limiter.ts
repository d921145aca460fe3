/**
 * The shared limiter on Redis: each key a sorted set of holders scored by lease end, in the
 * server's clock (`TIME`), so processes on machines whose clocks differ agree on what expired.
 * Taking a place is one script: drop expired leases, then add the holder if fewer than the limit
 * hold one.
 * @module
 */
import type { SharedLimiter, SharedPermit } from '../../core/shared-limiter.js'
import { openLimiterClient } from './limiter-client.js'

// KEYS[1] the set; ARGV: holder, limit, ttl ms. Returns 1 when the holder has a place.
const ACQUIRE = `
-- The set lives as long as its longest lease (and as long again): never shortened by a caller with a shorter one.
local function keepUntilLastLease(key, ttl)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', key, math.floor(tonumber(top[2])) + ttl) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  keepUntilLastLease(KEYS[1], ttl)
  return 1
end
return 0`

// KEYS the sets; ARGV: ttl ms, then one holder per key. Extends only leases still held.
const RENEW = `
-- The set lives as long as its longest lease (and as long again): never shortened by a caller with a shorter one.
local function keepUntilLastLease(key, ttl)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', key, math.floor(tonumber(top[2])) + ttl) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local score = redis.call('ZSCORE', key, ARGV[i + 1])
  if score and tonumber(score) > now then
    redis.call('ZADD', key, 'XX', now + ttl, ARGV[i + 1])
    keepUntilLastLease(key, ttl)
  end
end
return 0`

// KEYS[1] the set. Holders whose lease has not ended.
const HELD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`

/** Options of {@link openRedisSharedLimiter}. */
export interface RedisSharedLimiterOptions {
  /** @default redis://127.0.0.1:6379 */
  readonly url?: string
  /** Keys start with it. @default 'taskweave' */
  readonly prefix?: string
}

/** Opens a {@link SharedLimiter} on the Redis server at `options.url`. */
export async function openRedisSharedLimiter(options: RedisSharedLimiterOptions = {}): Promise<SharedLimiter> {
  const connection = await openLimiterClient(options.url ?? 'redis://127.0.0.1:6379', 'the shared limiter')
  const { client, call } = connection
  const keyOf = (key: string): string => `${options.prefix ?? 'taskweave'}:limit:${key}`
  return {
    tryAcquire: (key, limit, holder, ttlMs) => call('taking a shared place', async () => (await client.eval(ACQUIRE, 1, keyOf(key), holder, String(limit), String(Math.ceil(ttlMs)))) === 1),
    release: (key, holder) => call('giving a shared place back', async () => void (await client.zrem(keyOf(key), holder))),
    renew: (permits: readonly SharedPermit[], ttlMs) =>
      permits.length === 0 ? Promise.resolve() : call('renewing shared places', async () => void (await client.eval(RENEW, permits.length, ...permits.map((p) => keyOf(p.key)), String(Math.ceil(ttlMs)), ...permits.map((p) => p.holder)))),
    held: (key) => call('counting shared places', async () => Number(await client.eval(HELD, 1, keyOf(key)))),
    close: () => connection.close(),
  }
}
