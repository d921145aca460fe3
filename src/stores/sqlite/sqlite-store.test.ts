import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { storeConformanceCases } from '../../testing/store-conformance.js'
import type { JournalEntry, NewRun } from '../../core/store.js'
import { openSqliteStore } from './open.js'
import { APPLICATION_ID, SCHEMA_VERSION } from './migrations.js'
import { KIND_CODES } from './journal-codec.js'

const T0 = 1_800_000_000_000

function newRun(runId: string, overrides: Partial<NewRun> = {}): NewRun {
  return { runId, workflowId: 'flow', workflowHash: 'h'.repeat(64), definition: '{"id":"flow"}', inputs: '{}', settings: '{}', createdAt: T0, ...overrides }
}

/** `tasks` completed no-op tasks as the engine journals them: `start` then `ok`, no data. */
function noopTasks(fromTask: number, tasks: number): JournalEntry[] {
  const entries: JournalEntry[] = []
  for (let k = fromTask; k < fromTask + tasks; k++) {
    entries.push({ seq: 2 * k + 1, kind: 'start', taskId: `t${k}`, attempt: 1, at: T0 + 2 * k })
    entries.push({ seq: 2 * k + 2, kind: 'ok', taskId: `t${k}`, attempt: 1, at: T0 + 2 * k + 1 })
  }
  return entries
}

describe('SqliteRunStore conformance', () => {
  for (const c of storeConformanceCases(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-sqlite-'))
    const path = join(dir, 'runs.db')
    const store = await openSqliteStore({ path })
    return {
      store,
      reopen: async () => {
        await store.close()
        return openSqliteStore({ path })
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    }
  })) it(c.name, c.run)
})

