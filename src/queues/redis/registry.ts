/**
 * Where workers announce themselves: a sorted set of worker ids by the time they last said so,
 * and a hash of what each said. Announcing also drops the workers not heard from for a long
 * while (`keepMs`), so the registry does not grow with every worker that ever ran; the transport
 * then drops their route queues too.
 * @module
 */
import type { Redis } from 'ioredis'
import type { WorkerInfo } from '../../core/transport.js'

/** Records one worker's announcement, forgets (at most 100 of) those older than ARGV[3] and answers their ids. */
const ANNOUNCE = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
end
return old`

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

/** Records `info`, dropping workers last heard from more than `keepMs` before it; the ids of those dropped. */
export async function announceWorker(client: Redis, keys: RegistryKeys, info: WorkerInfo, keepMs: number): Promise<readonly string[]> {
  const dropped = await client.eval(ANNOUNCE, 2, keys.times, keys.infos, String(info.at), info.worker, String(info.at - keepMs), JSON.stringify(info))
  return Array.isArray(dropped) ? dropped.filter((id): id is string => typeof id === 'string') : []
}

/** The workers heard from at or after `since` (epoch ms). */
export async function workersSince(client: Redis, keys: RegistryKeys, since: number): Promise<readonly WorkerInfo[]> {
  const ids = await client.zrangebyscore(keys.times, since, '+inf')
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
