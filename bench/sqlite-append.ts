/**
 * Benchmark `sqlite-append`: how fast the SQLite run store journals, and how much disk a task
 * costs. For each batch size (100, 1,000, 10,000 entries per `append`), a fresh process opens a
 * new store file, appends 100,000 completed no-op tasks (a `start` and an `ok` entry each, no
 * data, task ids `t0`…`t99999`: 200,000 entries) to one run, one awaited append at a time as a
 * journal flush would, then finishes the run and closes the store. It prints the open time (a
 * new file), entries/s, the close time, the time to open the full file again, and the file's size
 * per task.
 *
 * Measures the compiled package: `npm run build`, then `node --import tsx bench/sqlite-append.ts`.
 * The file lives in the OS temp dir (its disk decides the fsync cost: one per append, with
 * `synchronous=FULL`); set `BENCH_SQLITE_DIR` to measure another disk.
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { JournalEntry } from '../dist/core/store.js'

const TASKS = 100_000
const BATCHES = [100, 1_000, 10_000] as const
const T0 = 1_800_000_000_000

/** What one child measures. */
interface Measured {
  readonly batch: number
  readonly openMs: number
  readonly entriesPerSecond: number
  readonly closeMs: number
  /** Opening the file again, 100,000 tasks in it (the thread's start included). */
  readonly reopenMs: number
  readonly bytesPerTask: number
  readonly sqliteVersion: string
}

/** The child: one batch size, one fresh store file. */
async function measure(batch: number): Promise<Measured> {
  const { openSqliteStore } = await import('../dist/stores/sqlite/index.js')
  const dir = await mkdtemp(join(process.env['BENCH_SQLITE_DIR'] ?? tmpdir(), 'tw-bench-sqlite-'))
  try {
    const path = join(dir, 'runs.db')
    // Built before the clock starts: making entries is the engine's work, not the store's.
    const entries: JournalEntry[] = []
    for (let k = 0; k < TASKS; k++) {
      entries.push({ seq: 2 * k + 1, kind: 'start', taskId: `t${k}`, attempt: 1, at: T0 + 2 * k })
      entries.push({ seq: 2 * k + 2, kind: 'ok', taskId: `t${k}`, attempt: 1, at: T0 + 2 * k + 1 })
    }
    const batches: JournalEntry[][] = []
    for (let from = 0; from < entries.length; from += batch) batches.push(entries.slice(from, from + batch))

    let t0 = performance.now()
    const store = await openSqliteStore({ path })
    const openMs = performance.now() - t0
    const lease = await store.createRun(
      { runId: 'bench', workflowId: 'noop', workflowHash: '0'.repeat(64), definition: '{"id":"noop"}', inputs: '{}', settings: '{}', createdAt: T0 },
      { owner: 'bench', ttlMs: 60_000, now: T0 },
    )
    t0 = performance.now()
    for (const list of batches) {
      const { fenced } = await store.append([{ runId: 'bench', epoch: lease.epoch, entries: list }])
      if (fenced.length > 0) throw new Error('the bench run was fenced')
    }
    const appendMs = performance.now() - t0
    await store.append([{ runId: 'bench', epoch: lease.epoch, entries: [{ seq: entries.length + 1, kind: 'finish', at: T0 + entries.length, data: `{"status":"succeeded","counts":{"succeeded":${TASKS}}}` }] }])
    t0 = performance.now()
    await store.close()
    const closeMs = performance.now() - t0
    const { size } = await stat(path)
    t0 = performance.now()
    const again = await openSqliteStore({ path })
    const reopenMs = performance.now() - t0
    await again.close()
    return { batch, openMs, entriesPerSecond: entries.length / (appendMs / 1000), closeMs, reopenMs, bytesPerTask: size / TASKS, sqliteVersion: store.sqliteVersion }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Runs `measure(batch)` in a fresh Node process and reads its JSON line. */
function inChild(batch: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'child', String(batch)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Measured) : reject(new Error(`child for batch ${batch} exited with ${String(code)}`))))
  })
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')

if (process.argv[2] === 'child') {
  process.stdout.write(`${JSON.stringify(await measure(Number(process.argv[3])))}\n`)
} else {
  const rows: Measured[] = []
  for (const batch of BATCHES) rows.push(await inChild(batch))
  console.log(`SQLite run store, ${int(TASKS)} no-op tasks (${int(2 * TASKS)} entries) per process, SQLite ${rows[0]?.sqliteVersion ?? '?'}, synchronous=FULL\n`)
  console.log('| entries per append | appends | entries/s | open, new file (ms) | close (ms) | reopen (ms) | bytes per task |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) console.log(`| ${int(r.batch)} | ${int((2 * TASKS) / r.batch)} | ${int(r.entriesPerSecond)} | ${r.openMs.toFixed(1)} | ${r.closeMs.toFixed(1)} | ${r.reopenMs.toFixed(1)} | ${r.bytesPerTask.toFixed(1)} |`)
}
