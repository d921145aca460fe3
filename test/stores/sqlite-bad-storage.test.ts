/**
 * The SQLite store on bad storage, with real files in a fresh temp dir: a truncated file, garbage
 * bytes, a WAL deleted after a crash, a second process on the same file, a full disk (a 1 MiB
 * tmpfs), and the database thread dying. Each failure must be a `TW_STORE` error naming the file,
 * leave what was committed intact, and never hang.
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { JournalEntry, NewRun } from '../../src/core/store.js'
import { openSqliteStore } from '../../src/stores/sqlite/index.js'
import { SqliteRunStore } from '../../src/stores/sqlite/store.js'
import { SqliteThread } from '../../src/stores/sqlite/thread.js'

const T0 = 1_800_000_000_000
const CHILD = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url))
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

function newRun(runId: string): NewRun {
  return { runId, workflowId: 'flow', workflowHash: 'h', definition: '{}', inputs: '{}', settings: '{}', createdAt: T0 }
}

function tasks(from: number, count: number, data?: string): JournalEntry[] {
  return Array.from({ length: count }, (_, k) => ({ seq: from + k, kind: (from + k) % 2 === 1 ? 'start' : 'ok', taskId: `t${(from + k) >> 1}`, attempt: 1, at: T0 + from + k, ...(data !== undefined ? { data } : {}) }))
}

/** A store file with one run of `entries` entries, closed. */
async function storeFile(path: string, entries = 400): Promise<void> {
  const store = await openSqliteStore({ path })
  await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
  await store.append([{ runId: 'r1', epoch: 1, entries: tasks(1, entries, '{"out":"some output text"}') }])
  await store.close()
}

/** Expects `open` to reject as a corrupt file does, and the file and its directory to be exactly as before. */
async function expectRefusedUntouched(path: string): Promise<void> {
  const dir = join(path, '..')
  const before = await readFile(path)
  const listing = await readdir(dir)
  const err: unknown = await openSqliteStore({ path }).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toMatchObject({ code: 'TW_STORE', retryable: false, details: { path } })
  const message = (err as Error).message
  expect(message).toContain(path)
  expect(message).toMatch(/not a valid SQLite database or is corrupt/)
  expect(message).toContain('restore from a backup; do not delete it')
  expect((await readFile(path)).equals(before)).toBe(true)
  expect(await readdir(dir)).toEqual(listing)
}

/** A `node` child process running the fixture, with a way to wait for its lines. */
function child(mode: 'hold' | 'crash', path: string): { readonly process: ChildProcessWithoutNullStreams; readonly line: (wanted: string) => Promise<void>; readonly exited: Promise<NodeJS.Signals | number | null> } {
  const proc = spawn(process.execPath, ['--import', TSX, CHILD, mode, path], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? code)))
  const seen = new Set<string>()
  const waiters = new Map<string, () => void>()
  createInterface({ input: proc.stdout }).on('line', (text) => {
    seen.add(text)
    waiters.get(text)?.()
  })
  const line = (wanted: string): Promise<void> =>
    seen.has(wanted)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          waiters.set(wanted, resolve)
          // The child ending without the line must fail the test, not leave it waiting.
          void exited.then((how) => reject(new Error(`the child ended (${String(how)}) before printing "${wanted}": ${stderr}`)))
        })
  return { process: proc, line, exited }
}

