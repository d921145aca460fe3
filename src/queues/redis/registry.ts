/**
 * Where workers announce themselves: a sorted set of worker ids by the time (the server's) they last said so,
 * and a hash of what each said. Announcing also drops the workers not heard from for a long
 * while (`keepMs`), so the registry does not grow with every worker that ever ran; the transport
 * then drops their route queues too.
 * @module
 */
import type { Redis } from 'ioredis'
import type { WorkerInfo } from '../../core/transport.js'

/** Redis's own time in ms: every worker's announcement is timed by the one clock, whatever its own says. */
const SERVER_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/**
 * Records one worker's announcement (ARGV[1] its id, ARGV[3] what it said) at the server's time,
 * forgets (at most 100 of) those not heard from for ARGV[2] ms and answers their ids.
 */
const ANNOUNCE = `${SERVER_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])), 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
end
return old`

/** The ids of the workers heard from within ARGV[1] ms of the server's time. */
const HEARD_WITHIN = `${SERVER_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')`

/** The registry's keys. */
export interface RegistryKeys {
  /** Sorted set: worker id by the time of its last announcement. */
  readonly times: string
  /** Hash: worker id → its last announcement (JSON). */
  readonly infos: string
}

/** The registry keys under `prefix`. */
export function registryKeys(prefix: string): RegistryKeys {
  return { times: `${prefix}:tw-workers`, infos: `${prefix}:tw-worker-infos` }
}

/**
 * Records `info`, dropping workers last heard from more than `keepMs` ago; the ids of those
 * dropped. Both times are the Redis server's: a worker whose clock jumped or runs ahead cannot
 * make the others look dead (and lose their route queues), nor a dead one look alive.
 */
export async function announceWorker(client: Redis, keys: RegistryKeys, info: WorkerInfo, keepMs: number): Promise<readonly string[]> {
  const dropped = await client.eval(ANNOUNCE, 2, keys.times, keys.infos, info.worker, String(keepMs), JSON.stringify(info))
  return Array.isArray(dropped) ? dropped.filter((id): id is string => typeof id === 'string') : []
}

/** The workers heard from within the last `withinMs`, by the server's clock. */
export async function workersWithin(client: Redis, keys: RegistryKeys, withinMs: number): Promise<readonly WorkerInfo[]> {
  const heard = await client.eval(HEARD_WITHIN, 1, keys.times, String(withinMs))
  const ids = Array.isArray(heard) ? heard.filter((id): id is string => typeof id === 'string') : []
  if (ids.length === 0) return []
  const infos = await client.hmget(keys.infos, ...ids)
  const found: WorkerInfo[] = []
  for (const text of infos) {
    if (text === null) continue
    try {
      found.push(JSON.parse(text) as WorkerInfo)
    } catch {
      // An entry that is not ours: skipped.
    }
  }
  return found
}
