/**
 * Benchmark `pg-append`: journal appends per second of the PostgreSQL run store, against a real
 * server, for batches of 100, 1,000 and 10,000 entries, and the time to load a journal of 100,000
 * entries. Each measurement runs in a fresh child process (cold driver, cold pool, no warm-up
 * beyond one append) with a schema of its own, dropped at the end.
 *
 * Appends are sequential (one in flight at a time), as one engine's journal writer issues them:
 * the figure is what a single writer gets, round trips included. The engine's target is 20,000+
 * entries/s.
 *
 * Run from the repo root (needs no build; the store is loaded from the sources):
 * ```sh
 * node --import tsx bench/pg-append.ts                       # all sizes, then the load
 * PG_URL=postgres://user@host:5432/db node --import tsx bench/pg-append.ts
 * ```
 * @module
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import type { JournalEntry, NewRun } from '../src/core/store.ts'
import { openPostgresStore } from '../src/stores/postgres/index.ts'

const URL = process.env['PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
const BATCH_SIZES = [100, 1_000, 10_000] as const
/** Entries appended per batch size: enough for a second or more of steady work at the target rate. */
const TOTAL_ENTRIES = 100_000
const LOAD_ENTRIES = 100_000
const T0 = 1_800_000_000_000

interface AppendFigure {
  readonly kind: 'append'
  readonly batch: number
  readonly entries: number
  readonly ms: number
  readonly entriesPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
}

interface LoadFigure {
  readonly kind: 'load'
  readonly entries: number
  readonly firstMs: number
  readonly secondMs: number
}

function newRun(runId: string): NewRun {
  return { runId, workflowId: 'bench', workflowHash: 'd'.repeat(64), definition: '{"id":"bench"}', inputs: '{}', settings: '{}', createdAt: T0 }
}

/** Entries as the engine writes them: an attempt start, then its success with a small output. */
function entries(from: number, count: number): JournalEntry[] {
  const list: JournalEntry[] = new Array<JournalEntry>(count)
  for (let k = 0; k < count; k++) {
    const seq = from + k
    const task = `task-${seq >> 1}`
    list[k] = seq % 2 === 1 ? { seq, kind: 'start', taskId: task, attempt: 1, at: T0 + seq } : { seq, kind: 'ok', taskId: task, attempt: 1, at: T0 + seq, data: `{"ok":true,"n":${seq},"text":"result of ${task}"}` }
  }
  return list
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`)
  } finally {
    await client.end()
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0
}

/** One batch size, in this (fresh) process. */
async function measureAppend(batch: number, schema: string): Promise<AppendFigure> {
  const store = await openPostgresStore({ connectionString: URL, schema })
  try {
    const lease = await store.createRun(newRun('bench'), { owner: 'bench', ttlMs: 3_600_000, now: T0 })
    // One append before the clock starts: the pool's first connection, not the steady rate.
    await store.append([{ runId: 'bench', epoch: lease.epoch, entries: entries(1, 1) }])
    let next = 2
    const rounds = Math.max(1, Math.round(TOTAL_ENTRIES / batch))
    const batches = Array.from({ length: rounds }, (_, k) => entries(next + k * batch, batch))
    next += rounds * batch
    const latencies: number[] = []
    const t0 = performance.now()
    for (const list of batches) {
      const s = performance.now()
      const result = await store.append([{ runId: 'bench', epoch: lease.epoch, entries: list }])
      latencies.push(performance.now() - s)
      if (result.fenced.length > 0) throw new Error('the bench run was fenced')
    }
    const ms = performance.now() - t0
    const run = await store.load('bench')
    if (run?.entries.length !== next - 1) throw new Error(`expected ${next - 1} entries, found ${run?.entries.length}`)
    latencies.sort((a, b) => a - b)
    const total = rounds * batch
    return { kind: 'append', batch, entries: total, ms, entriesPerSecond: Math.round((total / ms) * 1000), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }
  } finally {
    await store.close()
  }
}

/** Loading a journal of {@link LOAD_ENTRIES} entries, in this (fresh) process. */
async function measureLoad(schema: string): Promise<LoadFigure> {
  const store = await openPostgresStore({ connectionString: URL, schema })
  try {
    const lease = await store.createRun(newRun('bench'), { owner: 'bench', ttlMs: 3_600_000, now: T0 })
    for (let from = 1; from <= LOAD_ENTRIES; from += 10_000) await store.append([{ runId: 'bench', epoch: lease.epoch, entries: entries(from, 10_000) }])
    const t0 = performance.now()
    const first = await store.load('bench')
    const firstMs = performance.now() - t0
    const t1 = performance.now()
    await store.load('bench')
    const secondMs = performance.now() - t1
    if (first?.entries.length !== LOAD_ENTRIES) throw new Error(`expected ${LOAD_ENTRIES} entries, found ${first?.entries.length}`)
    return { kind: 'load', entries: LOAD_ENTRIES, firstMs, secondMs }
  } finally {
    await store.close()
  }
}

/** Child: measures one thing in a schema of its own, drops it, prints one JSON line. */
async function child(what: string): Promise<void> {
  const schema = `tw_bench_${randomBytes(4).toString('hex')}_${what}`
  try {
    const figure = what === 'load' ? await measureLoad(schema) : await measureAppend(Number(what), schema)
    console.log(JSON.stringify(figure))
  } finally {
    await dropSchema(schema)
  }
}

async function main(): Promise<void> {
  const run = promisify(execFile)
  const self = fileURLToPath(import.meta.url)
  console.log(`pg-append against ${URL.replace(/:[^:@/]*@/, '@')} (sequential appends, one run, fresh process each)`)
  console.log('batch    entries   entries/s   p50 ms   p99 ms')
  for (const what of [...BATCH_SIZES.map(String), 'load']) {
    const { stdout } = await run(process.execPath, [...process.execArgv, self, '--child', what], { maxBuffer: 1 << 20 })
    const figure = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as AppendFigure | LoadFigure
    if (figure.kind === 'append') {
      console.log(`${String(figure.batch).padStart(6)} ${String(figure.entries).padStart(10)} ${String(figure.entriesPerSecond).padStart(11)} ${figure.p50Ms.toFixed(1).padStart(8)} ${figure.p99Ms.toFixed(1).padStart(8)}`)
    } else {
      console.log(`load of ${figure.entries} entries: ${figure.firstMs.toFixed(0)} ms (first), ${figure.secondMs.toFixed(0)} ms (again)`)
    }
  }
}

const childAt = process.argv.indexOf('--child')
if (childAt >= 0) await child(process.argv[childAt + 1] ?? '100')
else await main()
