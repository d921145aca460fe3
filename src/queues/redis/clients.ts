/**
 * The ioredis clients of an adapter, each set up for what it does:
 *
 * - the **command** client (enqueue, publish, report, stats, admin calls) fails fast: no offline
 *   queue, no retry of a command cut by a disconnect, a timeout per command. A call made while
 *   Redis is down rejects at once and one made to a server that stopped answering rejects after
 *   `commandTimeoutMs`, so no caller waits for ever;
 * - the **consumer** client is what BullMQ workers use: all the handle's workers share it for their
 *   commands (it connects with the first of them), and each duplicates it for its blocking
 *   connection. Both must wait out an outage rather than fail: BullMQ requires
 *   `maxRetriesPerRequest: null` there, and its workers resume by themselves once Redis is back;
 * - a **blocking** client (reading an owner's reports, hearing cancels) waits out outages too.
 *
 * Every client reconnects by itself (ioredis `retryStrategy`, at most 2 s apart).
 * @module
 */
import type { Redis, RedisOptions } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import type { RedisClass } from './driver.js'
import { checkEvictionPolicy } from './eviction-policy.js'
import { describeCause, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'
import type { ResolvedCommon } from './options.js'

/** The clients an adapter starts with. */
export interface Clients {
  /** Fail-fast client for commands; connected and ready. */
  readonly command: Redis
  /** For BullMQ workers: their shared command connection (connected by the first), the template of their blocking ones. */
  readonly consumerTemplate: Redis
}

/** Reconnect quickly at first, then every 2 s, for as long as the client lives. */
function retryStrategy(times: number): number {
  return Math.min(times * 100, 2000)
}

/** What every client of the adapter shares: the user's ioredis options under ours. */
function baseOptions(options: ResolvedCommon): RedisOptions {
  return { ...(options.ioredis as RedisOptions), connectTimeout: options.connectTimeoutMs, retryStrategy }
}

/** Opens the command client (waiting for it to be ready, within `connectTimeoutMs`) and makes the consumer template. */
export async function openClients(Redis: RedisClass, options: ResolvedCommon, scope: ErrorScope): Promise<Clients> {
  const base = baseOptions(options)
  const command = new Redis(options.url, {
    ...base,
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
  })
  command.on('error', ignore)
  const consumerTemplate = new Redis(options.url, { ...base, lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null })
  try {
    await waitReady(command, options.connectTimeoutMs, scope)
    await checkDatabase(command, scope)
    await checkEvictionPolicy(command, scope, options.logger)
  } catch (err) {
    command.disconnect()
    consumerTemplate.disconnect()
    throw err
  }
  return { command, consumerTemplate }
}

/** A client for blocking reads and subscriptions: it waits out outages (a blocking read has no timeout). */
export function blockingClient(Redis: RedisClass, options: ResolvedCommon): Redis {
  const client = new Redis(options.url, { ...baseOptions(options), enableOfflineQueue: true, maxRetriesPerRequest: null })
  client.on('error', ignore)
  return client
}

/**
 * Resolves once `client` is ready; rejects with `scope`'s code naming the server and the last
 * connection error when it is not within `timeoutMs`.
 */
export async function waitReady(client: Redis, timeoutMs: number, scope: ErrorScope): Promise<void> {
  if (client.status === 'ready') return
  let lastError: unknown
  let onReady: () => void = ignore
  let timer: NodeJS.Timeout | undefined
  const onError = (err: unknown): void => {
    lastError = err
  }
  client.on('error', onError)
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = resolve
      client.once('ready', onReady)
      timer = setTimeout(() => {
        const cause = lastError === undefined ? 'no answer' : describeCause(lastError)
        reject(
          new TaskweaveError(scope.code, `${scopeText(scope)}: could not connect within ${timeoutMs} ms: ${cause}`, {
            cause: lastError,
            details: { location: scope.location, operation: 'connect', ...(scope.queue === undefined ? {} : { queue: scope.queue }) },
          }),
        )
      }, timeoutMs)
    })
  } finally {
    clearTimeout(timer)
    client.off('ready', onReady)
    client.off('error', onError)
  }
}

/**
 * Throws when the database the URL names (`redis://host/3`) is not the one the client uses: ioredis
 * reports a SELECT the server refused as an error event and then goes on, ready, in database 0.
 */
async function checkDatabase(client: Redis, scope: ErrorScope): Promise<void> {
  const db = client.options.db ?? 0
  if (db === 0) return
  try {
    await client.select(db)
  } catch (err) {
    throw new TaskweaveError(scope.code, `${scopeText(scope)}: database ${db} cannot be used: ${describeCause(err)} (the server's \`databases\` setting says how many it has, numbered from 0)`, {
      cause: err,
      retryable: false,
      details: { location: scope.location, operation: 'connect', database: db, ...(scope.queue === undefined ? {} : { queue: scope.queue }) },
    })
  }
}

/** Closes a client without waiting on the server (which may be down). */
export function dropClient(client: Redis): void {
  client.disconnect()
}

function ignore(): void {}
