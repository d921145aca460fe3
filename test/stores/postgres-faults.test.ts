/**
 * The PostgreSQL store when the server fails: unreachable, restarted mid-call, silent. The shared
 * server is never touched: a TCP proxy (node:net) between the store and 127.0.0.1:5432 plays the
 * faults (cut every connection, refuse new ones, swallow bytes), and a server that accepts and
 * never answers plays the silent one. Waits are on events, never on sleeps; every elapsed-time
 * bound is well above what a healthy run needs and well below a hang.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { connect } from 'node:net'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { openPostgresStore } from 'taskweave/stores/postgres'
import type { PostgresRunStore } from 'taskweave/stores/postgres'
import type { JournalEntry, NewRun } from '../../src/core/store.js'
import { freePort } from '../private-servers.js'

const URL = process.env['TASKWEAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
const TARGET = new globalThis.URL(URL)
const RUN = randomBytes(4).toString('hex')
const T0 = 1_800_000_000_000

/** What the proxy does with traffic: forward it, refuse new connections (a server that is down), or swallow every byte (a half-open peer). */
type ProxyMode = 'pass' | 'down' | 'blackhole'

interface Pair {
  readonly client: Socket
  upstream: Socket | undefined
  /** Bytes were swallowed: the stream is corrupt, so the pair is cut when the proxy passes again. */
  swallowed: boolean
  /** Set once a forwarded trigger went out on this pair: the server's answer cuts every connection instead of reaching the client. */
  cutOnAnswer: (() => void) | undefined
}

/** A TCP proxy in front of the PostgreSQL server that can play its failures. */
class FaultProxy {
  mode: ProxyMode = 'pass'
  readonly #pairs = new Set<Pair>()
  #trigger: { readonly fires: (chunk: Buffer, total: number) => boolean; readonly forward: boolean; total: number; readonly done: () => void } | undefined

  private constructor(readonly server: Server) {}

