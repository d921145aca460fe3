/**
 * Benchmark `durable`: taskweave's durable runs (`createEngine({ store })`) on SQLite and on a real
 * PostgreSQL, against DBOS (durable workflows on the same PostgreSQL) and LangGraph with its SQLite
 * and Postgres checkpointers.
 *
 * - The layered 20 × 500 DAG of `layered.ts` (same generator, seed 42), no-op tasks, concurrency 64,
 *   journaled: completions/s cold and warm, the latency of every `store.append` (the journal's
 *   group commits, timed by a proxy around the real store), and the delay from a parent's
 *   `task:succeeded` to its child's `task:started` (the child's last parent to succeed).
 * - DBOS: the same DAG as one workflow whose nodes are steps, a layer's steps run at once with
 *   `Promise.all`. LangGraph: a 10 × 50 slice as a StateGraph with a checkpointer and a thread id.
 * - A 500-task chain (every task waits for the previous one's commit), the resume of a 100,000-task
 *   run with half its tasks committed (fresh process: `engine.resume()` → first `task:started`),
 *   and the storage a completed no-op task costs.
 *
 * Needs `npm run build` (taskweave is imported from `../dist`) and a PostgreSQL server at `PG_URL`
 * (default `postgres://postgres@127.0.0.1:5432/test`; every child works in a schema of its own,
 * DBOS in a database of its own, all dropped at the end). SQLite files live in fresh temp dirs.
 * Run alone with `node --expose-gc --import tsx bench/durable.ts`.
 * @module
 */
import { readFileSync } from 'node:fs'
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { Engine } from '../dist/index.js'
import type { RunStore } from '../dist/core/store.js'
import { check, childMain, isMain, measure, measureColdWarm, WARM } from './lib/harness.js'
import type { ColdWarm, ContenderResult, ContenderSpec, Sample } from './lib/harness.js'
import { method } from './lib/cold-warm.js'
import { int, median, ms, times } from './lib/format.js'
import { layeredDag } from './lib/prng.js'
import { renderReport } from './lib/report.js'
import type { BenchReport, TargetCheck } from './lib/report.js'

const PG_URL = process.env['PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
/** Names every schema and database of one benchmark run, so the parent can drop what a crashed child left. */
const TAG = process.env['BENCH_DURABLE_TAG'] ?? String(process.pid)
const CONCURRENCY = 64
const SEED = 42
/** Children per taskweave contender and mode (warm, cold) on the layered DAG, in turn. */
const ROUNDS = 5
/** Children of the delay contenders (listeners on), per store. */
const DELAY_ROUNDS = 3
const FULL = { layers: 20, width: 500 }
/** The LangGraph slice (and taskweave on it, like with like): the 500-node DAG of layered.ts. */
const SLICE = { layers: 10, width: 50 }
/** DBOS's warm-up runs use a slice of the DAG: 2 layers of 500. */
const DBOS_WARMUP = { layers: 2, width: 500 }
const CHAIN = 500
const RESUME = { layers: 20, width: 5_000 }
const RESUME_COMMITTED = 50_000
const SQLITE_RESUMES = 3
const PG_RESUMES = 2

type StoreKind = 'sqlite' | 'pg'

interface Size {
  readonly layers: number
  readonly width: number
}

/** The work of every node, the same function for every contender. */
const work = async (): Promise<undefined> => undefined

function label(size: Size): string {
  return `${size.layers} × ${size.width}`
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number
}

const round2 = (v: number): number => Math.round(v * 100) / 100

/** `1.23 / 4.56 ms` (p50 / p99). */
function p50p99(values: readonly number[]): string {
  if (values.length === 0) return '—'
  return `${percentile(values, 50).toFixed(2)} / ${percentile(values, 99).toFixed(2)} ms`
}

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(fileURLToPath(new URL(`./node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')) as { version: string }).version
  } catch {
    return '(not installed)'
  }
}

function pgUrlFor(database: string): string {
  const url = new URL(PG_URL)
  url.pathname = `/${database}`
  return url.toString()
}

async function withPg<T>(fn: (client: pg.Client) => Promise<T>, url = PG_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Total size (heap, indexes, TOAST) and rows of the ordinary tables `tables` of `schema`. */
async function pgTableSizes(client: pg.Client, schema: string, tables?: readonly string[]): Promise<{ bytes: number; rows: Record<string, number>; tableBytes: Record<string, number> }> {
  const { rows } = await client.query<{ relname: string; bytes: string }>(
    `SELECT c.relname, pg_total_relation_size(c.oid)::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND ($2::text[] IS NULL OR c.relname = ANY($2))`,
    [schema, tables ?? null],
  )
  let bytes = 0
  const counts: Record<string, number> = {}
  const tableBytes: Record<string, number> = {}
  for (const row of rows) {
    bytes += Number(row.bytes)
    tableBytes[row.relname] = Number(row.bytes)
    const { rows: n } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(row.relname)}`)
    counts[row.relname] = Number(n[0]?.n ?? 0)
  }
  return { bytes, rows: counts, tableBytes }
}

/**
 * Where a closed SQLite file's bytes are: per table and index (the `dbstat` virtual table) and in
 * free pages (pages the file keeps for reuse, such as the old copy of a row SQLite rewrote).
 */
function sqliteBreakdown(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const pageSize = db.pragma('page_size', { simple: true }) as number
    const out: Record<string, number> = { freeBytes: (db.pragma('freelist_count', { simple: true }) as number) * pageSize }
    for (const row of db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]) out[`${row.name}Bytes`] = row.bytes
    return out
  } finally {
    db.close()
  }
}

async function fileBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

// ------------------------------------------------------------------ taskweave's stores

/** A taskweave store opened for one child, with what it takes to measure and remove it. */
interface BenchStore {
  readonly store: RunStore
  /** Closes the store; resolves its storage: the SQLite file (and any `-wal`), or the journal and runs tables. */
  close(): Promise<{ bytes: number; detail: Record<string, number> }>
  /** Removes the temp dir or drops the schema. */
  remove(): Promise<void>
}