describe('SqliteRunStore', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-sqlite-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('names itself: kind sqlite, exclusive, located at the path as given; creates missing directories', async () => {
    const path = join(dir, 'a', 'b', 'runs.db')
    await using store = await openSqliteStore({ path })
    expect(store.kind).toBe('sqlite')
    expect(store.exclusive).toBe(true)
    expect(store.location).toBe(path)
    expect(store.sqliteVersion).toMatch(/^3\.\d+\.\d+$/)
    expect((await stat(path)).isFile()).toBe(true)
  })

  it('lays the file out as documented: WAL, schema version, application id, a WITHOUT ROWID journal', async () => {
    const path = join(dir, 'runs.db')
    const store = await openSqliteStore({ path })
    const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    await store.append([{ runId: 'r1', epoch: lease.epoch, entries: [...noopTasks(0, 1), { seq: 3, kind: 'finish', at: T0 + 9, data: '{"status":"failed","counts":{"failed":1}}' }] }])
    await store.close()
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
      expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID)
      expect(db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'journal'").pluck().get()).toMatch(/WITHOUT ROWID/)
      expect(db.prepare('SELECT kind, task_id, attempt, data FROM journal ORDER BY seq').raw().all()).toEqual([
        [KIND_CODES.start, 't0', 1, null],
        [KIND_CODES.ok, 't0', 1, null],
        [KIND_CODES.finish, null, null, '{"status":"failed","counts":{"failed":1}}'],
      ])
      // The finish entry closed the run in the same append: status, counts, time, no lease.
      expect(db.prepare('SELECT status, counts, finished_at, lease_owner, lease_epoch FROM runs').raw().get()).toEqual(['failed', '{"failed":1}', T0 + 9, null, 1])
    } finally {
      db.close()
    }
  })

  it('a finished run stays finished after a reopen', async () => {
    const path = join(dir, 'runs.db')
    const store = await openSqliteStore({ path })
    const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    await store.append([{ runId: 'r1', epoch: lease.epoch, entries: [{ seq: 1, kind: 'finish', at: T0 + 5, data: '{"status":"cancelled","counts":{"cancelled":2}}' }] }])
    await store.close()
    await using again = await openSqliteStore({ path })
    const [summary] = await again.list()
    expect(summary).toMatchObject({ runId: 'r1', status: 'cancelled', finishedAt: T0 + 5, counts: { cancelled: 2 }, lease: undefined })
  })

  it('keeps fractional times and labels with any key text', async () => {
    await using store = await openSqliteStore({ path: join(dir, 'runs.db') })
    const labels = { 'a.b': 'x', '"q"': 'y', '$[0]': 'z' }
    const lease = await store.createRun(newRun('r1', { createdAt: T0 + 0.5, labels }), { owner: 'o', ttlMs: 1000.25, now: T0 })
    expect(lease.expiresAt).toBe(T0 + 1000.25)
    await store.append([{ runId: 'r1', epoch: 1, entries: [{ seq: 1, kind: 'start', taskId: 'a', attempt: 1, at: T0 + 0.75 }] }])
    expect((await store.load('r1'))?.entries[0]?.at).toBe(T0 + 0.75)
    expect((await store.list({ labels: { '"q"': 'y', 'a.b': 'x' } })).map((r) => r.runId)).toEqual(['r1'])
    expect(await store.list({ labels: { 'a.b': 'y' } })).toEqual([])
  })

  it('writes a batch longer than one multi-row insert whole, and a gap in a later statement takes back the whole append', async () => {
    await using store = await openSqliteStore({ path: join(dir, 'runs.db') })
    await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    await store.createRun(newRun('r2'), { owner: 'o', ttlMs: 1000, now: T0 })
    // 61 entries: two full statements (25 rows each) and 11 rows one by one; the finish in the middle of the last ones.
    const tasks = noopTasks(0, 30)
    const finish: JournalEntry = { seq: 61, kind: 'finish', at: T0 + 100, data: '{"status":"succeeded","counts":{"succeeded":30}}' }
    await store.append([{ runId: 'r1', epoch: 1, entries: [...tasks, finish] }])
    const r1 = await store.load('r1')
    expect(r1?.entries).toEqual([...tasks, finish])
    expect(r1?.status).toBe('succeeded')
    const gap = noopTasks(0, 30).map((e) => (e.seq > 40 ? { ...e, seq: e.seq + 1 } : e))
    await expect(store.append([{ runId: 'r2', epoch: 1, entries: noopTasks(0, 20) }, { runId: 'r2', epoch: 1, entries: gap.slice(40) }])).rejects.toMatchObject({ code: 'TW_STORE' })
    expect((await store.load('r2'))?.entries).toEqual([])
  })

  it('refuses a journal entry of an unknown kind, writing nothing of the append', async () => {
    await using store = await openSqliteStore({ path: join(dir, 'runs.db') })
    await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    const bad = { seq: 2, kind: 'toString', at: T0 } as unknown as JournalEntry
    await expect(store.append([{ runId: 'r1', epoch: 1, entries: [...noopTasks(0, 1).slice(0, 1), bad] }])).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringContaining('unknown kind') as string })
    expect((await store.load('r1'))?.entries).toEqual([])
  })

  it('a second store on the same file in this process is refused with TW_STORE, and gets it once the first closes', async () => {
    const path = join(dir, 'runs.db')
    const first = await openSqliteStore({ path })
    await expect(openSqliteStore({ path })).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringContaining(`SQLite store ${path}: another process holds the file`) as string })
    await first.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    await first.close()
    await using second = await openSqliteStore({ path })
    expect((await second.load('r1'))?.runId).toBe('r1')
  })

  it('calls after close reject with TW_STORE; close waits for the calls made before it', async () => {
    const store = await openSqliteStore({ path: join(dir, 'runs.db') })
    const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    const appended = store.append([{ runId: 'r1', epoch: lease.epoch, entries: noopTasks(0, 500) }])
    await store.close()
    await expect(appended).resolves.toEqual({ fenced: [] })
    await expect(store.load('r1')).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringContaining('closed') as string })
    await using again = await openSqliteStore({ path: store.location })
    expect((await again.load('r1'))?.entries.length).toBe(1000)
  })

  it('an append does not block the event loop: the disk work happens on the database thread', async () => {
    await using store = await openSqliteStore({ path: join(dir, 'runs.db') })
    const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    let turns = 0
    let done = false
    const spin = (): void => {
      turns++
      if (!done) setImmediate(spin)
    }
    setImmediate(spin)
    // Journaling in the caller's thread would finish before the first setImmediate could run.
    await store.append([{ runId: 'r1', epoch: lease.epoch, entries: noopTasks(0, 20_000) }])
    done = true
    expect(turns).toBeGreaterThan(0)
  })

  it('stores a completed no-op task in at most 200 bytes', async () => {
    const path = join(dir, 'runs.db')
    const store = await openSqliteStore({ path })
    const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    const tasks = 20_000
    for (let from = 0; from < tasks; from += 2_000) await store.append([{ runId: 'r1', epoch: lease.epoch, entries: noopTasks(from, 2_000) }])
    await store.close()
    const perTask = (await stat(path)).size / tasks
    expect(perTask).toBeLessThanOrEqual(200)
  })

  it('refuses bad options with TW_INVALID_OPTION before touching the disk', async () => {
    await expect(openSqliteStore({ path: '' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(openSqliteStore({ path: ':memory:' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(openSqliteStore({ path: join(dir, 'x.db'), busyTimeoutMs: -1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(openSqliteStore({ path: join(dir, 'x.db'), busyTimeoutMs: 1.5 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    await expect(stat(join(dir, 'x.db'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('an aborted signal stops the open with its reason', async () => {
    const reason = new Error('stop')
    await expect(openSqliteStore({ path: join(dir, 'runs.db'), signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    const controller = new AbortController()
    const opening = openSqliteStore({ path: join(dir, 'runs.db'), signal: controller.signal })
    controller.abort(reason)
    await expect(opening).rejects.toBe(reason)
  })
})
