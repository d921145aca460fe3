/**
 * Benchmark `llm`: 2,000 chat calls with prompts of varied length against the fake
 * OpenAI-compatible provider (`startFakeLlm`, a real local HTTP server) at RPM 600, TPM 200,000 and
 * latency 200–2,000 ms. How close each contender gets to the provider's binding quota, and how many
 * 429s it draws: taskweave with the limits configured, taskweave with the limits unknown (adaptive,
 * budgets learned from the `x-ratelimit-*` headers), the same without headers (pure AIMD, for
 * information), p-queue with `intervalCap` and a retry on 429, Bottleneck with a reservoir and a
 * retry on 429.
 *
 * Time is compressed by `--scale N` (default 10; `--scale 1` is the literal setup, about 4 minutes
 * a contender): the provider's window is 60,000 / N ms, latencies 200 / N to 2,000 / N ms, and the
 * configured budgets the same per window. What is compared are ratios, which the scale leaves alone.
 *
 * The provider runs in the parent process; each contender runs in a child of its own (the harness's
 * cold mode: one timed run in a fresh process) against a fresh provider.
 * Run alone with `node --expose-gc --import tsx bench/llm.ts [--scale N]`.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { check, childMain, isMain, measure } from './lib/harness.js'
import type { ContenderResult, ContenderSpec, Prepared, Sample } from './lib/harness.js'
import { int, mib, ms, pct, times } from './lib/format.js'
import { mulberry32 } from './lib/prng.js'
import { renderReport } from './lib/report.js'
import type { BenchReport, TargetCheck } from './lib/report.js'
// Type-only: erased, so the peers' children never load taskweave.
import type { FakeChatRequest, FakeLlm, FakeLlmStats, FakeReplyObject } from '../dist/llm/index.js'
import type { WorkflowSpec } from '../dist/index.js'

const CALLS = 2_000
const RPM = 600
const TPM = 200_000
/** The provider's window at scale 1: a minute. */
const WINDOW_MS = 60_000
const LATENCY_MIN_MS = 200
const LATENCY_MAX_MS = 2_000
const PROMPT_WORDS_MIN = 20
const PROMPT_WORDS_MAX = 1_500
const MAX_TOKENS_MIN = 50
const MAX_TOKENS_MAX = 400
const SEED = 20_240_601
const MODEL = 'gpt-4o-mini'
const DEFAULT_SCALE = 10

/** The contenders, in the order they run. */
const VARIANTS = ['taskweave-configured', 'taskweave-unknown', 'taskweave-no-headers', 'p-queue', 'bottleneck'] as const
type Variant = (typeof VARIANTS)[number]

const LABELS: Readonly<Record<Variant, string>> = {
  'taskweave-configured': 'taskweave, limits configured',
  'taskweave-unknown': 'taskweave, limits unknown (adaptive + headers)',
  'taskweave-no-headers': 'taskweave, limits unknown, no headers (pure AIMD)',
  'p-queue': 'p-queue (intervalCap 600/window) + retry on 429',
  bottleneck: 'Bottleneck (reservoir 600/window) + retry on 429',
}

// ---------------------------------------------------------------------------------------------
// The workload: the same 2,000 calls for every contender, from one seed.
// ---------------------------------------------------------------------------------------------

/** Ordinary English words; a prompt is a seeded sequence of them. */
const VOCABULARY = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their ' +
  'been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any ' +
  'my now such like our over man me even most made after also did many before must through back years where much your way well down should because ' +
  'each just those people how too little state good very make world still own see men work long get here between both life being under never day same ' +
  'another know while last might us great old year off come since against go came right used take three summarise the following report carefully and ' +
  'list every risk you find, citing the section; translate this paragraph into French; classify the ticket below as bug, feature or question. ' +
  'function returns value error request response database query latency throughput budget deadline customer invoice contract'
).split(/\s+/)