async function openBenchStore(kind: StoreKind, target?: string): Promise<BenchStore> {
  if (kind === 'sqlite') {
    const { openSqliteStore } = await import('../dist/stores/sqlite/index.js')
    const dir = target === undefined ? await mkdtemp(join(tmpdir(), 'tw-bench-durable-')) : undefined
    const path = target ?? join(dir as string, 'runs.db')
    const store = await openSqliteStore({ path })
    return {
      store,
      async close() {
        await store.close()
        const db = await fileBytes(path)
        const wal = await fileBytes(`${path}-wal`)
        return { bytes: db + wal, detail: { dbFileBytes: db, walBytes: wal, ...sqliteBreakdown(path) } }
      },
      remove: async () => {
        if (dir !== undefined) await rm(dir, { recursive: true, force: true })
        else await rm(path, { force: true })
      },
    }
  }
  const { openPostgresStore } = await import('../dist/stores/postgres/index.js')
  const schema = target ?? `tw_bench_${TAG}_${process.pid}`
  const store = await openPostgresStore({ connectionString: PG_URL, schema })
  return {
    store,
    async close() {
      await store.close()
      const sizes = await withPg((client) => pgTableSizes(client, schema, ['journal', 'runs']))
      return { bytes: sizes.bytes, detail: { journalRows: sizes.rows['journal'] ?? 0, runsRows: sizes.rows['runs'] ?? 0, journalBytes: sizes.tableBytes['journal'] ?? 0, runsBytes: sizes.tableBytes['runs'] ?? 0 } }
    },
    remove: () => withPg(async (client) => void (await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`))),
  }
}

/** The store with every `append` timed: the real journal path, one entry in `commitsMs` per group commit. */
function timedStore(store: RunStore, commitsMs: number[]): RunStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'append') {
        return async (batches: Parameters<RunStore['append']>[0]) => {
          const t0 = performance.now()
          try {
            return await target.append(batches)
          } finally {
            commitsMs.push(performance.now() - t0)
          }
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** A durable engine (no built-ins) with the one tool `bench.noop`. */
async function durableEngine(store: RunStore, run: (input: unknown, ctx: { readonly signal: AbortSignal }) => Promise<undefined> = work): Promise<Engine> {
  const [{ createEngine, defineTool }, { z }] = await Promise.all([import('../dist/lib/index.js'), import('zod')])
  const noop = defineTool({ name: 'bench.noop', input: z.object({}), run })
  return createEngine({ builtins: false, tools: [noop], concurrency: CONCURRENCY, store })
}

type TaskList = { id: string; tool: string; dependsOn?: string[] }[]

function layeredTasks(parents: readonly (readonly number[])[]): TaskList {
  const n = parents.length
  const tasks: TaskList = new Array<TaskList[number]>(n)
  for (let i = 0; i < n; i++) {
    const ps = parents[i] as number[]
    tasks[i] = ps.length === 0 ? { id: `n${i}`, tool: 'bench.noop' } : { id: `n${i}`, tool: 'bench.noop', dependsOn: ps.map((p) => `n${p}`) }
  }
  return tasks
}

/** A chain's parents: every task after the first depends on the one before. */
function chainParents(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? [] : [i - 1]))
}

/**
 * Records, for every task that has parents, the time from the last of its parents' `task:succeeded`
 * to its own `task:started` (`performance.now()` in the listeners). Task ids are `<letter><index>`.
 */
function watchDependentStarts(engine: Engine, parents: readonly (readonly number[])[], delaysMs: number[]): void {
  const succeededAt = new Float64Array(parents.length)
  engine.events.on('task:succeeded', (e) => {
    succeededAt[Number(e.taskId.slice(1))] = performance.now()
  })
  engine.events.on('task:started', (e) => {
    const now = performance.now()
    const ps = parents[Number(e.taskId.slice(1))]
    if (ps === undefined || ps.length === 0) return
    let last = 0
    for (const p of ps) last = Math.max(last, succeededAt[p] as number)
    delaysMs.push(now - last)
  })
}

interface DagOptions {
  /** Subscribe to `task:succeeded` / `task:started` and report the dependent-start delays. */
  readonly listen: boolean
  readonly reps?: number
  readonly warmups?: number
  readonly workflowId: string
}

/** taskweave running `parents` as one durable workflow per repetition, on a store of `kind`. */
function taskweaveDag(kind: StoreKind, parents: () => number[][], what: string, options: DagOptions): ContenderSpec {
  return {
    reps: options.reps ?? WARM.reps,
    warmups: options.warmups ?? WARM.warmups,
    async setup() {
      const bench = await openBenchStore(kind)
      const commitsMs: number[] = []
      const delaysMs: number[] = []
      const engine = await durableEngine(timedStore(bench.store, commitsMs))
      const dag = parents()
      const n = dag.length
      if (options.listen) watchDependentStarts(engine, dag, delaysMs)
      let runs = 0
      const run = async (): Promise<Sample> => {
        commitsMs.length = 0
        delaysMs.length = 0
        const t0 = performance.now()
        const result = await engine.run({ id: options.workflowId, tasks: layeredTasks(dag) }, { concurrency: CONCURRENCY })
        const elapsed = performance.now() - t0
        runs++
        check(result.status === 'succeeded' && result.counts.succeeded === n, `taskweave (${kind}) run ended ${result.status} with ${result.counts.succeeded} succeeded`)
        return {
          ms: elapsed,
          tasks: n,
          info: { what, commitsMs: commitsMs.map(round2), ...(options.listen ? { delaysMs: delaysMs.map(round2) } : {}) },
        }
      }
      return {
        run,
        async finish() {
          // After the timed runs, so a cold child's first run compiles the workflow first.
          const definitionBytes = Buffer.byteLength(engine.compile({ id: options.workflowId, tasks: layeredTasks(dag) }).snapshot)
          await engine.close()
          const { bytes, detail } = await bench.close()
          await bench.remove()
          return { runs, storageBytes: bytes, bytesPerTask: bytes / (runs * n), definitionBytesPerTask: definitionBytes / n, ...detail }
        },
      }
    },
  }
}

// ------------------------------------------------------------------ DBOS

function dbos(size: Size): ContenderSpec {
  return {
    reps: 1,
    warmups: 1,
    async setup() {
      const database = `dbos_bench_${TAG}_${process.pid}`
      await withPg((client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`))
      const { DBOS } = await import('@dbos-inc/dbos-sdk')
      DBOS.setConfig({ name: 'taskweave-bench', systemDatabaseUrl: pgUrlFor(database), logLevel: 'error', applicationVersion: 'bench' })
      const full = layeredDag(size.layers, size.width, SEED)
      const slice = layeredDag(DBOS_WARMUP.layers, DBOS_WARMUP.width, SEED)
      let ran = 0
      let steps = 0
      // One workflow per DAG: a layer's steps start together (Promise.all) once the layer before is
      // done, so every node's parents have finished when it starts (checked).
      const layered = DBOS.registerWorkflow(
        async (layers: number, width: number): Promise<number> => {
          const dag = layers === size.layers && width === size.width ? full : slice
          const done = new Uint8Array(dag.length)
          for (let l = 0; l < layers; l++) {
            const layer: Promise<void>[] = []
            for (let i = l * width; i < (l + 1) * width; i++) {
              layer.push(
                DBOS.runStep(
                  async () => {
                    for (const p of dag[i] as number[]) if (done[p] !== 1) throw new Error(`node ${i} started before its parent ${p}`)
                    await work()
                    done[i] = 1
                    ran++
                  },
                  { name: `n${i}` },
                ),
              )
            }
            await Promise.all(layer)
          }
          return layers * width
        },
        { name: 'layered' },
      )
      await DBOS.launch()
      const once = async (s: Size): Promise<number> => {
        const before = ran
        const n = await layered(s.layers, s.width)
        steps += n
        check(n === s.layers * s.width && ran - before === n, `DBOS ran ${ran - before} of ${s.layers * s.width} steps`)
        return n
      }
      return {
        async run(): Promise<Sample> {
          const t0 = performance.now()
          const n = await once(size)
          return { ms: performance.now() - t0, tasks: n, info: { what: label(size) } }
        },
        warmup: () => once(DBOS_WARMUP),
        async finish() {
          const sizes = await withPg((client) => pgTableSizes(client, 'dbos', ['workflow_status', 'operation_outputs']), pgUrlFor(database))
          await DBOS.shutdown()
          await withPg((client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`))
          return { steps, storageBytes: sizes.bytes, bytesPerStep: sizes.bytes / steps, operationOutputsRows: sizes.rows['operation_outputs'] ?? 0 }
        },
      }
    },
  }
}

// ------------------------------------------------------------------ LangGraph with a checkpointer

interface Saver {
  readonly saver: object
  close(): Promise<{ bytes: number; detail: Record<string, number> }>
}

function langGraph(kind: StoreKind, size: Size): ContenderSpec {
  return {
    reps: 3,
    warmups: 1,
    async setup() {
      const { Annotation, END, START, StateGraph } = await import('@langchain/langgraph')
      let saver: Saver
      if (kind === 'sqlite') {
        const { SqliteSaver } = await import('@langchain/langgraph-checkpoint-sqlite')
        const dir = await mkdtemp(join(tmpdir(), 'tw-bench-langgraph-'))
        const path = join(dir, 'checkpoints.db')
        const s = SqliteSaver.fromConnString(path)
        saver = {
          saver: s,
          async close() {
            s.db.close()
            const bytes = (await fileBytes(path)) + (await fileBytes(`${path}-wal`))
            await rm(dir, { recursive: true, force: true })
            return { bytes, detail: {} }
          },
        }
      } else {
        const { PostgresSaver } = await import('@langchain/langgraph-checkpoint-postgres')
        const schema = `lg_bench_${TAG}_${process.pid}`
        const s = PostgresSaver.fromConnString(PG_URL, { schema })
        await s.setup()
        saver = {
          saver: s,
          async close() {
            await s.end()
            return withPg(async (client) => {
              const sizes = await pgTableSizes(client, schema)
              await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`)
              return { bytes: sizes.bytes, detail: Object.fromEntries(Object.entries(sizes.rows).map(([t, n]) => [`${t}Rows`, n])) }
            })
          },
        }
      }
      const State = Annotation.Root({ count: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }) })
      const parents = layeredDag(size.layers, size.width, SEED)
      const n = parents.length
      const hasChild = new Uint8Array(n)
      for (const ps of parents) for (const p of ps) hasChild[p] = 1
      const node = async (): Promise<{ count: number }> => {
        await work()
        return { count: 1 }
      }
      let runs = 0
      return {
        async run(): Promise<Sample> {
          const t0 = performance.now()
          const graph = new StateGraph(State) as unknown as {
            addNode(name: string, fn: typeof node): unknown
            addEdge(from: string | string[], to: string): unknown
            compile(options: { checkpointer: object }): { invoke(input: object, config: object): Promise<{ count: number }> }
          }
          for (let i = 0; i < n; i++) graph.addNode(`n${i}`, node)
          for (let i = 0; i < n; i++) {
            const ps = parents[i] as number[]
            if (ps.length === 0) graph.addEdge(START, `n${i}`)
            else graph.addEdge(ps.map((p) => `n${p}`), `n${i}`)
            if (hasChild[i] === 0) graph.addEdge(`n${i}`, END)
          }
          const app = graph.compile({ checkpointer: saver.saver })
          const out = await app.invoke({}, { maxConcurrency: CONCURRENCY, recursionLimit: size.layers + 10, configurable: { thread_id: `bench-${process.pid}-${runs}` } })
          const elapsed = performance.now() - t0
          runs++
          check(out.count === n, `LangGraph ran ${out.count} of ${n} nodes`)
          return { ms: elapsed, tasks: n, info: { what: label(size) } }
        },
        async finish() {
          const { bytes, detail } = await saver.close()
          return { runs, storageBytes: bytes, bytesPerNode: bytes / (runs * n), ...detail }
        },
      }
    },
  }
}

