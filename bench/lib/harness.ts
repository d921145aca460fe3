/**
 * Child-process harness. Every contender of a benchmark runs in its own `node` process, so its peak
 * RSS (`process.resourceUsage().maxRSS`) belongs to it alone and no contender warms the JIT or the
 * heap for another.
 *
 * Parent side: {@link measure} spawns `node --expose-gc --import tsx <bench file> <contender>` from
 * the repo root and reads the one JSON line the child prints on stdout.
 * Child side: {@link childMain} sets the contender up (its imports happen here, so a p-queue child
 * never loads taskweave or LangGraph) and prints a {@link ContenderResult}. A child runs in one of
 * two modes:
 *
 * - **cold** (`BENCH_COLD=1`): the first run in a fresh process, timed, nothing before it but the
 *   imports: what a CLI user or a freshly started service sees. Its peak RSS is that of one run.
 * - **warm** (the default): a short warm-up (a few untimed runs, {@link WARM}), a collection, two
 *   more untimed runs, then the timed repetitions.
 *
 * The collection is a bare `gc()`. On Node 20.20.2 `gc({ type: 'major' })` frees nothing (a heap
 * with 80 MiB of garbage still holds it afterwards), while a bare `gc()` frees it but also shrinks
 * the heap, and the run right after it is several times slower for every contender (layered:
 * taskweave 30 → 150–220 ms, p-queue 40–130 → 360–440 ms). So the collection clears what the
 * warm-up left, and the untimed runs after it let the heap grow back before the clock starts: the
 * timed run carries the garbage of about one run, the same for every contender.
 * @module
 */
import { spawn } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from './format.js'

/** What one measured repetition reports. */
export interface Sample {
  /** Wall time of the repetition, in ms. */
  readonly ms: number
  /** Tasks the repetition completed (for tasks/s). */
  readonly tasks: number
  /** Anything else worth reporting (graph size, checksums…). */
  readonly info?: Readonly<Record<string, unknown>>
}

/** A prepared contender with a lighter warm-up and/or a last step after the timed runs. */
export interface Prepared {
  readonly run: Repetition
  /** An untimed run (the warm-up and settle runs). @default `run` */
  readonly warmup?: () => Promise<unknown>
  /**
   * Called once after the timed runs, before the result is printed: closes what the contender
   * opened (a store, a pool, a temp dir, a database) and may return figures that only exist once it
   * is closed (a file's size), which are added to the result's `info`.
   */
  readonly finish?: () => Promise<Readonly<Record<string, unknown>> | undefined>
}

/** How a contender is measured inside its child. */
export interface ContenderSpec {
  /** Imports and prepares the contender; returns one repetition (or a {@link Prepared}). Not timed. */
  readonly setup: () => Promise<Repetition | Prepared>
  /** Measured repetitions; the median is reported. @default 3 */
  readonly reps?: number
  /** Untimed runs before the measured ones (JIT warm-up). @default 1 */
  readonly warmups?: number
  /**
   * Keep warming up (beyond `warmups` runs) until this much time went into warm-up. @default 0,
   * or `BENCH_WARMUP_MS` from the environment (a long warm-up, to compare with the short one).
   */
  readonly warmupMs?: number
}

/**
 * Untimed runs before a warm measurement. Short on purpose: a service that has handled a few
 * requests is warm in this sense, and the targets must hold there, not only after seconds of
 * repeated runs (set `BENCH_WARMUP_MS=3000` to add a long warm-up and compare).
 */
export const WARMUP_RUNS = 5

/** Untimed runs between the collection after the warm-up and the timed run: the heap grows back to its working size. */
export const SETTLE_RUNS = 2

/** How every throughput contender is measured warm: one timed run per child, after {@link WARMUP_RUNS} untimed runs. */
export const WARM = { reps: 1, warmups: WARMUP_RUNS } as const satisfies Partial<ContenderSpec>

/** One measured repetition. */
export type Repetition = () => Promise<Sample>