  static async start(): Promise<FaultProxy> {
    const server = createServer()
    const proxy = new FaultProxy(server)
    server.on('connection', (client) => proxy.#accept(client))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return proxy
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  /** The store's URL through the proxy. */
  get url(): string {
    const url = new globalThis.URL(URL)
    url.host = `127.0.0.1:${this.port}`
    return url.toString()
  }

  /** Connections open through the proxy. */
  get connections(): number {
    return this.#pairs.size
  }

  /** Destroys every proxied connection at once, as a server crash does. */
  cutAll(): void {
    for (const pair of this.#pairs) this.#drop(pair)
  }

  /** Back to forwarding; connections that lost bytes while swallowed are cut. */
  pass(): void {
    this.mode = 'pass'
    for (const pair of this.#pairs) if (pair.swallowed) this.#drop(pair)
  }

  /**
   * Cuts every connection when `fires` says so of a chunk from a client (given the bytes seen
   * since arming): either instead of forwarding that chunk (the server never sees it), or, with
   * `forward`, once the server has answered it and before the answer reaches the client (the
   * server has certainly applied it: it answers a statement only after its commit). Resolves when
   * it cut.
   */
  cutWhen(fires: (chunk: Buffer, total: number) => boolean, forward: boolean): Promise<void> {
    return new Promise((resolve) => {
      this.#trigger = { fires, forward, total: 0, done: resolve }
    })
  }

  async close(): Promise<void> {
    this.cutAll()
    this.server.close()
    await once(this.server, 'close')
  }

  #accept(client: Socket): void {
    if (this.mode === 'down') {
      client.destroy()
      return
    }
    const pair: Pair = { client, upstream: undefined, swallowed: false, cutOnAnswer: undefined }
    this.#pairs.add(pair)
    client.on('error', () => this.#drop(pair))
    client.on('close', () => this.#drop(pair))
    if (this.mode === 'blackhole') {
      client.on('data', () => {
        pair.swallowed = true
      })
      return
    }
    const upstream = connect(Number(TARGET.port || 5432), TARGET.hostname)
    pair.upstream = upstream
    upstream.on('error', () => this.#drop(pair))
    upstream.on('close', () => this.#drop(pair))
    upstream.on('data', (chunk: Buffer) => {
      if (pair.cutOnAnswer !== undefined) this.#cutAndTell(pair.cutOnAnswer)
      else if (this.mode === 'blackhole') pair.swallowed = true
      else client.write(chunk)
    })
    client.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') {
        pair.swallowed = true
        return
      }
      const trigger = this.#trigger
      if (trigger !== undefined) {
        trigger.total += chunk.length
        if (trigger.fires(chunk, trigger.total)) {
          this.#trigger = undefined
          if (trigger.forward) {
            pair.cutOnAnswer = trigger.done
            upstream.write(chunk)
          } else this.#cutAndTell(trigger.done)
          return
        }
      }
      upstream.write(chunk)
    })
  }

  #cutAndTell(done: () => void): void {
    this.cutAll()
    done()
  }

  #drop(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return
    pair.client.destroy()
    pair.upstream?.destroy()
  }
}

/** A server that accepts connections and never answers (a hung or half-open peer). */
async function silentServer(): Promise<{ readonly port: number; readonly sockets: Set<Socket>; readonly close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('data', () => undefined)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

function newRun(runId: string): NewRun {
  return { runId, workflowId: 'flow', workflowHash: 'c'.repeat(64), definition: '{"id":"flow"}', inputs: '{}', settings: '{}', createdAt: T0 }
}

function entries(from: number, count: number): JournalEntry[] {
  return Array.from({ length: count }, (_, k) => ({ seq: from + k, kind: 'ok' as const, taskId: `t${from + k}`, attempt: 1, at: T0 + from + k, data: `{"n":${from + k},"pad":"${'x'.repeat(40)}"}` }))
}

/** The rejection of `promise` and how long it took; fails the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<{ readonly error: { code?: unknown; message: string; details?: Record<string, unknown> }; readonly ms: number }> {
  const t0 = performance.now()
  try {
    await promise
  } catch (error) {
    return { error: error as { code?: unknown; message: string }, ms: performance.now() - t0 }
  }
  throw new Error('expected a rejection')
}

const schemas: string[] = []
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  if (schemas.length === 0) return
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`)
  } finally {
    await client.end()
  }
})

/** Opens a store in a schema of its own through `url`, closed after the test. */
async function openStore(url: string, name: string, options: { readonly queryTimeout?: number } = {}): Promise<PostgresRunStore> {
  const schema = `tw_test_${RUN}_faults_${name}`
  schemas.push(schema)
  const store = await openPostgresStore({ connectionString: url, schema, poolSize: 4, connectTimeout: 2000, ...options })
  cleanups.push(() => store.close())
  return store
}

async function proxy(): Promise<FaultProxy> {
  const started = await FaultProxy.start()
  cleanups.push(() => started.close())
  return started
}

describe('PostgreSQL store faults', () => {
  it('fails fast with TW_STORE naming the URL, without its password, when nothing listens', async () => {
    const port = await freePort()
    const url = `postgres://postgres:s3cret-pass@127.0.0.1:${port}/test`
    const { error, ms } = await failure(openPostgresStore({ connectionString: url, schema: `tw_test_${RUN}_never` }))
    expect(error.code).toBe('TW_STORE')
    expect(error.message).toContain(`postgres://postgres@127.0.0.1:${port}/test`)
    expect(error.message).toContain('ECONNREFUSED')
    expect(error.message).not.toContain('s3cret-pass')
    expect(JSON.stringify(error.details)).not.toContain('s3cret-pass')
    expect(ms).toBeLessThan(1000)
  })

  it('fails within the connect timeout when the server accepts and never answers', async () => {
    const silent = await silentServer()
    cleanups.push(silent.close)
    const { error, ms } = await failure(openPostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${silent.port}/test`, schema: `tw_test_${RUN}_never`, connectTimeout: 300 }))
    expect(error.code).toBe('TW_STORE')
    expect(error.message).toContain(`127.0.0.1:${silent.port}`)
    expect(error.message).toMatch(/timeout/i)
    expect(ms).toBeGreaterThanOrEqual(250)
    expect(ms).toBeLessThan(2000)
    // The store gave up on the connection rather than leaving it open.
    expect(silent.sockets.size).toBe(0)
  })

  it('rejects with signal.reason when the opening is aborted', async () => {
    const silent = await silentServer()
    cleanups.push(silent.close)
    const controller = new AbortController()
    const opening = openPostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${silent.port}/test`, schema: `tw_test_${RUN}_never`, connectTimeout: 5000, signal: controller.signal })
    const reason = new Error('stop opening')
    controller.abort(reason)
    const { error, ms } = await failure(opening)
    expect(error).toBe(reason)
    expect(ms).toBeLessThan(1000)
  })

  it('survives a restart mid-append: the call fails with TW_STORE, nothing committed is lost, later calls work', async () => {
    const fault = await proxy()
    const store = await openStore(fault.url, 'restart')
    const lease = await store.createRun(newRun('r'), { owner: 'a', ttlMs: 60_000, now: T0 })
    await store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(1, 100) }])

    // The big append is cut after 64 KiB of it reached the server: its transaction is open there
    // (BEGIN and the row lock went through) and its INSERT is half sent.
    const cut = fault.cutWhen((_chunk, total) => total > 64 * 1024, false)
    const big = failure(store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(101, 10_000) }]))
    const others = Promise.allSettled([store.load('r'), store.list(), store.renew([lease], T0 + 1, 60_000)])
    await cut
    const { error, ms } = await big
    // The calls in flight beside it either finished before the cut or fail the same way: none hangs.
    for (const other of await others) if (other.status === 'rejected') expect(other.reason).toMatchObject({ code: 'TW_STORE' })
    expect(error.code).toBe('TW_STORE')
    expect(error.message).toContain(`127.0.0.1:${fault.port}`)
    expect(ms).toBeLessThan(5000)

    // While the server is down, calls fail at once rather than wait. (Connections the calls beside
    // the append opened after the cut go down with the server.)
    fault.mode = 'down'
    fault.cutAll()
    const down = await failure(store.load('r'))
    expect(down.error.code).toBe('TW_STORE')
    expect(down.ms).toBeLessThan(2000)

    // Back up: the pool connects again; the committed 100 entries are there, the cut append is not.
    fault.pass()
    const after = await store.load('r')
    expect(after?.entries.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1))
    expect(after?.lease?.epoch).toBe(1)
    await store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(101, 10_000) }])
    expect((await store.load('r'))?.entries).toHaveLength(10_100)
  })

  it('says the outcome is unknown when the connection breaks while a run is created, and an engine reads the run back and runs it', async () => {
    const fault = await proxy()
    const store = await openStore(fault.url, 'create')
    const applied = fault.cutWhen((chunk) => chunk.includes('INSERT INTO') && chunk.includes('lease_epoch'), true)
    const made = failure(store.createRun(newRun('made'), { owner: 'a', ttlMs: 60_000, now: T0 }))
    await applied
    expect((await made).error).toMatchObject({ code: 'TW_STORE', details: { uncertain: true } })
    fault.pass()
    const step = defineTool({ name: 'step', input: z.object({}), run: () => 'done' })
    const engine = createEngine({ tools: [step], store, builtins: false })
    cleanups.push(async () => void (await engine.close()))
    const cut = fault.cutWhen((chunk) => chunk.includes('INSERT INTO') && chunk.includes('lease_epoch'), true)
    const running = engine.run({ id: 'flow', tasks: [{ id: 'a', tool: 'step' }] }, { runId: 'read-back' })
    await cut
    fault.pass()
    const result = await running
    expect(result.status, result.reason).toBe('succeeded')
    expect((await store.load('read-back'))?.status).toBe('succeeded')
  })

  it('says the outcome is unknown when the connection breaks while an append commits', async () => {
    const fault = await proxy()
    const store = await openStore(fault.url, 'commit')
    const lease = await store.createRun(newRun('r'), { owner: 'a', ttlMs: 60_000, now: T0 })
    // An append is one statement, its own transaction: the call of tw_append is the commit.
    const isCommit = (chunk: Buffer): boolean => chunk.includes('tw_append')

    // The call never reaches the server: nothing is applied, yet the client cannot know.
    const lost = fault.cutWhen(isCommit, false)
    const first = failure(store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(1, 10) }]))
    await lost
    expect((await first).error).toMatchObject({ code: 'TW_STORE', details: { uncertain: true } })
    expect((await first).error.message).toMatch(/unknown/)
    expect((await store.load('r'))?.entries).toHaveLength(0)

    // The call reaches the server and the answer is lost: applied, and the client still cannot know.
    const applied = fault.cutWhen(isCommit, true)
    const second = failure(store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(1, 10) }]))
    await applied
    expect((await second).error).toMatchObject({ code: 'TW_STORE', details: { uncertain: true } })
    // The proxy cut the connections only once the server had answered: the entries are there.
    expect((await store.load('r'))?.entries).toHaveLength(10)
    // A retry of the same entries is refused as a repeat, so the journal never holds them twice.
    await expect(store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(1, 10) }])).rejects.toMatchObject({ code: 'TW_STORE' })
  })

  it('fails within the query timeout when the server stops answering mid-session, and recovers', async () => {
    const fault = await proxy()
    const store = await openStore(fault.url, 'silent', { queryTimeout: 400 })
    await store.createRun(newRun('r'), { owner: 'a', ttlMs: 60_000, now: T0 })

    fault.mode = 'blackhole'
    const { error, ms } = await failure(store.load('r'))
    expect(error.code).toBe('TW_STORE')
    expect(error.message).toMatch(/timeout/i)
    expect(ms).toBeGreaterThanOrEqual(350)
    expect(ms).toBeLessThan(2000)

    fault.pass()
    expect((await store.load('r'))?.runId).toBe('r')
  })

  it('close() lets the calls issued before it finish (pg-pool serves no queued request once it is ending)', async () => {
    const store = await openStore(URL, 'close_pending')
    const written = store.createRun(newRun('r'), { owner: 'a', ttlMs: 60_000, now: T0 })
    const loaded = store.load('missing')
    await store.close()
    expect((await written).owner).toBe('a')
    expect(await loaded).toBeUndefined()
    const reopened = await openStore(URL, 'close_pending')
    expect((await reopened.load('r'))?.runId).toBe('r')
    await expect(store.load('r')).rejects.toMatchObject({ code: 'TW_STORE' })
  })

  it('a damaged journal row is reported naming the store, the run and the entry', async () => {
    const store = await openStore(URL, 'damaged')
    const lease = await store.createRun(newRun('bad-kind'), { owner: 'a', ttlMs: 60_000, now: T0 })
    await store.append([{ runId: 'bad-kind', epoch: lease.epoch, entries: entries(1, 1) }])
    const admin = new pg.Client({ connectionString: URL })
    await admin.connect()
    try {
      await admin.query(`UPDATE ${admin.escapeIdentifier(`tw_test_${RUN}_faults_damaged`)}.journal SET kind = 99`)
    } finally {
      await admin.end()
    }
    await expect(store.load('bad-kind')).rejects.toMatchObject({ code: 'TW_STORE', details: { runId: 'bad-kind', seq: 1, operation: 'load' } })
    await expect(store.load('bad-kind')).rejects.toThrow(/^PostgreSQL store postgres:\/\/[^:]+@127\.0\.0\.1:5432\/test: load failed: journal of run "bad-kind": entry 1 has kind code 99/)
  })
})
