/**
 * Durable runs on a real store that refuses writes for a while, and goes on by itself once it
 * takes them again (RELIABILITY.md ST-04 and BR-12): SQLite on a full disk (a small tmpfs, freed
 * mid-run) and a PostgreSQL database turned read-only (`ALTER DATABASE … SET
 * default_transaction_read_only`, its sessions cut so they reconnect under it), on a database of
 * its own. During the outage nothing new starts, `/healthz` answers 503 and `engine.stats().store`
 * says why; afterwards every task has run exactly once and its result is in the store.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { Engine } from 'taskweave'
import type { RunStore } from 'taskweave/ports'
import { startServer } from 'taskweave/server'
import { openSqliteStore } from 'taskweave/stores/sqlite'
import { openPostgresStore } from 'taskweave/stores/postgres'

const PG_URL = process.env['TASKWEAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
const TASKS = 300
const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** A tool that counts its calls per task and gives back `size` bytes of text. */
function bulkyTool(size: number) {
  const calls = new Map<string, number>()
  const tool = defineTool({
    name: 'bulky',
    input: z.object({ id: z.string() }),
    run: async ({ id }) => {
      calls.set(id, (calls.get(id) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, 20))
      return `${id}:${'x'.repeat(size)}`
    },
  })
  return { tool, calls }
}

const flow = { id: 'bulky', tasks: Array.from({ length: TASKS }, (_, k) => ({ id: `t${k}`, tool: 'bulky', input: { id: `t${k}` } })) }

/**
 * Runs {@link flow} on `store`, calls `fault()` once the first results are written, and `heal()`
 * once the engine says the store is unavailable (after checking that nothing new starts and that
 * `/healthz` says so); then checks that every task ran once and its result is in the store.
 */
async function outageRun(store: RunStore, size: number, fault: () => Promise<void>, heal: () => Promise<void>): Promise<void> {
  const bulky = bulkyTool(size)
  const engine: Engine = createEngine({ tools: [bulky.tool], store, builtins: false, concurrency: 4 })
  cleanups.push(() => engine.close())
  const server = await startServer({ engine, port: 0, auth: 'none', metrics: true })
  cleanups.push(() => server.close())
  const healthz = async (): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${server.url}/healthz`)
    return { status: res.status, text: await res.text() }
  }
  expect(await healthz()).toEqual({ status: 200, text: 'ok' })

  const unavailable = new Promise<{ error: string }>((resolve) => engine.events.on('store:unavailable', resolve))
  const available = new Promise<{ downMs: number }>((resolve) => engine.events.on('store:available', resolve))
  let faulted = false
  engine.events.on('task:succeeded', () => {
    if (faulted) return
    faulted = true
    void fault()
  })
  const handle = engine.start(flow, { runId: `outage-${randomBytes(3).toString('hex')}` })
  const ended = handle.result.then((r): never => {
    throw new Error(`the run ended ${r.status} before the store was found unavailable: ${r.reason ?? ''}`)
  })
  const { error } = await Promise.race([unavailable, ended])
  expect(engine.stats().store).toMatchObject({ location: store.location, available: false, error })

  // Paused: what ran when the store went away finishes, and then nothing new starts.
  const startsAt = async (): Promise<number> => {
    await new Promise((resolve) => setTimeout(resolve, 150))
    return [...bulky.calls.values()].reduce((a, b) => a + b, 0)
  }
  const settled = await startsAt()
  expect(await startsAt()).toBe(settled)
  expect(settled).toBeLessThan(TASKS)
  const health = await healthz()
  expect(health.status).toBe(503)
  expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^taskweave_store_up 0$/m)
  expect(health.text).toMatch(/^unavailable: the run store refuses writes since \d{4}-/)

  await heal()
  expect((await available).downMs).toBeGreaterThan(0)
  const result = await handle.result
  expect(result.status).toBe('succeeded')
  expect(await healthz()).toEqual({ status: 200, text: 'ok' })
  expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^taskweave_store_up 1$/m)
  // Exactly once each, and every result committed (none reported succeeded without it).
  expect([...bulky.calls.values()].every((n) => n === 1)).toBe(true)
  expect(bulky.calls.size).toBe(TASKS)
  const stored = await store.load(handle.id)
  expect(stored?.status).toBe('succeeded')
  const outputs = new Map(stored?.entries.filter((entry) => entry.kind === 'ok').map((entry) => [entry.taskId, entry.data]))
  expect(outputs.size).toBe(TASKS)
  for (const [id, data] of outputs) expect(JSON.parse(data ?? 'null')).toBe(`${id}:${'x'.repeat(size)}`)
}

describe('durable runs on a real store that refuses writes for a while', () => {
  it('SQLite on a full disk: dispatch pauses, and the run goes on by itself once space is freed', async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-full-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const mount = join(dir, 'tmpfs')
    await mkdir(mount)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount], { stdio: 'ignore' })
    } catch {
      // A small tmpfs needs root (or CAP_SYS_ADMIN); elsewhere the case cannot be set up.
      ctx.skip('mount -t tmpfs is not permitted here')
      return
    }
    cleanups.push(async () => execFileSync('umount', ['-l', mount]))
    const store = await openSqliteStore({ path: join(mount, 'runs.db') })
    cleanups.push(() => store.close())
    const filler = join(mount, 'filler')
    // A filler leaves 256 KiB: the outputs of 4 KB each that follow do not fit, the disk is full.
    const fill = async (): Promise<void> => {
      const free = await statfs(mount)
      await writeFile(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - 256 * 1024)))
    }
    await outageRun(store, 4_000, fill, () => rm(filler))
  }, 60_000)

  it('PostgreSQL turned read-only (a failover): dispatch pauses, and the run goes on by itself once it is writable', async () => {
    const database = `tw_readonly_${randomBytes(4).toString('hex')}`
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    cleanups.push(() => admin.end())
    await admin.query(`CREATE DATABASE ${database}`)
    cleanups.push(async () => {
      await admin.query(`ALTER DATABASE ${database} RESET default_transaction_read_only`)
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    })
    const url = new URL(PG_URL)
    url.pathname = `/${database}`
    const store = await openPostgresStore({ connectionString: url.toString() })
    cleanups.push(() => store.close())
    /** Sets the database's default and cuts its sessions, so every new one starts under it. */
    const readOnly = async (on: boolean): Promise<void> => {
      await admin.query(on ? `ALTER DATABASE ${database} SET default_transaction_read_only = on` : `ALTER DATABASE ${database} RESET default_transaction_read_only`)
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])
    }
    await outageRun(
      store,
      100,
      () => readOnly(true),
      () => readOnly(false),
    )
  }, 60_000)
})