/** What a child prints: one JSON line. */
export interface ContenderResult {
  readonly contender: string
  readonly samplesMs: readonly number[]
  readonly medianMs: number
  /** Tasks per repetition (from the median sample). */
  readonly tasks: number
  /** `tasks ÷ medianMs`, per second. */
  readonly tasksPerSec: number
  /** Peak RSS of the child over set-up, warm-up and every repetition, in KiB. */
  readonly maxRssKiB: number
  /** RSS after set-up (imports done), before any work, in KiB: the floor the peak includes. */
  readonly baseRssKiB: number
  /** CPU time (user + system, all threads of the child) of each timed run, in ms; less sensitive than wall time to other load on the machine. */
  readonly cpuMs: readonly number[]
  readonly info: Readonly<Record<string, unknown>>
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Most a child may take before it is killed and the contender reported as failed. */
const CHILD_TIMEOUT_MS = 6 * 60_000

/** True when `moduleUrl` is the script node was started with (the bench file was run directly). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1]
  return script !== undefined && pathToFileURL(script).href === moduleUrl
}

/** Options of {@link measure}. */
export interface MeasureOptions {
  /** Extra environment for the child. */
  readonly env?: Readonly<Record<string, string>>
  /** Kill the child after this long and reject. @default 6 minutes */
  readonly timeoutMs?: number
}

/**
 * Runs one contender of the bench file at `moduleUrl` in a fresh child process and returns its result.
 * With `env: { BENCH_COLD: '1' }` the child times its first run, without warm-up (see {@link measureColdWarm}).
 */
export function measure(moduleUrl: string, contender: string, options: MeasureOptions = {}): Promise<ContenderResult> {
  const timeoutMs = options.timeoutMs ?? CHILD_TIMEOUT_MS
  const file = fileURLToPath(moduleUrl)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', file, contender], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'))
      if (code !== 0 || line === undefined) {
        const why = signal !== null ? `killed by ${signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs / 1000} s?)` : ''}` : `exit code ${String(code)}`
        reject(new Error(`${contender} (${file}) failed: ${why}\n${tail(stderr, 2000)}`))
        return
      }
      try {
        resolve(JSON.parse(line) as ContenderResult)
      } catch (err) {
        reject(new Error(`${contender}: unreadable result line ${JSON.stringify(line.slice(0, 200))}`, { cause: err }))
      }
    })
  })
}

/** Options of {@link measureRounds}. */
export interface RoundOptions extends MeasureOptions {
  /** Children per contender, started in turn (a, b, c, a, b, c…). @default 5 */
  readonly rounds?: number
}

/**
 * Measures several contenders in rounds: one child per contender per round, in turn, so a burst of
 * load from elsewhere on the machine lands on every contender rather than on one. The samples of
 * all of a contender's children are pooled; the median is over the pool and the peak RSS is the
 * highest of its children.
 */
export async function measureRounds(moduleUrl: string, names: readonly string[], options: RoundOptions = {}): Promise<Record<string, ContenderResult>> {
  const rounds = options.rounds ?? 5
  const runs = new Map<string, ContenderResult[]>(names.map((n) => [n, []]))
  for (let r = 0; r < rounds; r++) for (const name of names) runs.get(name)?.push(await measure(moduleUrl, name, options))
  const merged: Record<string, ContenderResult> = {}
  for (const [name, results] of runs) merged[name] = pool(results)
  return merged
}

/** A contender measured both ways: cold (first run in a fresh process) and warm. */
export interface ColdWarm {
  /** Pooled over the cold children: each timed its first run; `maxRssKiB` is the highest peak of one run. */
  readonly cold: ContenderResult
  /** Each cold child's own result (for the median peak RSS of one run). */
  readonly coldChildren: readonly ContenderResult[]
  /** Pooled over the warm children, as {@link measureRounds}. */
  readonly warm: ContenderResult
  /** Each warm child's own result (for figures the pool does not merge, such as per-run lists in `info`). */
  readonly warmChildren: readonly ContenderResult[]
}

/**
 * Measures every contender cold and warm, `rounds` children of each kind per contender, all taking
 * turns (a warm, b warm, a cold, b cold, a warm…), so load from elsewhere lands on every figure.
 */
export async function measureColdWarm(moduleUrl: string, names: readonly string[], options: RoundOptions = {}): Promise<Record<string, ColdWarm>> {
  const rounds = options.rounds ?? 5
  const warm = new Map<string, ContenderResult[]>(names.map((n) => [n, []]))
  const cold = new Map<string, ContenderResult[]>(names.map((n) => [n, []]))
  const coldEnv = { ...options.env, BENCH_COLD: '1' }
  for (let r = 0; r < rounds; r++) {
    for (const name of names) warm.get(name)?.push(await measure(moduleUrl, name, options))
    for (const name of names) cold.get(name)?.push(await measure(moduleUrl, name, { ...options, env: coldEnv }))
  }
  const out: Record<string, ColdWarm> = {}
  for (const name of names) {
    const coldChildren = cold.get(name) ?? []
    const warmChildren = warm.get(name) ?? []
    out[name] = { cold: pool(coldChildren), coldChildren, warm: pool(warmChildren), warmChildren }
  }
  return out
}

function pool(results: readonly ContenderResult[]): ContenderResult {
  const first = results[0]
  if (first === undefined) throw new Error('no results to pool')
  const samplesMs = results.flatMap((r) => r.samplesMs)
  const medianMs = median(samplesMs)
  return {
    contender: first.contender,
    samplesMs,
    medianMs: round(medianMs, 2),
    tasks: first.tasks,
    tasksPerSec: Math.round((first.tasks / medianMs) * 1000),
    maxRssKiB: Math.max(...results.map((r) => r.maxRssKiB)),
    baseRssKiB: Math.round(median(results.map((r) => r.baseRssKiB))),
    info: first.info,
    cpuMs: results.flatMap((r) => r.cpuMs),
  }
}

/** Child side: measures `contenders[argv[2]]` and prints its result as one JSON line. */
export async function childMain(contenders: Readonly<Record<string, ContenderSpec>>): Promise<void> {
  const name = process.argv[2] ?? ''
  const spec = contenders[name]
  if (spec === undefined) throw new Error(`unknown contender "${name}"; expected one of ${Object.keys(contenders).join(', ')}`)
  const prepared = await spec.setup()
  const once = typeof prepared === 'function' ? prepared : prepared.run
  const warmup = typeof prepared === 'function' ? prepared : (prepared.warmup ?? prepared.run)
  // No collection here: a cold run starts as a freshly started process would, imports' garbage and all.
  const baseRssKiB = Math.round(process.memoryUsage().rss / 1024)
  const isCold = process.env['BENCH_COLD'] === '1'
  if (!isCold) {
    const warmupMs = spec.warmupMs ?? Number(process.env['BENCH_WARMUP_MS'] ?? 0)
    const warmupStart = performance.now()
    for (let i = 0; i < (spec.warmups ?? 1) || performance.now() - warmupStart < warmupMs; i++) await warmup()
    // Clears the warm-up's garbage; the heap then shrinks, so untimed runs grow it back first.
    collectGarbage()
    for (let i = 0; i < SETTLE_RUNS; i++) await warmup()
  }
  const samples: Sample[] = []
  const cpuMs: number[] = []
  for (let i = 0; i < (isCold ? 1 : (spec.reps ?? 3)); i++) {
    const cpuBefore = process.cpuUsage()
    samples.push(await once())
    const cpu = process.cpuUsage(cpuBefore)
    cpuMs.push(round((cpu.user + cpu.system) / 1000, 2))
  }
  const medianMs = median(samples.map((s) => s.ms))
  const mid = samples.find((s) => s.ms === medianMs) ?? (samples[0] as Sample)
  const finished = typeof prepared === 'function' ? undefined : await prepared.finish?.()
  const result: ContenderResult = {
    contender: name,
    samplesMs: samples.map((s) => round(s.ms, 2)),
    medianMs: round(medianMs, 2),
    tasks: mid.tasks,
    tasksPerSec: Math.round((mid.tasks / medianMs) * 1000),
    maxRssKiB: process.resourceUsage().maxRSS,
    baseRssKiB,
    info: { ...mid.info, ...finished },
    cpuMs,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

/**
 * Collects all garbage when node was started with `--expose-gc` (children always are). A bare
 * `gc()`: on Node 20.20.2 `gc({ type: 'major' })` frees nothing (see the module header).
 */
export function collectGarbage(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

/** Throws when a benchmark's own check fails, so a wrong result is never reported as a timing. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`benchmark check failed: ${message}`)
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(-max)}`
}