/** One call of the workload. */
interface Call {
  readonly prompt: string
  readonly maxTokens: number
  /** Tokens the (scripted) answer has: 1 to maxTokens, uniform, like the fake's default answer. */
  readonly completionTokens: number
  /** Latency at scale 1, uniform in [200, 2000] ms. */
  readonly latencyMs: number
}

/**
 * The 2,000 calls. Prompt lengths are log-uniform between 20 and 1,500 words (most agent calls are
 * short, a few carry a long context); `maxTokens` is uniform in 50–400. Each prompt starts with
 * `[call i]`, which is how the provider's script finds the call's answer length and latency.
 */
function workload(): Call[] {
  const random = mulberry32(SEED)
  const calls: Call[] = []
  const logMin = Math.log(PROMPT_WORDS_MIN)
  const logMax = Math.log(PROMPT_WORDS_MAX + 1)
  for (let i = 0; i < CALLS; i++) {
    const words = Math.floor(Math.exp(logMin + random() * (logMax - logMin)))
    const parts: string[] = [`[call ${i}]`]
    for (let w = 0; w < words; w++) parts.push(VOCABULARY[Math.floor(random() * VOCABULARY.length)] as string)
    const maxTokens = MAX_TOKENS_MIN + Math.floor(random() * (MAX_TOKENS_MAX - MAX_TOKENS_MIN + 1))
    const completionTokens = 1 + Math.floor(random() * maxTokens)
    const latencyMs = LATENCY_MIN_MS + random() * (LATENCY_MAX_MS - LATENCY_MIN_MS)
    calls.push({ prompt: parts.join(' '), maxTokens, completionTokens, latencyMs })
  }
  return calls
}

const CALL_ID = /^\[call (\d+)\]/

/** The call a request is for, from its prompt's `[call i]`. */
function callIndexOf(request: FakeChatRequest): number {
  const content = request.messages[request.messages.length - 1]?.content
  const match = typeof content === 'string' ? CALL_ID.exec(content) : null
  if (match === null) throw new Error('llm bench: a request without its [call i] tag')
  return Number(match[1])
}

/** Words that are one o200k token each (with their leading space): an answer of n of them is n tokens. */
const ANSWER_WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'a', 'lazy', 'dog', 'and', 'then', 'runs', 'back', 'to', 'its', 'home', 'in', 'time', 'for', 'dinner']

function answerOf(tokens: number): string {
  const words: string[] = []
  for (let i = 0; i < tokens; i++) words.push(ANSWER_WORDS[i % ANSWER_WORDS.length] as string)
  return words.join(' ')
}

// ---------------------------------------------------------------------------------------------
// Scale, environment between parent and children.
// ---------------------------------------------------------------------------------------------

/** The value of command-line option `name` (`--scale 5`), if given. */
function optionOf(name: string): string | undefined {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}

/** The time scale: `--scale N` on the command line, else `BENCH_LLM_SCALE`, else 10. */
function scaleOf(): number {
  const text = optionOf('--scale') ?? process.env['BENCH_LLM_SCALE']
  const scale = text === undefined || text === '' ? DEFAULT_SCALE : Number(text)
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`llm bench: --scale must be a number > 0; got ${String(text)}`)
  return scale
}

interface ChildEnv {
  readonly url: string
  readonly windowMs: number
}

function childEnv(): ChildEnv {
  const url = process.env['BENCH_LLM_URL']
  const windowMs = Number(process.env['BENCH_LLM_WINDOW_MS'])
  if (url === undefined || !(windowMs > 0)) throw new Error('llm bench: a child needs BENCH_LLM_URL and BENCH_LLM_WINDOW_MS (run the file without a contender name)')
  return { url, windowMs }
}

// ---------------------------------------------------------------------------------------------
// Contenders (child side).
// ---------------------------------------------------------------------------------------------