// ------------------------------------------------------------------ resume of a 100,000-task run

interface ResumeBuilt {
  readonly buildMs: number
  readonly committedOk: number
  readonly entries: number
}

interface ResumeMeasured {
  readonly openMs: number
  /** `engine.resume()` called → its promise resolved. */
  readonly resumeCallMs: number
  /** `engine.resume()` called → the first `task:started` (a new attempt). */
  readonly firstStartMs: number
  /** `engine.resume()` called → the run's result (the other 50,000 tasks ran). */
  readonly finishMs: number
  readonly journalEntries: number
  /** Each `store.load` / `store.acquire` the engine made between `resume()` and the first start, ms. */
  readonly loadMs: readonly number[]
  readonly acquireMs: readonly number[]
}

const RESUME_RUN_ID = 'resume-100k'

/**
 * Child: starts a durable run of the 20 × 5,000 layered DAG whose tool completes 50,000 tasks and
 * then blocks every later one; once the 50,000 outcomes are committed the engine closes (the run
 * is suspended as at a crash: the blocked attempts have a `start` and no outcome).
 */
async function resumeBuild(kind: StoreKind, target: string): Promise<ResumeBuilt> {
  const t0 = performance.now()
  const bench = await openBenchStore(kind, target)
  let completed = 0
  let committedOk = 0
  let entries = 0
  let reached: () => void = () => undefined
  const half = new Promise<void>((resolve) => (reached = resolve))
  const counting = new Proxy(bench.store, {
    get(store, prop) {
      if (prop === 'append') {
        return async (batches: Parameters<RunStore['append']>[0]) => {
          const result = await store.append(batches)
          for (const batch of batches) {
            entries += batch.entries.length
            for (const entry of batch.entries) if (entry.kind === 'ok') committedOk++
          }
          if (committedOk >= RESUME_COMMITTED) reached()
          return result
        }
      }
      const value: unknown = Reflect.get(store, prop, store)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(store) : value
    },
  })
  const blocking = async (_input: unknown, ctx: { readonly signal: AbortSignal }): Promise<undefined> => {
    if (completed < RESUME_COMMITTED) {
      completed++
      return undefined
    }
    return new Promise<undefined>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }))
  }
  const engine = await durableEngine(counting, blocking)
  const handle = engine.start({ id: 'resume-100k', tasks: layeredTasks(layeredDag(RESUME.layers, RESUME.width, SEED)) }, { concurrency: CONCURRENCY, runId: RESUME_RUN_ID })
  await half
  const buildMs = performance.now() - t0
  await engine.close()
  const result = await handle.result
  check(result.status === 'cancelled' && result.counts.succeeded === RESUME_COMMITTED, `the run to resume ended ${result.status} with ${result.counts.succeeded} succeeded`)
  await bench.close()
  return { buildMs, committedOk, entries }
}