describe('SQLite store on bad storage', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-sqlite-bad-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a damaged row is reported naming the file, the run and the column (labels not JSON, an unknown journal kind)', async () => {
    const path = join(dir, 'rows.db')
    const store = await openSqliteStore({ path })
    for (const id of ['bad-labels', 'bad-kind']) {
      await store.createRun(newRun(id), { owner: 'o', ttlMs: 1000, now: T0 })
      await store.append([{ runId: id, epoch: 1, entries: tasks(1, 1) }])
    }
    await store.close()
    const db = new Database(path)
    db.prepare("UPDATE runs SET labels = '{oops' WHERE run_id = 'bad-labels'").run()
    db.prepare("UPDATE journal SET kind = 9 WHERE run = (SELECT key FROM runs WHERE run_id = 'bad-kind')").run()
    db.close()
    const reopened = await openSqliteStore({ path })
    try {
      await expect(reopened.list()).rejects.toMatchObject({ code: 'TW_STORE', details: { runId: 'bad-labels', column: 'labels', path } })
      await expect(reopened.list()).rejects.toThrow(`SQLite store ${path}: run "bad-labels": its labels column does not hold JSON`)
      await expect(reopened.load('bad-kind')).rejects.toThrow(`SQLite store ${path}: journal of run "bad-kind": entry 1 has kind code 9, unknown to this taskweave (a newer version wrote it: read this store with that version; or the row is damaged)`)
    } finally {
      await reopened.close()
    }
  })

  it('a bit flipped inside a stored value (an output, a definition) is found by its checksum when read, not handed back as data', async () => {
    const path = join(dir, 'flipped.db')
    const store = await openSqliteStore({ path })
    await store.createRun({ ...newRun('r1'), definition: '{"id":"flow","tasks":[{"id":"definition-marker"}]}' }, { owner: 'o', ttlMs: 1000, now: T0 })
    await store.append([{ runId: 'r1', epoch: 1, entries: [...tasks(1, 4), { seq: 5, kind: 'ok', taskId: 't9', attempt: 1, at: T0 + 5, data: '{"output":"output-marker"}' }] }])
    await store.close()
    const flip = async (marker: string): Promise<void> => {
      const bytes = await readFile(path)
      const at = bytes.indexOf(marker)
      expect(at).toBeGreaterThan(0)
      bytes[at + 2] = (bytes[at + 2] as number) ^ 0x01
      await writeFile(path, bytes)
    }
    await flip('output-marker')
    const reopened = await openSqliteStore({ path })
    try {
      await expect(reopened.load('r1')).rejects.toMatchObject({ code: 'TW_STORE', details: { runId: 'r1', damaged: 'journal entry 5' } })
    } finally {
      await reopened.close()
    }
    await flip('definition-marker')
    const again = await openSqliteStore({ path })
    try {
      await expect(again.load('r1')).rejects.toThrow(`SQLite store ${path}: run "r1": the definition, inputs or settings is damaged (its checksum does not match what was written)`)
    } finally {
      await again.close()
    }
  })

  it('(1) a truncated file (to half, to 0 bytes) is refused as corrupt with TW_STORE and left untouched', async () => {
    const half = join(dir, 'half.db')
    await storeFile(half)
    const { size } = await stat(half)
    await truncate(half, Math.floor(size / 2))
    await expectRefusedUntouched(half)

    const empty = join(dir, 'empty.db')
    await storeFile(empty)
    await truncate(empty, 0)
    await expectRefusedUntouched(empty)
  })

  it('(2) garbage bytes, or a header overwritten with them, are refused as corrupt and left untouched', async () => {
    const garbage = join(dir, 'garbage.db')
    await writeFile(garbage, randomBytes(64 * 1024))
    await expectRefusedUntouched(garbage)

    const header = join(dir, 'header.db')
    await storeFile(header)
    const bytes = await readFile(header)
    randomBytes(100).copy(bytes, 0)
    await writeFile(header, bytes)
    await expectRefusedUntouched(header)
  })

  it('a SQLite database of another program, or of a newer schema, is refused and left untouched', async () => {
    const foreign = join(dir, 'foreign.db')
    const db = new Database(foreign)
    db.exec('CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES (1)')
    db.close()
    const before = await readFile(foreign)
    await expect(openSqliteStore({ path: foreign })).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringMatching(/foreign\.db: the file is a SQLite database but not a taskweave run store/) as string })
    expect((await readFile(foreign)).equals(before)).toBe(true)

    const newer = join(dir, 'newer.db')
    await storeFile(newer, 2)
    const raw = new Database(newer)
    raw.pragma('user_version = 99')
    raw.close()
    await expect(openSqliteStore({ path: newer })).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringContaining('schema version 99, newer than this taskweave knows') as string })
  })

  it('(3) a WAL deleted after a crash: the store refuses the file that lost commits (a resume would re-run finished tasks), naming the sidecar; deleting it accepts the loss', async () => {
    const path = join(dir, 'runs.db')
    const c = child('crash', path)
    await c.line('written')
    expect(await c.exited).toBe('SIGKILL')
    // The crash left the WAL with run "after" in it: the fault is real.
    expect(existsSync(`${path}-wal`)).toBe(true)
    await unlink(`${path}-wal`)
    const refused = await openSqliteStore({ path }).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(refused).toMatchObject({ code: 'TW_STORE', retryable: false, message: expect.stringMatching(/the database lost committed transactions: .*runs\.db-commit says run #\d+ had journal entry \d+, but the database has no such run/) })
    // The operator accepts the loss: the store opens at the older state.
    await unlink(`${path}-commit`)
    await using store = await openSqliteStore({ path })
    const before = await store.load('before')
    expect(before?.entries.map((e) => e.data)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'])
    // Lost by design (committed only to the deleted WAL): what a deleted WAL costs.
    expect(await store.load('after')).toBeUndefined()
    // And the store goes on: the run can still be written.
    const lease = await store.acquire('before', { owner: 'parent', ttlMs: 1000, now: T0 + 10_000 })
    expect((await store.append([{ runId: 'before', epoch: lease!.epoch, entries: tasks(5, 2) }])).fenced).toEqual([])
  })

  it('(4) a second process holding the file: open fails fast with TW_STORE naming the file (or after busyTimeoutMs), and succeeds once it lets go', async () => {
    const path = join(dir, 'runs.db')
    const c = child('hold', path)
    try {
      await c.line('held')
      const refused = async (options: { readonly busyTimeoutMs?: number }): Promise<{ readonly err: unknown; readonly ms: number }> => {
        const started = performance.now()
        const err: unknown = await openSqliteStore({ path, ...options }).then(
          () => undefined,
          (e: unknown) => e,
        )
        return { err, ms: performance.now() - started }
      }
      const fast = await refused({})
      expect(fast.err).toMatchObject({ code: 'TW_STORE', details: { path } })
      expect((fast.err as Error).message).toContain(`SQLite store ${path}: another process holds the file`)
      expect(fast.ms).toBeLessThan(2_000)

      // Waiting is opt-in: SQLite's busy handler retries for busyTimeoutMs before giving up.
      const patient = await refused({ busyTimeoutMs: 400 })
      expect(patient.err).toMatchObject({ code: 'TW_STORE', details: { path } })
      expect(patient.ms).toBeGreaterThanOrEqual(400)

      c.process.stdin.write('release\n')
      await c.line('released')
      await using store = await openSqliteStore({ path })
      expect((await store.load('held'))?.runId).toBe('held')
    } finally {
      c.process.kill('SIGKILL')
      await c.exited
    }
  })

  it('(5) a full disk: TW_STORE naming the file and "disk full"; what was committed before is intact after a reopen', async (ctx) => {
    const mount = join(dir, 'tmpfs')
    await mkdir(mount)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount], { stdio: 'ignore' })
    } catch {
      // A 1 MiB tmpfs needs root (or CAP_SYS_ADMIN); elsewhere the case cannot be set up.
      ctx.skip('mount -t tmpfs is not permitted here')
      return
    }
    try {
      const path = join(mount, 'runs.db')
      const store = await openSqliteStore({ path })
      const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
      const output = JSON.stringify('x'.repeat(10_000))
      let committed = 0
      let failure: unknown
      for (let k = 0; k < 1_000 && failure === undefined; k++) {
        try {
          await store.append([{ runId: 'r1', epoch: lease.epoch, entries: tasks(committed + 1, 5, output) }])
          committed += 5
        } catch (err) {
          failure = err
        }
      }
      expect(committed).toBeGreaterThan(0)
      expect(failure).toMatchObject({ code: 'TW_STORE', retryable: true, details: { path } })
      expect((failure as Error).message).toContain(`SQLite store ${path}: disk full`)
      expect((await store.load('r1'))?.entries.length).toBe(committed)
      await store.close()

      await using again = await openSqliteStore({ path })
      const run = await again.load('r1')
      expect(run?.entries.length).toBe(committed)
      expect(run?.entries.every((e, k) => e.seq === k + 1 && e.data === output)).toBe(true)
    } finally {
      execFileSync('umount', ['-l', mount])
    }
  })

  it('(6) the database thread dying: the waiting call and every later one reject with TW_STORE; close resolves', async () => {
    const path = join(dir, 'runs.db')
    const thread = await SqliteThread.start({ file: path, location: path, busyTimeoutMs: 0 })
    const store = new SqliteRunStore(thread)
    const lease = await store.createRun(newRun('r1'), { owner: 'o', ttlMs: 1000, now: T0 })
    // Long enough (100,000 entries) that the thread is still inside the transaction when it dies.
    const waiting = store.append([{ runId: 'r1', epoch: lease.epoch, entries: tasks(1, 100_000) }])
    await thread.terminate()
    await expect(waiting).rejects.toMatchObject({ code: 'TW_STORE', message: expect.stringMatching(/database thread stopped .*may or may not be committed/) as string })
    await expect(store.load('r1')).rejects.toMatchObject({ code: 'TW_STORE', details: { path } })
    await store.close()

    // The dead thread let go of the file, and its unfinished transaction left nothing behind.
    await using again = await openSqliteStore({ path })
    expect((await again.load('r1'))?.entries).toEqual([])
  })
})