/** taskweave: one engine, one workflow of 2,000 independent `llm.chat` tasks. */
function taskweaveContender(configured: boolean): ContenderSpec {
  return {
    reps: 1,
    warmups: 0,
    async setup(): Promise<Prepared> {
      const { url, windowMs } = childEnv()
      const [{ createEngine }, { createChatTool, preloadTokenizer }] = await Promise.all([import('../dist/lib/index.js'), import('../dist/lib/llm.js')])
      // Loaded before the clock starts, as a running service has them: the tokenizer (exact
      // estimates from the first call) and the openai client module the tool imports on first use.
      await Promise.all([preloadTokenizer(), import('openai')])
      const calls = workload()
      const tool = createChatTool({ baseURL: url, apiKey: 'fake', model: MODEL })
      // The tool's key: `<provider>:<model>`, the provider being the base URL's host:port.
      const key = `${new URL(url).host}:${MODEL}`
      const rates = configured ? { [key]: { requests: { limit: RPM, per: windowMs }, tokens: { limit: TPM, per: windowMs } } } : undefined
      const engine = createEngine({ builtins: false, tools: [tool], concurrency: 4096, ...(rates === undefined ? {} : { rates }) })
      return {
        async run(): Promise<Sample> {
          const t0 = performance.now()
          const spec: WorkflowSpec = {
            id: 'llm-bench',
            tasks: calls.map((c, i) => ({ id: `c${i}`, tool: 'llm.chat', input: { prompt: c.prompt, maxTokens: c.maxTokens, stream: false } })),
          }
          const result = await engine.run(spec)
          const elapsed = performance.now() - t0
          let bounces = 0
          const failures: string[] = []
          for (const [id, task] of Object.entries(result.tasks)) {
            const report = task as { status: string; throttled?: number; error?: { message?: string } }
            bounces += report.throttled ?? 0
            if (report.status !== 'succeeded' && failures.length < 3) failures.push(`${id}: ${report.status} ${report.error?.message ?? ''}`)
          }
          const keyStats = engine.stats().rates.find((r) => r.key === key)
          check(result.counts.succeeded === CALLS, `taskweave (${configured ? 'configured' : 'unknown'}): ${result.counts.succeeded} of ${CALLS} succeeded; ${failures.join('; ')}`)
          return {
            ms: elapsed,
            tasks: CALLS,
            info: {
              bounces,
              key,
              keyThrottled: keyStats?.throttled,
              keyAdmitted: keyStats?.admitted,
              keyLearned: keyStats?.learned,
              keyConcurrencyAtEnd: keyStats?.concurrency,
              usage: result.usage,
            },
          }
        },
        async finish() {
          await engine.close()
          return undefined
        },
      }
    },
  }
}

/** What one direct call through the openai client ended with. */
type Outcome = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number }

/** A direct `chat.completions.create` (no client retries); a 429 comes back as the wait it asks for. */
async function directCaller(url: string): Promise<(call: Call) => Promise<Outcome>> {
  const { default: OpenAI, APIError } = await import('openai')
  const client = new OpenAI({ baseURL: url, apiKey: 'fake', maxRetries: 0 })
  return async (call) => {
    try {
      await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: call.prompt }], max_tokens: call.maxTokens })
      return { ok: true }
    } catch (err) {
      if (err instanceof APIError && err.status === 429) return { ok: false, retryAfterMs: retryAfterMs(err.headers) }
      throw err
    }
  }
}

/** `retry-after-ms`, else `retry-after` seconds, else one second: what a user's retry reads. */
function retryAfterMs(headers: { get(name: string): string | null } | undefined): number {
  const msText = headers?.get('retry-after-ms')
  if (msText != null && Number.isFinite(Number(msText))) return Number(msText)
  const sText = headers?.get('retry-after')
  if (sText != null && Number.isFinite(Number(sText))) return Number(sText) * 1000
  return 1000
}

const sleep = (msToWait: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msToWait))

