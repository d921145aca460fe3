/**
 * The PostgreSQL store against the conformance suite and its own guarantees, on the local server
 * (CI starts it in .ci/run). Every case works in a schema of its own, dropped afterwards: the
 * server is shared with other suites and other runs of this one.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { openPostgresStore } from 'taskweave/stores/postgres'
import type { PostgresRunStore } from 'taskweave/stores/postgres'
import { storeConformanceCases } from 'taskweave/testing'
import type { JournalEntry, NewRun } from '../../src/core/store.js'

const URL = process.env['TASKWEAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
/** Unique to this run of the file, so that parallel runs on one server never share a schema. */
const RUN = randomBytes(4).toString('hex')
const T0 = 1_800_000_000_000

function schemaFor(caseId: string): string {
  return `tw_test_${RUN}_${caseId.toLowerCase()}`.slice(0, 63)
}

/** Drops a schema with a client of its own (the store under test may be closed or broken). */
async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`)
  } finally {
    await client.end()
  }
}

let reachable: Promise<void> | undefined
/**
 * Fails (never skips) when the server is missing: CI starts it, and a silently skipped suite would
 * hide a broken adapter. Checked once, awaited by every case, so each case fails with this message.
 */
function serverAnswers(): Promise<void> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 5000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
    } catch (err) {
      throw new Error(
        `PostgreSQL cannot be reached at ${URL} (${err instanceof Error ? err.message || String(err) : String(err)}); ` +
          'start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (CI does so in .ci/run)',
      )
    } finally {
      await client.end().catch(() => undefined)
    }
  })()
  return reachable
}

describe('PostgresRunStore conformance', () => {
  const cases = storeConformanceCases(async (caseId) => {
    await serverAnswers()
    const schema = schemaFor(caseId)
    const store = await openPostgresStore({ connectionString: URL, schema, poolSize: 4, leaseClock: 'caller' })
    return {
      store,
      reopen: async () => {
        await store.close()
        return openPostgresStore({ connectionString: URL, schema, poolSize: 4, leaseClock: 'caller' })
      },
      cleanup: () => dropSchema(schema),
    }
  })
  for (const c of cases) it(c.name, c.run)
})

function newRun(runId: string): NewRun {
  return { runId, workflowId: 'flow', workflowHash: 'b'.repeat(64), definition: '{"id":"flow"}', inputs: '{}', settings: '{}', createdAt: T0 }
}

function entries(from: number, count: number): JournalEntry[] {
  return Array.from({ length: count }, (_, k) => ({ seq: from + k, kind: 'ok' as const, taskId: `t${from + k}`, attempt: 1, at: T0 + from + k, data: `{"n":${from + k}}` }))
}

describe('PostgresRunStore', () => {
  const schemas: string[] = []
  const stores: PostgresRunStore[] = []
  async function open(name: string, extra: { readonly connectionString?: string } = {}): Promise<PostgresRunStore> {
    await serverAnswers()
    const schema = schemaFor(name)
    if (!schemas.includes(schema)) schemas.push(schema)
    const store = await openPostgresStore({ connectionString: extra.connectionString ?? URL, schema, poolSize: 4, leaseClock: 'caller' })
    stores.push(store)
    return store
  }
  afterAll(async () => {
    if (schemas.length === 0) return
    await Promise.all(stores.map((store) => store.close()))
    for (const schema of schemas) await dropSchema(schema)
  })

  it('says what it is: kind postgres, not exclusive, location without the password', async () => {
    const withPassword = URL.replace('postgres://postgres@', 'postgres://postgres:not-the-password@')
    const store = await open('identity', { connectionString: withPassword })
    expect(store.kind).toBe('postgres')
    expect(store.exclusive).toBe(false)
    expect(store.location).toContain('127.0.0.1')
    expect(store.location).not.toContain('not-the-password')
  })

  it('migrates once when many processes open the same new schema at once', async () => {
    const opened = await Promise.all(Array.from({ length: 4 }, () => open('migrate_race')))
    expect(opened).toHaveLength(4)
    const client = new pg.Client({ connectionString: URL })
    await client.connect()
    try {
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${client.escapeIdentifier(schemaFor('migrate_race'))}.migrations ORDER BY version`)
      expect(rows.map((row) => row.version)).toEqual([1, 2])
    } finally {
      await client.end()
    }
  })

  it('refuses a schema that a newer taskweave migrated', async () => {
    const store = await open('newer')
    await store.close()
    const client = new pg.Client({ connectionString: URL })
    await client.connect()
    try {
      await client.query(`INSERT INTO ${client.escapeIdentifier(schemaFor('newer'))}.migrations (version, name) VALUES (999, 'from the future')`)
    } finally {
      await client.end()
    }
    await expect(open('newer')).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringMatching(/version 999/) })
  })

  it('refuses bad options with TW_INVALID_OPTION', async () => {
    await expect(openPostgresStore({ connectionString: URL, schema: 'bad"; DROP TABLE x; --' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(openPostgresStore({ connectionString: URL, poolSize: 0 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(openPostgresStore({ connectionString: 'mysql://x:secret@h/db' })).rejects.toSatisfy((err: Error) => !err.message.includes('secret'))
  })

  it('lets exactly one of two racing owners take an expired lease', async () => {
    const store = await open('acquire_race')
    await store.createRun(newRun('r'), { owner: 'a', ttlMs: 10, now: T0 })
    const results = await Promise.all(['b', 'c', 'd'].map((owner) => store.acquire('r', { owner, ttlMs: 60_000, now: T0 + 100 })))
    const granted = results.filter((lease) => lease !== undefined)
    expect(granted).toHaveLength(1)
    expect(granted[0]?.epoch).toBe(2)
  })

  it('lets exactly one of two racing appends of the same seq land', async () => {
    const store = await open('append_race')
    const lease = await store.createRun(newRun('r'), { owner: 'a', ttlMs: 60_000, now: T0 })
    const results = await Promise.allSettled([1, 2, 3].map(() => store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(1, 500) }])))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'TW_STORE' })
    expect((await store.load('r'))?.entries).toHaveLength(500)
  })

  it('appends a batch larger than one insert statement whole, finish included', async () => {
    const store = await open('large')
    const lease = await store.createRun(newRun('big'), { owner: 'a', ttlMs: 60_000, now: T0 })
    // 12,000 rows: three insert statements (5,000 rows each at most) in one transaction.
    const finish: JournalEntry = { seq: 12_001, kind: 'finish', at: T0 + 1, data: '{"status":"succeeded","counts":{"succeeded":12000}}' }
    await store.append([{ runId: 'big', epoch: lease.epoch, entries: [...entries(1, 12_000), finish] }])
    const run = await store.load('big')
    expect(run?.entries).toHaveLength(12_001)
    expect(run?.entries.map((e) => e.seq)).toEqual(Array.from({ length: 12_001 }, (_, k) => k + 1))
    expect(run?.entries[5_432]).toEqual({ seq: 5_433, kind: 'ok', taskId: 't5433', attempt: 1, at: T0 + 5_433, data: '{"n":5433}' })
    expect(run?.status).toBe('succeeded')
    expect(run?.lease).toBeUndefined()
  })

  it('keeps every text exactly: quotes, backslashes, braces, commas, the word NULL, empty strings; absent data stays absent', async () => {
    const store = await open('awkward_text')
    const a = await store.createRun(newRun('a'), { owner: 'o', ttlMs: 60_000, now: T0 })
    const b = await store.createRun(newRun('b'), { owner: 'o', ttlMs: 60_000, now: T0 })
    const texts = ['NULL', '', ' ', '{}', '{"a":"b\\"c"}', 'x,y', '\\', '"', '\\"', 'é ✓ 😀', 'tab\there', 'line\nbreak', "'single'"]
    const awkward: JournalEntry[] = texts.map((text, k) => ({ seq: k + 1, kind: 'ok', taskId: text, attempt: k, at: T0 + k, data: text, added: `[${JSON.stringify(text)}]` }))
    // Run b: no entry carries data or adds (those columns go as empty arrays), one has no attempt.
    const plain: JournalEntry[] = [
      { seq: 1, kind: 'start', taskId: 'p', attempt: 1, at: T0 },
      { seq: 2, kind: 'handled', taskId: 'p', at: T0 + 1 },
    ]
    await store.append([
      { runId: 'a', epoch: a.epoch, entries: awkward },
      { runId: 'b', epoch: b.epoch, entries: plain },
    ])
    expect((await store.load('a'))?.entries).toEqual(awkward)
    expect((await store.load('b'))?.entries).toEqual(plain)
  })

  it('rejects a second append that continues a journal past a gap, and keeps the first', async () => {
    const store = await open('gap')
    const lease = await store.createRun(newRun('r'), { owner: 'a', ttlMs: 60_000, now: T0 })
    await store.append([{ runId: 'r', epoch: lease.epoch, entries: entries(1, 3) }])
    await expect(store.append([{ runId: 'r', epoch: lease.epoch, entries: [...entries(4, 2), ...entries(7, 1)] }])).rejects.toMatchObject({ code: 'TW_STORE', retryable: false })
    expect((await store.load('r'))?.entries.map((e) => e.seq)).toEqual([1, 2, 3])
  })

  it('rejects every call after close with TW_STORE', async () => {
    const store = await open('closed')
    await store.close()
    await expect(store.list()).rejects.toMatchObject({ code: 'TW_STORE' })
  })

  it('is the only place that loads pg', () => {
    const src = fileURLToPath(new globalThis.URL('../../src/', import.meta.url))
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (entry.name.endsWith('.ts') && /from '(pg|pg-[a-z-]+)'|import\('pg'\)/.test(readFileSync(path, 'utf8'))) offenders.push(relative(src, path))
      }
    }
    walk(src)
    expect(offenders.filter((file) => !file.startsWith(join('stores', 'postgres')))).toEqual([])
    expect(offenders.length).toBeGreaterThan(0)
  })
})