/** Child: opens the store, resumes the run, times it to the first new attempt, lets it finish, checks it. */
async function resumeMeasure(kind: StoreKind, target: string): Promise<ResumeMeasured> {
  let t0 = performance.now()
  const bench = await openBenchStore(kind, target)
  const openMs = performance.now() - t0
  const loadMs: number[] = []
  const acquireMs: number[] = []
  const timedLoads = new Proxy(bench.store, {
    get(store, prop) {
      if (prop === 'load' || prop === 'acquire') {
        const list = prop === 'load' ? loadMs : acquireMs
        return async (...args: unknown[]) => {
          const s = performance.now()
          try {
            return await (store[prop] as (...a: unknown[]) => Promise<unknown>).apply(store, args)
          } finally {
            list.push(round2(performance.now() - s))
          }
        }
      }
      const value: unknown = Reflect.get(store, prop, store)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(store) : value
    },
  })
  const engine = await durableEngine(timedLoads)
  // Nothing reads the run before the timed resume (no warm cache, no compiled code paths).
  let firstStartMs = -1
  let starts = 0
  let resolveStarted: () => void = () => undefined
  const started = new Promise<void>((resolve) => (resolveStarted = resolve))
  engine.events.on('task:started', () => {
    if (firstStartMs < 0) {
      firstStartMs = performance.now() - t0
      resolveStarted()
    }
    starts++
  })
  t0 = performance.now()
  const handle = await engine.resume(RESUME_RUN_ID)
  const resumeCallMs = performance.now() - t0
  await started
  const result = await handle.result
  const finishMs = performance.now() - t0
  const total = RESUME.layers * RESUME.width
  check(result.status === 'succeeded' && result.counts.succeeded === total, `the resumed run ended ${result.status} with ${result.counts.succeeded} succeeded`)
  // Exactly the uncommitted half ran: the committed outcomes were replayed, not run again.
  check(starts === total - RESUME_COMMITTED, `the resume started ${starts} attempts; expected ${total - RESUME_COMMITTED}`)
  const calls = { loadMs: [...loadMs], acquireMs: [...acquireMs] }
  const journalEntries = (await bench.store.load(RESUME_RUN_ID))?.entries.length ?? 0
  await engine.close()
  await bench.close()
  await bench.remove()
  return { openMs, resumeCallMs, firstStartMs, finishMs, journalEntries, ...calls }
}

// ------------------------------------------------------------------ contenders