/** p-queue at "600 per minute" (`intervalCap` per `interval`); a 429 waits its retry-after and goes back into the queue. */
const pQueueContender: ContenderSpec = {
  reps: 1,
  warmups: 0,
  async setup() {
    const { url, windowMs } = childEnv()
    const [{ default: PQueue }, ask] = await Promise.all([import('p-queue'), directCaller(url)])
    const calls = workload()
    return async (): Promise<Sample> => {
      const t0 = performance.now()
      const queue = new PQueue({ concurrency: Infinity, intervalCap: RPM, interval: windowMs })
      let refused = 0
      const one = async (call: Call): Promise<void> => {
        for (;;) {
          const outcome = (await queue.add(() => ask(call))) as Outcome
          if (outcome.ok) return
          refused++
          await sleep(outcome.retryAfterMs)
        }
      }
      await Promise.all(calls.map(one))
      const elapsed = performance.now() - t0
      queue.clear()
      return { ms: elapsed, tasks: CALLS, info: { clientSaw429: refused } }
    }
  },
}

/** Bottleneck with a reservoir of 600 refilled every window; a 429 is retried after its retry-after through the `failed` event. */
const bottleneckContender: ContenderSpec = {
  reps: 1,
  warmups: 0,
  async setup() {
    const { url, windowMs } = childEnv()
    const [{ default: Bottleneck }, ask] = await Promise.all([import('bottleneck'), directCaller(url)])
    const calls = workload()
    return async (): Promise<Sample> => {
      const t0 = performance.now()
      const limiter = new Bottleneck({ reservoir: RPM, reservoirRefreshAmount: RPM, reservoirRefreshInterval: windowMs, maxConcurrent: null })
      let refused = 0
      limiter.on('failed', (err: unknown) => {
        if (!(err instanceof RateLimited)) return undefined
        refused++
        return err.retryAfterMs
      })
      const job = async (call: Call): Promise<void> => {
        const outcome = await ask(call)
        if (!outcome.ok) throw new RateLimited(outcome.retryAfterMs)
      }
      await Promise.all(calls.map((call) => limiter.schedule(job, call)))
      const elapsed = performance.now() - t0
      await limiter.stop({ dropWaitingJobs: true })
      await limiter.disconnect()
      return { ms: elapsed, tasks: CALLS, info: { clientSaw429: refused } }
    }
  },
}

class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`429, retry after ${retryAfterMs} ms`)
  }
}

/** Contenders, each measured in its own child process. */
export const contenders: Readonly<Record<Variant, ContenderSpec>> = {
  'taskweave-configured': taskweaveContender(true),
  'taskweave-unknown': taskweaveContender(false),
  'taskweave-no-headers': taskweaveContender(false),
  'p-queue': pQueueContender,
  bottleneck: bottleneckContender,
}

// ---------------------------------------------------------------------------------------------
// Parent side: the provider, the ideal, the report.
// ---------------------------------------------------------------------------------------------

/** What the workload costs at the provider and the quota-bound ideal makespan. */
interface Ideal {
  readonly promptTokens: number
  readonly completionTokens: number
  /** Time the request bucket needs for every call beyond its first window's capacity, in ms. */
  readonly requestsMs: number
  /** Time the token bucket needs for every token beyond its capacity, in ms. */
  readonly tokensMs: number
  readonly binding: 'requests' | 'tokens'
  readonly meanLatencyMs: number
  /** max(requestsMs, tokensMs) + mean latency. */
  readonly makespanMs: number
  /** Largest single reservation (prompt + maxTokens). */
  readonly largestReservation: number
}

/** The time a continuously refilled bucket (full at start, `capacity` per `windowMs`) needs to serve `total`. */
function bucketTimeMs(total: number, capacity: number, windowMs: number): number {
  return Math.max(0, ((total - capacity) * windowMs) / capacity)
}

