/**
 * Whether a Redis handle reaches its server, from its command client's own events (no round
 * trip): up from `ready` until the connection closes, down from then until the next `ready`, with
 * the last connection error as the reason. For workers' health checks.
 * @module
 */
import type { Redis } from 'ioredis'
import type { TransportHealth } from '../../core/transport.js'
import { describeCause } from './errors.js'

/** Watches `client` (connected and ready when called); the function answers its health now. */
export function watchHealth(client: Redis, location: string): () => TransportHealth {
  let ok = client.status === 'ready'
  let since = Date.now()
  let lastError: unknown
  client.on('error', (err: unknown) => (lastError = err))
  client.on('ready', () => {
    ok = true
    since = Date.now()
    lastError = undefined
  })
  const down = (): void => {
    if (!ok) return
    ok = false
    since = Date.now()
  }
  client.on('close', down)
  client.on('end', down)
  return () => (ok ? { ok, since } : { ok, since, problem: `Redis at ${location} cannot be reached${lastError === undefined ? '' : ` (${describeCause(lastError)})`}` })
}