const fullDag = (): number[][] => layeredDag(FULL.layers, FULL.width, SEED)
const sliceDag = (): number[][] => layeredDag(SLICE.layers, SLICE.width, SEED)

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<string, ContenderSpec>> = {
  'tw-sqlite': taskweaveDag('sqlite', fullDag, label(FULL), { listen: false, workflowId: 'layered' }),
  'tw-pg': taskweaveDag('pg', fullDag, label(FULL), { listen: false, workflowId: 'layered' }),
  'tw-sqlite-delay': taskweaveDag('sqlite', fullDag, label(FULL), { listen: true, workflowId: 'layered' }),
  'tw-pg-delay': taskweaveDag('pg', fullDag, label(FULL), { listen: true, workflowId: 'layered' }),
  'tw-sqlite-slice': taskweaveDag('sqlite', sliceDag, label(SLICE), { listen: false, reps: 3, workflowId: 'layered' }),
  'tw-pg-slice': taskweaveDag('pg', sliceDag, label(SLICE), { listen: false, reps: 3, workflowId: 'layered' }),
  'tw-sqlite-chain': taskweaveDag('sqlite', () => chainParents(CHAIN), `chain of ${CHAIN}`, { listen: true, reps: 3, warmups: 1, workflowId: 'chain' }),
  'tw-pg-chain': taskweaveDag('pg', () => chainParents(CHAIN), `chain of ${CHAIN}`, { listen: true, reps: 3, warmups: 1, workflowId: 'chain' }),
  dbos: dbos(FULL),
  'langgraph-sqlite': langGraph('sqlite', SLICE),
  'langgraph-pg': langGraph('pg', SLICE),
}

// ------------------------------------------------------------------ parent

/** Every sample of a list in `info` over `children` (the timed runs of each). */
function pooledList(children: readonly ContenderResult[], key: string): number[] {
  return children.flatMap((c) => (c.info[key] as number[] | undefined) ?? [])
}

function infoNumber(result: ContenderResult, key: string): number {
  return Number(result.info[key] ?? Number.NaN)
}

async function runChildren(name: string, count: number, env: Record<string, string>): Promise<ContenderResult[]> {
  const out: ContenderResult[] = []
  for (let k = 0; k < count; k++) out.push(await measure(import.meta.url, name, { env }))
  return out
}