function idealOf(calls: readonly Call[], promptTokens: readonly number[], scale: number): Ideal {
  const windowMs = WINDOW_MS / scale
  let prompt = 0
  let completion = 0
  let latency = 0
  let largest = 0
  calls.forEach((c, i) => {
    const p = promptTokens[i] as number
    prompt += p
    completion += c.completionTokens
    latency += c.latencyMs / scale
    largest = Math.max(largest, p + c.maxTokens)
  })
  const requestsMs = bucketTimeMs(CALLS, RPM, windowMs)
  const tokensMs = bucketTimeMs(prompt + completion, TPM, windowMs)
  const meanLatencyMs = latency / calls.length
  return {
    promptTokens: prompt,
    completionTokens: completion,
    requestsMs,
    tokensMs,
    binding: tokensMs > requestsMs ? 'tokens' : 'requests',
    meanLatencyMs,
    makespanMs: Math.max(requestsMs, tokensMs) + meanLatencyMs,
    largestReservation: largest,
  }
}

/** Prompt tokens of each call as the provider counts them (o200k chat format, as `encodeChat` for gpt-4o). */
async function promptTokensOf(calls: readonly Call[]): Promise<number[]> {
  const { encodeChat } = await import('gpt-tokenizer/encoding/o200k_base')
  const plain = { disallowedSpecial: new Set<string>() }
  return calls.map((c) => encodeChat([{ role: 'user', content: c.prompt }], 'gpt-4o', plain).length)
}

/** One contender's figures. */
interface Measured {
  readonly variant: Variant
  readonly child: ContenderResult
  readonly stats: FakeLlmStats
  /** First arrival to last answer at the provider, in ms. */
  readonly providerSpanMs: number
  /** Set when the contender had not finished by its deadline: the deadline, in ms. */
  readonly unfinishedAtMs?: number
}

/** A peer still running at this many times the ideal makespan is stopped and reported unfinished. */
const PEER_DEADLINE_FACTOR = 4

async function startProvider(calls: readonly Call[], scale: number, headers: boolean): Promise<FakeLlm> {
  const { startFakeLlm } = await import('../dist/lib/llm.js')
  return startFakeLlm({
    rpm: RPM,
    tpm: TPM,
    windowMs: WINDOW_MS / scale,
    headers,
    // Refused requests count against the request quota, as OpenAI documents (the fake's default);
    // `--free-refusals` makes them free, the best case of a client that resends on 429.
    refusalsCount: !process.argv.includes('--free-refusals'),
    // Each call's latency and answer length are its own, whoever sends it and whenever.
    latencyMs: (request) => (calls[callIndexOf(request)] as Call).latencyMs / scale,
    script: (request): FakeReplyObject => {
      const tokens = (calls[callIndexOf(request)] as Call).completionTokens
      return { content: answerOf(tokens), usage: { completionTokens: tokens } }
    },
    random: mulberry32(SEED + 1),
    recordRequests: false,
    timeline: true,
  })
}

async function measureVariant(variant: Variant, calls: readonly Call[], scale: number, ideal: Ideal): Promise<Measured> {
  const fake = await startProvider(calls, scale, variant !== 'taskweave-no-headers' && !process.argv.includes('--no-headers'))
  try {
    // A peer that resends on every 429 can dig the request quota into debt for good (refusals
    // count): it is stopped at a deadline and reported with what it had done by then.
    const peer = !variant.startsWith('taskweave')
    const deadlineMs = PEER_DEADLINE_FACTOR * ideal.makespanMs
    const started = performance.now()
    let child: ContenderResult
    try {
      child = await measure(import.meta.url, variant, {
        env: { BENCH_COLD: '1', BENCH_LLM_URL: fake.url, BENCH_LLM_WINDOW_MS: String(WINDOW_MS / scale), BENCH_LLM_SCALE: String(scale) },
        timeoutMs: peer ? deadlineMs + 5000 : Math.max(6 * 60_000, 8 * ideal.makespanMs),
      })
    } catch (err) {
      if (!peer || !String(err).includes('SIGKILL')) throw err
      const elapsed = performance.now() - started
      child = { contender: variant, samplesMs: [elapsed], medianMs: elapsed, tasks: 0, tasksPerSec: 0, maxRssKiB: 0, baseRssKiB: 0, cpuMs: [], info: {} }
      return { variant, child, stats: fake.stats(), providerSpanMs: elapsed, unfinishedAtMs: elapsed }
    }
    const stats = fake.stats()
    const timeline = stats.timeline ?? []
    let first = Infinity
    let last = 0
    for (const t of timeline) {
      first = Math.min(first, t.startMs)
      last = Math.max(last, t.endMs)
    }
    const dump = process.env['BENCH_LLM_DUMP']
    if (dump !== undefined && dump !== '') {
      mkdirSync(dump, { recursive: true })
      writeFileSync(join(dump, `${variant}-scale${scale}.json`), JSON.stringify({ variant, scale, child, stats }))
    }
    return { variant, child, stats, providerSpanMs: last - first }
  } finally {
    await fake.close()
  }
}

