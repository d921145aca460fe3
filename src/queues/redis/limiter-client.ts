/**
 * The connection the shared limiter and the shared rate budget use: one ioredis client that
 * fails fast while the server is away (no offline queue, two retries), so an owner hears of an
 * outage at its next call and tries again later instead of piling calls up.
 * @module
 */
import type { Redis } from 'ioredis'
import { loadDrivers } from './driver.js'
import { redisError } from './errors.js'
import type { ErrorScope } from './errors.js'
import { locationOf } from './location.js'

/** A connected client and how to call it. */
export interface LimiterClient {
  readonly client: Redis
  /** Runs `run`, turning a driver or server error into `TW_TRANSPORT` naming `what` and the server. */
  readonly call: <T>(what: string, run: () => Promise<T>) => Promise<T>
  /** Closes the connection (politely, else at once). */
  readonly close: () => Promise<void>
}

/** Connects to the Redis server at `url` (`what` names the user in a connection error). */
export async function openLimiterClient(url: string, what: string): Promise<LimiterClient> {
  const scope: ErrorScope = { code: 'TW_TRANSPORT', location: locationOf(url) }
  const { Redis } = await loadDrivers(scope)
  const client: Redis = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: true })
  client.on('error', () => undefined) // reported through the calls that fail
  try {
    await client.connect()
  } catch (err) {
    client.disconnect()
    throw redisError(scope, `connecting ${what}`, err)
  }
  return {
    client,
    call: async (operation, run) => {
      try {
        return await run()
      } catch (err) {
        throw redisError(scope, operation, err)
      }
    },
    close: async () => {
      await client.quit().catch(() => client.disconnect())
    },
  }
}
