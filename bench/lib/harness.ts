/**
 * Child-process harness. Every contender of a benchmark runs in its own `node` process, so its peak
 * RSS (`process.resourceUsage().maxRSS`) belongs to it alone and no contender warms the JIT or the
 * heap for another.
 *
 * Parent side: {@link measure} spawns `node --expose-gc --import tsx <bench file> <contender>` from
 * the repo root and reads the one JSON line the child prints on stdout.
 * Child side: {@link childMain} sets the contender up (its imports happen here, so a p-queue child
 * never loads taskweave or LangGraph), runs the warm-up, then the measured repetitions with a GC
 * before each, and prints a {@link ContenderResult}.
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

/** How a contender is measured inside its child. */
export interface ContenderSpec {
  /** Imports and prepares the contender; returns one repetition (or it and a lighter warm-up). Not timed. */
  readonly setup: () => Promise<Repetition | { readonly run: Repetition; readonly warmup: () => Promise<unknown> }>
  /** Measured repetitions; the median is reported. @default 3 */
  readonly reps?: number
  /** Untimed runs before the measured ones (JIT warm-up). @default 1 */
  readonly warmups?: number
  /**
   * Keep warming up (beyond `warmups` runs) until this much time went into warm-up, so a short
   * workload reaches the same steady state as a long one: the optimizing compiler needs many calls
   * of a function before it compiles it. The same rule applies to every contender. @default 0
   */
  readonly warmupMs?: number
}

/**
 * Warm-up time for the throughput contenders: every one of them keeps running untimed until this
 * much time went into it, so each is timed in its steady state (optimized code), whether one run
 * takes 10 ms or 500 ms.
 */
export const WARMUP_MS = 3000

/** How every throughput contender is measured: one timed run per child, after at least 2 warm-up runs and {@link WARMUP_MS}. */
export const STEADY_STATE = { reps: 1, warmups: 2, warmupMs: WARMUP_MS } as const satisfies Partial<ContenderSpec>

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
 * With `env: { BENCH_ONCE: '1' }` the child runs one repetition without warm-up (peak RSS of one run).
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

/**
 * Peak RSS of one run on its own: per contender, `children` fresh children (in turn, like
 * {@link measureRounds}) that each run the workload once without warm-up — warm-ups and repetitions
 * grow each library's heap differently. Returns every child's result; report the median `maxRssKiB`.
 */
export async function measurePeakRss(moduleUrl: string, names: readonly string[], children = 3): Promise<Record<string, ContenderResult[]>> {
  const results: Record<string, ContenderResult[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let i = 0; i < children; i++) for (const name of names) results[name]?.push(await measure(moduleUrl, name, { env: { BENCH_ONCE: '1' } }))
  return results
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
  const warmup = typeof prepared === 'function' ? prepared : prepared.warmup
  collectGarbage()
  const baseRssKiB = Math.round(process.memoryUsage().rss / 1024)
  // BENCH_ONCE=1: a single repetition and no warm-up, for a peak RSS that belongs to one run alone.
  const once1 = process.env['BENCH_ONCE'] === '1'
  if (!once1) {
    const warmupStart = performance.now()
    for (let i = 0; i < (spec.warmups ?? 1) || performance.now() - warmupStart < (spec.warmupMs ?? 0); i++) await warmup()
  }
  const samples: Sample[] = []
  const cpuMs: number[] = []
  for (let i = 0; i < (once1 ? 1 : (spec.reps ?? 3)); i++) {
    collectGarbage()
    const cpuBefore = process.cpuUsage()
    samples.push(await once())
    const cpu = process.cpuUsage(cpuBefore)
    cpuMs.push(round((cpu.user + cpu.system) / 1000, 2))
  }
  const medianMs = median(samples.map((s) => s.ms))
  const mid = samples.find((s) => s.ms === medianMs) ?? (samples[0] as Sample)
  const result: ContenderResult = {
    contender: name,
    samplesMs: samples.map((s) => round(s.ms, 2)),
    medianMs: round(medianMs, 2),
    tasks: mid.tasks,
    tasksPerSec: Math.round((mid.tasks / medianMs) * 1000),
    maxRssKiB: process.resourceUsage().maxRSS,
    baseRssKiB,
    info: mid.info ?? {},
    cpuMs,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

/**
 * Runs a full (major) collection when node was started with `--expose-gc` (children always are),
 * so garbage left by warm-ups does not land in the timed run. It asks for `{ type: 'major' }`
 * explicitly: a bare `gc()` also reduces memory, which in V8 discards the optimized code of every
 * function, so each timed run would start cold and re-optimize (measured on the layered graph:
 * about 80 ms instead of 25 ms for taskweave, 117 ms instead of 62 ms for p-queue).
 */
export function collectGarbage(): void {
  ;(globalThis as { gc?: (options?: { type: 'major' | 'minor' }) => void }).gc?.({ type: 'major' })
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