/** What a reader needs to know to judge the figures at `scale`. */
function readingNotes(scale: number): string[] {
  const notes = [
    'With limits unknown the engine learns each budget from the first answer that carries headers: the limit, and the window as limit × reset ÷ (limit − remaining); when that answer shows a full bucket it assumes a 60 s window, and it does not revise the window later.',
    'The fake charges nothing for a 429 (a refused request takes nothing from either bucket), while OpenAI documents that unsuccessful requests count toward the per-minute limit: a peer that retries at exactly `retry-after-ms` keeps the bucket drained here for free, at the price of the 429s in its row.',
    'One run per contender on a shared machine: expect a few % of noise between runs.',
  ]
  if (scale !== 1) {
    notes.unshift(
      `At scale ${scale} every fixed cost weighs ${scale} times more in the ratios than in the literal setup: building and checking the workflow, estimating the tokens of the calls the full buckets admit at once (a tokenizer pass each; a call that queues is estimated when it reaches the head of the line), the first connection. The gap between the makespan and the provider's span shows them. A window the engine assumes rather than measures (60 s, see below) is ${scale} times too long for this provider; \`--scale 1\` runs the literal setup.`,
    )
  }
  return notes
}

/** Runs every contender against a fresh provider and compares them. */
export async function run(): Promise<BenchReport> {
  const started = performance.now()
  const scale = scaleOf()
  const calls = workload()
  const promptTokens = await promptTokensOf(calls)
  const ideal = idealOf(calls, promptTokens, scale)
  const expectedTokens = ideal.promptTokens + ideal.completionTokens

  const measured = new Map<Variant, Measured>()
  const only = optionOf('--only')?.split(',')
  for (const variant of VARIANTS) {
    if (only !== undefined && !only.includes(variant)) continue
    console.error(`  llm: ${variant} …`)
    const m = await measureVariant(variant, calls, scale, ideal)
    const consumed = m.stats.inputTokens + m.stats.outputTokens
    if (m.unfinishedAtMs === undefined) {
      check(m.stats.completed === CALLS, `${variant}: the provider completed ${m.stats.completed} of ${CALLS} calls`)
      check(consumed === expectedTokens, `${variant}: the provider counted ${consumed} tokens, the workload ${expectedTokens}`)
    }
    measured.set(variant, m)
  }

  // An unfinished contender is credited with the share of the work it finished by its deadline.
  const throughputPct = (m: Measured): number => (ideal.makespanMs / m.child.medianMs) * 100 * (m.unfinishedAtMs === undefined ? 1 : m.stats.completed / CALLS)
  const rateLimitedPct = (m: Measured): number => (m.stats.rateLimited / CALLS) * 100
  const rows = [...measured.values()].map((m) => [
    LABELS[m.variant],
    m.unfinishedAtMs === undefined ? ms(m.child.medianMs) : `unfinished at ${ms(m.unfinishedAtMs)}: ${int(m.stats.completed)} of ${int(CALLS)} answered`,
    pct(throughputPct(m)),
    times(m.child.medianMs / ideal.makespanMs),
    int(m.stats.rateLimited),
    pct(rateLimitedPct(m)),
    ms(m.providerSpanMs),
    int(m.stats.maxConcurrent),
    ms(m.child.cpuMs[0] ?? 0),
    mib(m.child.maxRssKiB),
  ])

  const tw = measured.get('taskweave-configured')
  const twUnknown = measured.get('taskweave-unknown')
  const peers = (['p-queue', 'bottleneck'] as const).flatMap((v) => measured.get(v) ?? [])
  const bestPeer = Math.max(...peers.map(throughputPct))
  const peerText = peers.map((p) => `${p.variant} ${pct(throughputPct(p))}`).join(', ')
  const targets: TargetCheck[] = []
  if (tw !== undefined) {
    targets.push(
      { what: 'taskweave, limits configured: throughput, % of the binding quota', target: '≥ 97%', measured: pct(throughputPct(tw)), pass: throughputPct(tw) >= 97 },
      { what: 'taskweave, limits configured: 429s', target: '0', measured: int(tw.stats.rateLimited), pass: tw.stats.rateLimited === 0 },
    )
  }
  if (twUnknown !== undefined) {
    targets.push(
      { what: 'taskweave, limits unknown: throughput, % of the binding quota', target: '≥ 90%', measured: pct(throughputPct(twUnknown)), pass: throughputPct(twUnknown) >= 90 },
      { what: 'taskweave, limits unknown: 429s, % of the 2,000 calls', target: '≤ 1%', measured: `${pct(rateLimitedPct(twUnknown))} (${int(twUnknown.stats.rateLimited)})`, pass: rateLimitedPct(twUnknown) <= 1 },
    )
  }
  if (peers.length === 2) {
    for (const [m, what] of [
      [tw, 'limits configured'],
      [twUnknown, 'limits unknown'],
    ] as const) {
      if (m !== undefined) targets.push({ what: `taskweave, ${what}: throughput ahead of p-queue and Bottleneck`, target: '> both', measured: `${pct(throughputPct(m))} vs ${peerText}`, pass: throughputPct(m) > bestPeer })
    }
  }

  const windowMs = WINDOW_MS / scale
  const details = [...measured.values()].map((m) => {
    const i = m.child.info
    if (m.unfinishedAtMs !== undefined) return `${LABELS[m.variant]}: stopped at ${ms(m.unfinishedAtMs)} (${PEER_DEADLINE_FACTOR}× the ideal makespan) with ${int(m.stats.completed)} of ${int(CALLS)} calls answered and ${int(m.stats.rateLimited)} refused; its throughput counts the share it finished.`
    if (m.variant.startsWith('taskweave')) return `${LABELS[m.variant]}: ${int(Number(i['bounces'] ?? 0))} bounces (tasks sent back to ready by a 429); budgets learned from headers: ${String(i['keyLearned'])}; adaptive concurrency at the end: ${String(i['keyConcurrencyAtEnd'])}.`
    return `${LABELS[m.variant]}: ${int(Number(i['clientSaw429'] ?? 0))} 429s seen by the client.`
  })
  return {
    name: 'llm',
    title: `llm — 2,000 chat calls against a rate-limited provider (RPM ${int(RPM)}, TPM ${int(TPM)}), time ÷ ${scale}`,
    workload:
      `${int(CALLS)} chat calls (${int(ideal.promptTokens)} prompt + ${int(ideal.completionTokens)} completion tokens in all; prompts log-uniform 20–1,500 words, \`maxTokens\` 50–400) ` +
      `against \`startFakeLlm\` at RPM ${int(RPM)}, TPM ${int(TPM)} per ${ms(windowMs)} window, latency ${ms(LATENCY_MIN_MS / scale)}–${ms(LATENCY_MAX_MS / scale)} ` +
      `(scale ${scale}: every time ÷ ${scale}; \`--scale 1\` is the literal 1-minute window). Binding quota: ${ideal.binding} ` +
      `(requests alone: ${ms(ideal.requestsMs)}, tokens alone: ${ms(ideal.tokensMs)}); ideal makespan ${ms(ideal.makespanMs)}. ` +
      'One run per contender, each in a fresh child process against a fresh provider in the parent.',
    headers: ['contender', 'makespan', 'throughput, % of binding quota', 'makespan ÷ ideal', '429s', '429s, % of calls', 'provider: first arrival → last answer', 'provider: most in flight', 'client CPU', 'client peak RSS'],
    rows,
    targets,
    notes: [
      `Throughput % of the binding quota = ideal makespan ÷ measured makespan × 100. Ideal makespan = max over the two budgets of max(0, (total − C) ÷ (C ÷ W)) + the mean latency, where C is the budget per window W (${ms(windowMs)}), total is ${int(CALLS)} for requests and the tokens the provider actually charged (prompt + completion, ${int(expectedTokens)}) for tokens: a bucket that starts full and refills continuously cannot serve the work faster, and the last call still takes a latency. It ignores that the provider holds prompt + \`maxTokens\` (largest ${int(ideal.largestReservation)}) while a call runs, so the ideal is slightly optimistic.`,
      'The makespan is the child\'s: from building the workflow (or queue) to the last answer. 429s are the provider\'s count (`fake.stats().rateLimited`), quota refusals only; the % is of the 2,000 calls.',
      `Provider: \`startFakeLlm({ rpm: ${RPM}, tpm: ${TPM}, windowMs: ${windowMs}${process.argv.includes('--free-refusals') ? ', refusalsCount: false' : ''} })\` in the parent process; ${process.argv.includes('--free-refusals') ? 'refused requests are free here (`--free-refusals`), the best case of a client that resends on 429' : 'a refused request uses one request of the window, as OpenAI documents ("unsuccessful requests contribute to your per-minute limit"), so resending on every 429 digs the quota deeper; a peer still running at ' + String(PEER_DEADLINE_FACTOR) + '× the ideal makespan is stopped'}; each call's latency (uniform 200–2,000 ms ÷ ${scale}) and answer length (uniform 1…maxTokens tokens) are drawn once per call from the seed and given by a script, so every contender sends and receives the same work. Prompt tokens are counted by the provider with gpt-tokenizer (o200k chat format), as \`llm.chat\` estimates them.`,
      `taskweave: one engine (\`builtins: false\`, \`concurrency: 4096\`, the \`dist/\` build) with \`createChatTool({ baseURL, apiKey, model: '${MODEL}' })\`, a workflow of 2,000 independent \`llm.chat\` tasks with \`{ prompt, maxTokens, stream: false }\` (streaming off). Configured: \`rates: { '<host:port>:${MODEL}': { requests: { limit: ${RPM}, per: ${windowMs} }, tokens: { limit: ${TPM}, per: ${windowMs} } } }\` (adaptive concurrency stays on, the default without \`concurrent\`). Unknown: no \`rates\`. No headers: the provider sends no \`x-ratelimit-*\` headers (\`retry-after-ms\` on a 429 still), informative, no target. The tokenizer and the openai module are loaded before the clock starts.`,
      `p-queue: \`new PQueue({ concurrency: Infinity, intervalCap: ${RPM}, interval: ${windowMs} })\`, each call \`client.chat.completions.create\` on the official openai client (\`maxRetries: 0\`); on a 429 it waits \`retry-after-ms\` and is added to the queue again. Bottleneck: \`new Bottleneck({ reservoir: ${RPM}, reservoirRefreshAmount: ${RPM}, reservoirRefreshInterval: ${windowMs}, maxConcurrent: null })\`; the \`failed\` event returns \`retry-after-ms\` for a 429 (Bottleneck's retry, which does not go through the reservoir again). Neither knows the token quota: that is what users write.`,
      ...details,
      ...readingNotes(scale),
    ],
    seconds: (performance.now() - started) / 1000,
  }
}

if (isMain(import.meta.url)) {
  const arg = process.argv[2]
  if (arg !== undefined && !arg.startsWith('--')) await childMain(contenders)
  else console.log(renderReport(await run()))
}
