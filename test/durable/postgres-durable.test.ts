/**
 * Durable runs on the real PostgreSQL: a run whose owner stops answering is taken over only once
 * its lease has expired (the store is shared, not exclusive), and a run whose connections are all
 * cut mid-run neither hangs nor loses or repeats committed work.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { ManualClock } from 'taskweave/testing'
import { openPostgresStore } from 'taskweave/stores/postgres'

const URL = process.env['TASKWEAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
const PREFIX = `tw_dur_${randomBytes(4).toString('hex')}`
const schemas: string[] = []
const T0 = 1_800_000_000_000

function schema(name: string): string {
  const full = `${PREFIX}_${name}`
  schemas.push(full)
  return full
}

afterAll(async () => {
  const client = new pg.Client({ connectionString: URL })
  await client.connect()
  for (const name of schemas) await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(name)} CASCADE`)
  await client.end()
})

function ledgerTool(hold: Set<string>) {
  const calls: string[] = []
  const release: (() => void)[] = []
  const tool = defineTool({
    name: 'step',
    input: z.object({ id: z.string() }),
    run: async ({ id }) => {
      calls.push(id)
      if (hold.has(id)) await new Promise<void>((resolve) => release.push(resolve))
      else await new Promise((resolve) => setImmediate(resolve))
      return id
    },
  })
  return { tool, calls, release: () => release.splice(0).forEach((r) => r()) }
}

const chain = (ids: string[]) => ({ id: 'pg-chain', tasks: ids.map((id, k) => ({ id, tool: 'step', input: { id }, ...(k > 0 ? { dependsOn: [ids[k - 1] as string] } : {}) })) })

describe('durable runs on PostgreSQL', () => {
  it('another process takes a run over only once its owner\'s lease has expired; the old owner is then fenced', async () => {
    const name = schema('lease')
    const store1 = await openPostgresStore({ connectionString: URL, schema: name, leaseClock: 'caller' })
    const store2 = await openPostgresStore({ connectionString: URL, schema: name, leaseClock: 'caller' })
    const clock1 = new ManualClock(0, T0)
    const clock2 = new ManualClock(0, T0 + 1_000)
    const first = ledgerTool(new Set(['b']))
    const engine1 = createEngine({ tools: [first.tool], store: store1, builtins: false, clock: clock1, durability: { leaseTtlMs: 30_000 } })
    const handle = engine1.start(chain(['a', 'b', 'c']), { runId: 'pg-lease' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    // Let b's start reach the store.
    for (let k = 0; k < 50 && (await store2.load('pg-lease'))?.entries.length !== 3; k++) await new Promise((resolve) => setTimeout(resolve, 10))
    const second = ledgerTool(new Set())
    const engine2 = createEngine({ tools: [second.tool], store: store2, builtins: false, clock: clock2, durability: { leaseTtlMs: 30_000 } })
    await expect(engine2.resume('pg-lease')).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    clock2.setWallTime(T0 + 31_000)
    const resumed = await engine2.resume('pg-lease')
    const result = await resumed.result
    expect(result.status).toBe('succeeded')
    expect(second.calls).toEqual(['b', 'c'])
    first.release()
    const old = await handle.result
    expect(old.status).toBe('failed')
    expect(old.reason).toContain('owned elsewhere')
    const stored = await store2.load('pg-lease')
    expect(stored?.status).toBe('succeeded')
    expect(stored?.entries.filter((e) => e.kind === 'ok').map((e) => e.taskId)).toEqual(['a', 'b', 'c'])
    await engine2.close()
    await engine1.close()
    await store1.close()
    await store2.close()
  }, 30_000)

  it('leases go by the server\'s clock: a process whose clock runs 10 minutes ahead cannot take a live run', async () => {
    const name = schema('skew')
    const store1 = await openPostgresStore({ connectionString: URL, schema: name })
    const store2 = await openPostgresStore({ connectionString: URL, schema: name })
    const first = ledgerTool(new Set(['b']))
    const engine1 = createEngine({ tools: [first.tool], store: store1, builtins: false })
    const handle = engine1.start(chain(['a', 'b', 'c']), { runId: 'pg-skew' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    const stored = await store2.load('pg-skew')
    // Timed by PostgreSQL: the lease ends about leaseTtlMs (30 s) after the server's now.
    expect(Math.abs((stored?.lease?.expiresAt ?? 0) - (Date.now() + 30_000))).toBeLessThan(5_000)
    const second = ledgerTool(new Set())
    const ahead = new ManualClock(0, Date.now() + 10 * 60_000)
    const engine2 = createEngine({ tools: [second.tool], store: store2, builtins: false, clock: ahead })
    await expect(engine2.resume('pg-skew')).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    expect(second.calls).toEqual([])
    first.release()
    expect((await handle.result).status).toBe('succeeded')
    await engine2.close()
    await engine1.close()
    await store1.close()
    await store2.close()
  }, 30_000)

  it('a standby whose clock lags the server\'s takes a run over once its lease expired by the server\'s clock', async () => {
    const name = schema('lag')
    const store1 = await openPostgresStore({ connectionString: URL, schema: name })
    const store2 = await openPostgresStore({ connectionString: URL, schema: name })
    // The owner "dies" holding b: its manual clock never moves, so its lease is never renewed.
    const first = ledgerTool(new Set(['b']))
    const engine1 = createEngine({ tools: [first.tool], store: store1, builtins: false, clock: new ManualClock(0, Date.now()), durability: { owner: 'dead', leaseTtlMs: 300 } })
    const handle = engine1.start(chain(['a', 'b', 'c']), { runId: 'pg-lag' })
    await new Promise<void>((resolve) => handle.on('task:started', (e) => void (e.taskId === 'b' && resolve())))
    const expiresAt = (await store2.load('pg-lag'))?.lease?.expiresAt ?? Infinity
    while ((await (store2.now as () => Promise<number>)()) <= expiresAt) await new Promise((resolve) => setTimeout(resolve, 50))
    // The standby's wall clock is an hour behind the server's.
    const second = ledgerTool(new Set())
    const behind = new ManualClock(0, Date.now() - 3_600_000)
    const engine2 = createEngine({ tools: [second.tool], store: store2, builtins: false, clock: behind, durability: { owner: 'standby', takeOverEvery: '1s' } })
    const takenOver = new Promise<string>((resolve) => engine2.events.on('run:taken-over', (e) => resolve(e.runId)))
    behind.advance(1000)
    expect(await takenOver).toBe('pg-lag')
    while ((await store2.load('pg-lag'))?.status === 'running') await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await store2.load('pg-lag'))?.status).toBe('succeeded')
    expect(second.calls).toEqual(['b', 'c'])
    first.release()
    await engine2.close()
    await engine1.close().catch(() => {})
    await store1.close()
    await store2.close()
  }, 30_000)

  it('every connection cut mid-run: no hang, nothing committed runs again, and the run completes (at once or on resume)', async () => {
    const name = schema('cut')
    const target = new globalThis.URL(URL)
    const sockets = new Set<Socket>()
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname)
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      const drop = (): void => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
    })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    const proxied = new globalThis.URL(URL)
    proxied.host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const store = await openPostgresStore({ connectionString: proxied.toString(), schema: name })
    const tools = ledgerTool(new Set())
    const engine = createEngine({ tools: [tools.tool], store, builtins: false })
    const ids = Array.from({ length: 200 }, (_, k) => `t${k}`)
    const flow = { id: 'pg-cut', tasks: ids.map((id, k) => ({ id, tool: 'step', input: { id }, ...(k >= 20 ? { dependsOn: [ids[k - 20] as string] } : {}) })) }
    const handle = engine.start(flow, { runId: 'pg-cut', concurrency: 8 })
    let succeeded = 0
    handle.on('task:succeeded', () => {
      if (++succeeded === 60) for (const socket of sockets) socket.destroy()
    })
    const result = await handle.result
    expect(['succeeded', 'failed']).toContain(result.status)
    if (result.status === 'failed') expect(result.reason).toMatch(/run store/)
    await engine.close()
    await store.close()
    proxy.close()

    const direct = await openPostgresStore({ connectionString: URL, schema: name })
    if ((await direct.load('pg-cut'))?.status === 'running') {
      // A later process, once the first one's lease (30 s) has run out.
      const again = createEngine({ tools: [tools.tool], store: direct, builtins: false, clock: new ManualClock(0, Date.now() + 31_000) })
      expect((await (await again.resume('pg-cut')).result).status).toBe('succeeded')
      await again.close()
    }
    const stored = await direct.load('pg-cut')
    expect(stored?.status).toBe('succeeded')
    const committed = stored?.entries.filter((e) => e.kind === 'ok').map((e) => e.taskId) ?? []
    expect(new Set(committed).size).toBe(200)
    expect(committed.length).toBe(200)
    // No task ran after its outcome was committed: every call beyond the first of a task is a re-run of an uncommitted attempt.
    expect(tools.calls.length).toBeGreaterThanOrEqual(200)
    await direct.close()
  }, 60_000)
})
