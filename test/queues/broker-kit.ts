/**
 * Shared by the broker tests: removing what a test file left on a shared broker, and a TCP proxy
 * in front of a broker that a test cuts (every connection dropped) or stops (new ones refused).
 */
import { execFile } from 'node:child_process'
import { createServer, connect as tcpConnect } from 'node:net'
import type { Server, Socket } from 'node:net'
import { promisify } from 'node:util'
import type { Redis } from 'ioredis'

const run = promisify(execFile)

/** Names of the broker's queues or exchanges that start with `prefix` (listed with rabbitmqctl; none when it is not here). */
async function rabbitNames(what: 'list_queues' | 'list_exchanges', prefix: string): Promise<string[]> {
  try {
    const { stdout } = await run('rabbitmqctl', [what, 'name', '-q', '--no-table-headers'])
    return stdout
      .split('\n')
      .map((name) => name.trim())
      .filter((name) => name.startsWith(prefix))
  } catch {
    return []
  }
}

/**
 * Removes what tests left on a shared broker under names that start with `prefix` (Redis: keys
 * that contain it), so a run leaves nothing behind for the next.
 */
export async function removeBrokerLeftovers(type: 'redis' | 'rabbitmq', url: string, prefix: string): Promise<void> {
  if (type === 'redis') {
    const { Redis } = await import('ioredis')
    const redis = new Redis(url)
    try {
      const keys = await redisKeys(redis, `*${prefix}*`)
      for (let k = 0; k < keys.length; k += 500) await redis.del(...keys.slice(k, k + 500))
    } finally {
      redis.disconnect()
    }
    return
  }
  const amqp = await import('amqplib')
  const connection = await amqp.connect(url)
  try {
    const channel = await connection.createChannel()
    for (const queue of await rabbitNames('list_queues', prefix)) await channel.deleteQueue(queue)
    for (const exchange of await rabbitNames('list_exchanges', prefix)) await channel.deleteExchange(exchange)
  } finally {
    await connection.close()
  }
}

/** Every Redis key that matches `pattern` (SCAN, not KEYS). */
export async function redisKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    keys.push(...found)
  } while (cursor !== '0')
  return keys
}

/** A TCP proxy to a broker that a test can cut (drop every connection) or stop (refuse new ones). */
export class TcpProxy {
  readonly #target: URL
  readonly #sockets = new Set<Socket>()
  #server: Server | undefined
  port = 0

  constructor(target: string) {
    this.#target = new URL(target)
  }

  /** The target's URL with the proxy's address. */
  get url(): string {
    const url = new URL(this.#target)
    url.host = `127.0.0.1:${this.port}`
    return url.toString()
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = tcpConnect(Number(this.#target.port || 5672), this.#target.hostname)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => {
          this.#sockets.delete(s)
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as { port: number }).port
    this.#server = server
  }

  cut(): void {
    for (const s of this.#sockets) s.destroy()
  }

  /** Keeps every connection open but forwards nothing more either way: a broker gone silent (a host lost, a half-open link). */
  silence(): void {
    for (const s of this.#sockets) {
      s.unpipe()
      s.pause()
    }
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    this.cut()
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Waits until `check` holds, polling every 10 ms; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(10)
  }
}
