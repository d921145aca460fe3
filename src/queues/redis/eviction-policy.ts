/**
 * The check that the Redis server will not evict what the adapters keep. Under any
 * `maxmemory-policy` but `noeviction`, a Redis short of memory deletes keys to make room: a queued
 * attempt, its lock or a report vanishes without an error, and the work is lost or runs twice.
 * With `noeviction` the server refuses the write instead (an `OOM` error the caller sees). BullMQ
 * says so in a warning; the adapters refuse to open.
 * @module
 */
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** The only policy under which Redis never deletes a key to make room. */
export const SAFE_EVICTION_POLICY = 'noeviction'

/**
 * Reads the server's `maxmemory-policy`: from `CONFIG GET`, else (managed services rename or forbid
 * `CONFIG`) from `INFO memory`. Undefined when neither tells.
 */
export async function readEvictionPolicy(client: Redis): Promise<string | undefined> {
  try {
    const reply = await client.call('CONFIG', 'GET', 'maxmemory-policy')
    if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1]
  } catch {
    // Forbidden or renamed: INFO says it too.
  }
  try {
    const info = await client.info('memory')
    return /^maxmemory_policy:(\S+)/m.exec(info)?.[1]
  } catch {
    return undefined
  }
}

/**
 * Throws `scope`'s code (not retryable) naming the setting when the server may evict keys; warns
 * through `logger` and goes on when the policy cannot be read.
 */
export async function checkEvictionPolicy(client: Redis, scope: ErrorScope, logger: Logger): Promise<void> {
  const policy = await readEvictionPolicy(client)
  if (policy === undefined) {
    logger.warn(`${scopeText(scope)}: could not read the server's maxmemory-policy (CONFIG GET and INFO were refused); it must be ${SAFE_EVICTION_POLICY}, or Redis may delete queued attempts when short of memory`)
    return
  }
  if (policy === SAFE_EVICTION_POLICY) return
  throw new TaskweaveError(
    scope.code,
    `${scopeText(scope)}: the server's maxmemory-policy is "${policy}": short of memory, Redis would delete queued attempts and their locks without an error, losing work or running it twice. Set maxmemory-policy to ${SAFE_EVICTION_POLICY} (redis.conf, or CONFIG SET maxmemory-policy ${SAFE_EVICTION_POLICY}); writes are then refused with an error when memory is full`,
    { retryable: false, details: { location: scope.location, operation: 'connect', setting: 'maxmemory-policy', value: policy, expected: SAFE_EVICTION_POLICY, ...(scope.queue === undefined ? {} : { queue: scope.queue }) } },
  )
}