async function measureResumes(env: Record<string, string>): Promise<{ sqlite: { built: ResumeBuilt; runs: ResumeMeasured[] }; pg: { built: ResumeBuilt; runs: ResumeMeasured[] } }> {
  const child = async <T>(mode: string, kind: StoreKind, target: string): Promise<T> =>
    (await measure(import.meta.url, mode, { env: { ...env, BENCH_STORE: kind, BENCH_RESUME_TARGET: target } })) as unknown as T
  // SQLite: one build, then a fresh copy of its file for each resume.
  const dir = await mkdtemp(join(tmpdir(), 'tw-bench-resume-'))
  const sqliteRuns: ResumeMeasured[] = []
  let sqliteBuilt: ResumeBuilt
  try {
    const template = join(dir, 'template.db')
    sqliteBuilt = await child<ResumeBuilt>('resume-build', 'sqlite', template)
    for (let k = 0; k < SQLITE_RESUMES; k++) {
      const copy = join(dir, `resume-${k}.db`)
      await copyFile(template, copy)
      if ((await fileBytes(`${template}-wal`)) > 0) await copyFile(`${template}-wal`, `${copy}-wal`)
      sqliteRuns.push(await child<ResumeMeasured>('resume', 'sqlite', copy))
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  // PostgreSQL: a build and a resume per round, each pair in a schema of its own.
  const pgRuns: ResumeMeasured[] = []
  const pgBuilds: ResumeBuilt[] = []
  for (let k = 0; k < PG_RESUMES; k++) {
    const schema = `tw_bench_${TAG}_resume_${k}`
    pgBuilds.push(await child<ResumeBuilt>('resume-build', 'pg', schema))
    pgRuns.push(await child<ResumeMeasured>('resume', 'pg', schema))
  }
  return { sqlite: { built: sqliteBuilt, runs: sqliteRuns }, pg: { built: pgBuilds[0] as ResumeBuilt, runs: pgRuns } }
}

/** Drops whatever schemas and databases of this benchmark run a failed child left behind. */
async function dropLeftovers(): Promise<void> {
  await withPg(async (client) => {
    const { rows: schemas } = await client.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 OR nspname LIKE $2`, [`tw_bench_${TAG}_%`, `lg_bench_${TAG}_%`])
    for (const { nspname } of schemas) await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(nspname)} CASCADE`)
    const { rows: databases } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`dbos_bench_${TAG}_%`])
    for (const { datname } of databases) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)} WITH (FORCE)`)
  })
}

/** Runs every contender and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const env = { BENCH_DURABLE_TAG: TAG }
  try {
    const layered = await measureColdWarm(import.meta.url, ['tw-sqlite', 'tw-pg'], { rounds: ROUNDS, env })
    const delay: Record<string, ContenderResult[]> = { sqlite: [], pg: [] }
    for (let k = 0; k < DELAY_ROUNDS; k++) {
      delay['sqlite']?.push(await measure(import.meta.url, 'tw-sqlite-delay', { env }))
      delay['pg']?.push(await measure(import.meta.url, 'tw-pg-delay', { env }))
    }
    const chain = { sqlite: (await runChildren('tw-sqlite-chain', 1, env))[0] as ContenderResult, pg: (await runChildren('tw-pg-chain', 1, env))[0] as ContenderResult }
    const slice = { sqlite: await measure(import.meta.url, 'tw-sqlite-slice', { env }), pg: await measure(import.meta.url, 'tw-pg-slice', { env }) }
    const dbosResult = await measure(import.meta.url, 'dbos', { env })
    const lg = { sqlite: await measure(import.meta.url, 'langgraph-sqlite', { env }), pg: await measure(import.meta.url, 'langgraph-pg', { env }) }
    const resumes = await measureResumes(env)
    return report({ layered, delay, chain, slice, dbos: dbosResult, lg, resumes, seconds: (performance.now() - started) / 1000 })
  } finally {
    await dropLeftovers()
  }
}

interface Measured {
  readonly layered: Record<string, ColdWarm>
  readonly delay: Record<string, ContenderResult[]>
  readonly chain: Record<StoreKind, ContenderResult>
  readonly slice: Record<StoreKind, ContenderResult>
  readonly dbos: ContenderResult
  readonly lg: Record<StoreKind, ContenderResult>
  readonly resumes: Awaited<ReturnType<typeof measureResumes>>
  readonly seconds: number
}

function report(m: Measured): BenchReport {
  const sq = m.layered['tw-sqlite'] as ColdWarm
  const pgr = m.layered['tw-pg'] as ColdWarm
  const stores: [StoreKind, ColdWarm][] = [
    ['sqlite', sq],
    ['pg', pgr],
  ]
  const commits = (r: ColdWarm, mode: 'warm' | 'cold'): number[] => pooledList(mode === 'warm' ? r.warmChildren : r.coldChildren, 'commitsMs')
  const commitsPerRun = (r: ColdWarm): number => median(r.warmChildren.map((c) => ((c.info['commitsMs'] as number[] | undefined) ?? []).length))
  const delays = (kind: StoreKind): number[] => pooledList(m.delay[kind] ?? [], 'delaysMs')
  const delayRate = (kind: StoreKind): number => median((m.delay[kind] ?? []).map((c) => c.tasksPerSec))
  // Storage of one run: the cold children ran the layered DAG once each.
  const storage = (r: ColdWarm): number => median(r.coldChildren.map((c) => infoNumber(c, 'bytesPerTask')))
  const storageWarm = (r: ColdWarm): number => median(r.warmChildren.map((c) => infoNumber(c, 'bytesPerTask')))
  const definitionPerTask = infoNumber(sq.cold, 'definitionBytesPerTask')
  const chainMs = (kind: StoreKind): number => m.chain[kind].medianMs
  const chainDelays = (kind: StoreKind): number[] => (m.chain[kind].info['delaysMs'] as number[] | undefined) ?? []
  const chainCommits = (kind: StoreKind): number[] => (m.chain[kind].info['commitsMs'] as number[] | undefined) ?? []
  const resumeFirst = (kind: StoreKind): number => median(m.resumes[kind].runs.map((r) => r.firstStartMs))
  const resumeCell = (kind: StoreKind): string => {
    const runs = m.resumes[kind].runs
    return `${ms(resumeFirst(kind))} (${runs.map((r) => int(r.firstStartMs)).join(', ')})`
  }
  const lgRate = (kind: StoreKind): number => m.lg[kind].tasksPerSec
  const lgBytes = (kind: StoreKind): number => infoNumber(m.lg[kind], 'bytesPerNode')
  const dbosRate = m.dbos.tasksPerSec
  const vsDbos = pgr.warm.tasksPerSec / dbosRate
  const vsDbosCold = pgr.cold.tasksPerSec / dbosRate
  const loads = (kind: StoreKind): string => m.resumes[kind].runs.map((r) => `load ${r.loadMs.map((x) => int(x)).join(' + ')}, acquire ${r.acquireMs.map((x) => int(x)).join(' + ')}`).join('; ')
  // Time a run spends in `store.append` (commits are serial: one in flight at a time) ÷ its wall time.
  const commitShare = (r: ColdWarm): number =>
    median(r.warmChildren.map((c) => ((c.info['commitsMs'] as number[] | undefined) ?? []).reduce((a, b) => a + b, 0) / c.medianMs))
  const perTask = (c: ContenderResult | undefined, key: string): number => (c === undefined ? Number.NaN : infoNumber(c, key) / (infoNumber(c, 'runs') * c.tasks))
  const storageParts = (kind: StoreKind, r: ColdWarm): string => {
    const c = r.coldChildren[0]
    if (kind === 'sqlite') return `journal ${int(perTask(c, 'journalBytes'))}, runs row ${int(perTask(c, 'runsBytes'))}, free pages ${int(perTask(c, 'freeBytes'))}`
    return `journal ${int(perTask(c, 'journalBytes'))}, runs ${int(perTask(c, 'runsBytes'))}`
  }

  const headers = ['figure', 'taskweave · SQLite', 'taskweave · PostgreSQL', 'DBOS 5 (PostgreSQL)', 'LangGraph · SQLite saver', 'LangGraph · Postgres saver']
  const rows: string[][] = [
    [`${label(FULL)} DAG: completions/s, warm (median of ${ROUNDS} children)`, ...stores.map(([, r]) => `${int(r.warm.tasksPerSec)} (${r.warm.samplesMs.map((s) => int(s)).join(', ')} ms)`), `${int(dbosRate)} (1 run, ${int(m.dbos.medianMs)} ms)`, '—', '—'],
    [`${label(FULL)} DAG: completions/s, cold (first run in a fresh process)`, ...stores.map(([, r]) => `${int(r.cold.tasksPerSec)} (${r.cold.samplesMs.map((s) => int(s)).join(', ')} ms)`), '—', '—', '—'],
    [`${label(FULL)} DAG: CPU per run, warm / cold`, ...stores.map(([, r]) => `${ms(median(r.warm.cpuMs))} / ${ms(median(r.cold.cpuMs))}`), `${ms(median(m.dbos.cpuMs))} (this process only)`, '—', '—'],
    [`${label(FULL)} DAG: commit (\`store.append\`) p50 / p99, warm`, ...stores.map(([, r]) => p50p99(commits(r, 'warm'))), '—', '—', '—'],
    [`${label(FULL)} DAG: commit p50 / p99, cold`, ...stores.map(([, r]) => p50p99(commits(r, 'cold'))), '—', '—', '—'],
    [`${label(FULL)} DAG: commits per run; time in \`store.append\` ÷ run time (warm)`, ...stores.map(([, r]) => `${int(commitsPerRun(r))}; ${(100 * commitShare(r)).toFixed(0)}%`), `${int(FULL.layers * FULL.width)} steps (one write each)`, '—', '—'],
    [`${label(FULL)} DAG: parent succeeded → dependent started, p50 / p99 (listeners on, ${DELAY_ROUNDS} warm children)`, p50p99(delays('sqlite')), p50p99(delays('pg')), '—', '—', '—'],
    [`${label(FULL)} DAG: completions/s with those listeners (warm)`, int(delayRate('sqlite')), int(delayRate('pg')), '—', '—', '—'],
    [`${label(SLICE)} slice: completions/s (warm, median of 3 runs)`, int(m.slice.sqlite.tasksPerSec), int(m.slice.pg.tasksPerSec), '—', `${int(lgRate('sqlite'))} (median of 3 runs)`, `${int(lgRate('pg'))} (median of 3 runs)`],
    ['storage per completed node (bytes)', `${int(storage(sq))} (one ${label(FULL)} run: ${storageParts('sqlite', sq)})`, `${int(storage(pgr))} (one ${label(FULL)} run: ${storageParts('pg', pgr)})`, `${int(infoNumber(m.dbos, 'bytesPerStep'))} (workflow_status + operation_outputs)`, `${int(lgBytes('sqlite'))} (${label(SLICE)} runs)`, `${int(lgBytes('pg'))} (${label(SLICE)} runs)`],
    [`chain of ${CHAIN}: total (median of 3 runs) and per step`, `${ms(chainMs('sqlite'))}, ${ms(chainMs('sqlite') / CHAIN)} per step`, `${ms(chainMs('pg'))}, ${ms(chainMs('pg') / CHAIN)} per step`, '—', '—', '—'],
    [`chain of ${CHAIN}: commit p50 / p99; parent succeeded → next started p50 / p99`, `${p50p99(chainCommits('sqlite'))}; ${p50p99(chainDelays('sqlite'))}`, `${p50p99(chainCommits('pg'))}; ${p50p99(chainDelays('pg'))}`, '—', '—', '—'],
    [`resume of ${int(RESUME.layers * RESUME.width)} tasks, ${int(RESUME_COMMITTED)} committed: \`resume()\` → first \`task:started\` (median; each)`, resumeCell('sqlite'), resumeCell('pg'), '—', '—', '—'],
    ['resume: `resume()` resolved; the whole remaining run (medians)', ...(['sqlite', 'pg'] as const).map((k) => `${ms(median(m.resumes[k].runs.map((r) => r.resumeCallMs)))}; ${ms(median(m.resumes[k].runs.map((r) => r.finishMs)))}`), '—', '—', '—'],
  ]

  const targets: TargetCheck[] = [
    { what: `taskweave durable on SQLite, completions/s (${label(FULL)} DAG, warm)`, target: '≥ 100,000/s', measured: int(sq.warm.tasksPerSec), pass: sq.warm.tasksPerSec >= 100_000 },
    { what: `taskweave durable on PostgreSQL, completions/s (${label(FULL)} DAG, warm)`, target: '≥ 20,000/s', measured: int(pgr.warm.tasksPerSec), pass: pgr.warm.tasksPerSec >= 20_000 },
    { what: 'taskweave on PostgreSQL ÷ DBOS, completions/s (same DAG, same server; taskweave warm)', target: '≥ 10×', measured: `${times(vsDbos)} (cold: ${times(vsDbosCold)})`, pass: vsDbos >= 10 },
    ...(['sqlite', 'pg'] as const).map((kind) => {
      const p99 = percentile(delays(kind), 99)
      return { what: `parent succeeded → dependent started, p99 (${label(FULL)} DAG, ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`, target: '≤ 10 ms', measured: ms(p99), pass: p99 <= 10 }
    }),
    ...(['sqlite', 'pg'] as const).map((kind) => ({
      what: `resume of a ${int(RESUME.layers * RESUME.width)}-task run, half committed: \`resume()\` → first new attempt (${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, fresh process)`,
      target: '≤ 1 s',
      measured: ms(resumeFirst(kind)),
      pass: resumeFirst(kind) <= 1_000,
    })),
    ...stores.map(([kind, r]) => ({ what: `storage per completed no-op task (${kind === 'sqlite' ? 'SQLite file' : 'PostgreSQL journal + runs tables'})`, target: '≤ 200 B', measured: `${int(storage(r))} B`, pass: storage(r) <= 200 })),
  ]

  const pgDetail = pgr.coldChildren[0]?.info
  return {
    name: 'durable',
    title: `11. durable — journaled runs on SQLite and PostgreSQL against DBOS and LangGraph's checkpointers`,
    workload: `The ${label(FULL)} layered DAG of layered.ts (mulberry32 seed ${SEED}, two parents per node, no-op work, concurrency ${CONCURRENCY}) run durably (\`createEngine({ store })\`) on SQLite (a fresh file in the OS temp dir, \`synchronous=FULL\`) and on PostgreSQL 15 at ${PG_URL.replace(/:[^:@/]*@/, '@')} (a schema per child); DBOS on the same DAG; LangGraph with checkpointers on a ${label(SLICE)} slice; a ${CHAIN}-task chain; the resume of a ${int(RESUME.layers * RESUME.width)}-task run. Layered DAG: ${method(ROUNDS)}`,
    headers,
    rows,
    targets,
    notes: [
      `Commit latency is every \`store.append\` call (the journal's group commits), timed by a proxy around the real store object the engine was given, pooled over the timed runs (${int(commits(sq, 'warm').length)} SQLite and ${int(commits(pgr, 'warm').length)} PostgreSQL commits warm). Timing covers building the workflow spec through the final result, which includes \`createRun\` (the pinned definition, ${int(definitionPerTask)} bytes of canonical JSON per task here) and the \`finish\` commit; opening the store is set-up.`,
      `Dependent start: for every node with parents, \`performance.now()\` in a \`task:started\` listener minus the latest \`task:succeeded\` of its parents (listeners on \`engine.events\`), pooled over the timed runs of ${DELAY_ROUNDS} warm children per store. It includes one or two group commits (the child waits for its parents' \`ok\` entries to be durable, contract rule 4) and, in the layered DAG, the wait for a slot behind up to ${int(FULL.width)} siblings that became ready together at concurrency ${CONCURRENCY}. Those children measure with listeners on; the throughput figures come from children without listeners (subscribing makes the engine build an event object per transition). The chain has no slot queue: its delay is the commit wait alone.`,
      `DBOS ${versionOf('@dbos-inc/dbos-sdk')}: one registered workflow per DAG run, each node a \`DBOS.runStep\`; a layer's ${int(FULL.width)} steps start together (\`Promise.all\`, no cap: DBOS's pool of 10 connections bounds them) once the previous layer is done, and each step checks its parents finished. System database: its own database on the same server, created and dropped by the child; default settings (pool 10; a larger pool was not faster here). Timed: one full ${label(FULL)} run (${int(FULL.layers * FULL.width)} steps) after 3 untimed ${label(DBOS_WARMUP)} runs (one warm-up, a collection, two settle runs) in one child. Ratios are per completion.`,
      `LangGraph ${versionOf('@langchain/langgraph')} with \`SqliteSaver\` ${versionOf('@langchain/langgraph-checkpoint-sqlite')} and \`PostgresSaver\` ${versionOf('@langchain/langgraph-checkpoint-postgres')}: a WAL file and a schema of its own respectively, a new thread id per run, \`maxConcurrency: ${CONCURRENCY}\`: the ${label(SLICE)} slice (${int(SLICE.layers * SLICE.width)} nodes), as a full-size run takes minutes; median of 3 runs after 1 warm-up and 2 settle runs. Storage is the saver's whole SQLite file (or all its tables, rows included) after those ${int(infoNumber(m.lg.sqlite, 'runs'))} runs ÷ nodes run. taskweave on the same slice: ${int(m.slice.sqlite.tasksPerSec)}/s on SQLite (${times(m.slice.sqlite.tasksPerSec / lgRate('sqlite'))} LangGraph's) and ${int(m.slice.pg.tasksPerSec)}/s on PostgreSQL (${times(m.slice.pg.tasksPerSec / lgRate('pg'))}); storage per node: taskweave ${int(storage(sq))} B vs LangGraph ${int(lgBytes('sqlite'))} B on SQLite (${times(lgBytes('sqlite') / storage(sq))} less), ${int(storage(pgr))} B vs ${int(lgBytes('pg'))} B on PostgreSQL (${times(lgBytes('pg') / storage(pgr))} less).`,
      `Storage: SQLite, the file (plus any \`-wal\`, ${int(infoNumber(sq.coldChildren[0] as ContenderResult, 'walBytes'))} bytes here) after \`store.close()\` (which checkpoints the WAL) ÷ tasks, in a cold child that ran the DAG once; the split comes from SQLite's \`dbstat\` and \`freelist_count\` on the closed file. The runs row holds the pinned definition (${int(definitionPerTask)} B of canonical JSON per task, stored as is). SQLite writes a whole row again on any UPDATE, so the \`finish\` (and every lease change: acquire, renew, release) rewrites the definition's overflow pages; the old copy stays in the file as free pages, which the next run reuses: over the 8 runs of a warm child the file holds ${int(storageWarm(sq))} B per task. PostgreSQL: \`pg_total_relation_size\` (heap, indexes, TOAST) of \`journal\` + \`runs\` after one run ÷ tasks: ${int(Number(pgDetail?.['journalRows'] ?? 0))} journal rows for ${int(FULL.layers * FULL.width)} tasks (each row with its primary-key index entry; a \`start\` committed together with its outcome is written as the outcome alone, so a no-op task leaves one row); over 8 runs: ${int(storageWarm(pgr))} B.`,
      `Resume: a child starts a durable run of a ${label(RESUME)} layered DAG (same generator) whose tool completes ${int(RESUME_COMMITTED)} tasks and then blocks; once those ${int(RESUME_COMMITTED)} \`ok\` entries are committed (${ms(m.resumes.sqlite.built.buildMs)} on SQLite, ${ms(m.resumes.pg.built.buildMs)} on PostgreSQL, ${int(m.resumes.sqlite.built.entries)} entries) the engine closes, which leaves the run unfinished with ${CONCURRENCY} attempts started and no outcome, as a crash would (a close also releases the lease, so PostgreSQL need not wait 30 s for it to expire). A fresh process then opens the store (not timed: ${ms(median(m.resumes.sqlite.runs.map((r) => r.openMs)))} SQLite, ${ms(median(m.resumes.pg.runs.map((r) => r.openMs)))} PostgreSQL), subscribes, and times \`engine.resume(runId)\` → the first \`task:started\`; the run then finishes and is checked (100,000 succeeded). SQLite: one build, a fresh copy of the file per resume (${SQLITE_RESUMES}); PostgreSQL: a build and a resume per schema (${PG_RESUMES}). \`store.load\` calls during each resume, ms: SQLite ${loads('sqlite')}; PostgreSQL ${loads('pg')}.`,
      `Every child's own figures are shown: on a shared 2-core machine they spread by up to 2× between children of one contender when other jobs run (the load average is in RESULTS.md), so compare the medians of one run. The with-listeners throughput comes from other children than the row above it and is no evidence that listeners make the engine faster.`,
      `Chain: ${CHAIN} tasks, each depending on the one before, so every step waits for its parent's commit; median of 3 timed runs in one warm child per store (1 warm-up, a collection, 2 settle runs).`,
    ],
    seconds: m.seconds,
  }
}

if (isMain(import.meta.url)) {
  const mode = process.argv[2]
  if (mode === 'resume-build' || mode === 'resume') {
    const kind = (process.env['BENCH_STORE'] ?? 'sqlite') as StoreKind
    const target = process.env['BENCH_RESUME_TARGET'] ?? ''
    check(target !== '', 'BENCH_RESUME_TARGET names the file or schema')
    const out = mode === 'resume-build' ? await resumeBuild(kind, target) : await resumeMeasure(kind, target)
    process.stdout.write(`${JSON.stringify(out)}\n`)
    process.exit(0)
  } else if (mode !== undefined) {
    await childMain(contenders)
    // Everything was closed by the contender's finish; leave even if a driver keeps a handle open.
    process.exit(0)
  } else console.log(renderReport(await run()))
}
