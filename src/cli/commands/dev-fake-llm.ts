/**
 * `taskweave dev fake-llm`: runs the fake OpenAI-compatible server (`src/llm/fake`) in the
 * foreground until Ctrl-C or SIGTERM, for trying workflows and clients without a key or a bill,
 * with quotas, latency and errors like a real provider's.
 * @module
 */
import { parseDuration, toMs } from '../../core/duration.js'
import { InvalidOptionError } from '../../core/errors.js'
import { startFakeLlm } from '../../llm/fake/index.js'
import type { FakeLlm, FakeLlmOptions, FakeLlmStats } from '../../llm/fake/index.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { cancelOnSignals } from '../signals.js'

/** The port when `--port` is not given. */
export const DEFAULT_FAKE_LLM_PORT = 8787

/** Arguments of `dev fake-llm`, as typed on the command line (checked here). */
export interface DevFakeLlmCommandArgs {
  /** `--port N` (0: any free port). Default {@link DEFAULT_FAKE_LLM_PORT}. */
  readonly port?: string
  /** `--host H`. Default 127.0.0.1. */
  readonly host?: string
  /** `--rpm N`: requests per window. */
  readonly rpm?: string
  /** `--tpm N`: tokens per window. */
  readonly tpm?: string
  /** `--latency 200..2000` (uniform range) or `--latency 500`; each side ms or a duration (`2s`). */
  readonly latency?: string
  /** `--error-rate 0.01`: fraction of requests answered 500. */
  readonly errorRate?: string
  /** `--window 60s` (or ms): the quota window. */
  readonly window?: string
  /** False with `--no-headers`: no `x-ratelimit-*` headers. */
  readonly headers: boolean
}

/**
 * Runs the server until SIGINT/SIGTERM/SIGHUP (or `stop` aborts), then closes it and prints what
 * it answered; resolves to the exit code (2 for an invalid flag, 1 if it cannot listen).
 */
export async function devFakeLlmCommand(args: DevFakeLlmCommandArgs, io: CliIo, stop?: AbortSignal): Promise<number> {
  const options = optionsOf(args)
  const controller = new AbortController()
  const stopListening = cancelOnSignals(controller, (text) => io.stderr(text), 'stopping the fake LLM')
  const onStop = (): void => controller.abort(stop?.reason)
  if (stop?.aborted === true) onStop()
  else stop?.addEventListener('abort', onStop, { once: true })
  try {
    let fake: FakeLlm
    try {
      fake = await startFakeLlm(options)
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err
      io.stderr(`error: cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? DEFAULT_FAKE_LLM_PORT} (${String(code)}): choose another --port or --host`)
      return EXIT.failed
    }
    io.stdout(`fake OpenAI-compatible LLM listening on ${fake.url}`)
    io.stdout(`  ${describe(options)}`)
    io.stdout(`Use it with any OpenAI client:\n  OPENAI_BASE_URL=${fake.url} OPENAI_API_KEY=fake <your command>\nStop with Ctrl-C.`)
    if (!controller.signal.aborted) await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }))
    await fake.close()
    io.stderr(summary(fake.stats()))
    return EXIT.ok
  } finally {
    stop?.removeEventListener('abort', onStop)
    stopListening()
  }
}

function optionsOf(args: DevFakeLlmCommandArgs): FakeLlmOptions {
  const windowMs = args.window === undefined ? undefined : toMs('--window', bareMs(args.window))
  if (windowMs !== undefined && !(windowMs > 0)) throw new InvalidOptionError('--window', 'a duration > 0', args.window)
  const latency = args.latency === undefined ? undefined : parseLatency(args.latency)
  const errorRate = args.errorRate === undefined ? undefined : Number(args.errorRate)
  if (errorRate !== undefined && !(errorRate >= 0 && errorRate <= 1)) throw new InvalidOptionError('--error-rate', 'a fraction from 0 to 1 (0.01 is 1%)', args.errorRate)
  return {
    port: args.port === undefined ? DEFAULT_FAKE_LLM_PORT : wholeNumber('--port', args.port, 0, 65535),
    ...(args.host !== undefined ? { host: args.host } : {}),
    ...(args.rpm !== undefined ? { rpm: wholeNumber('--rpm', args.rpm, 1) } : {}),
    ...(args.tpm !== undefined ? { tpm: wholeNumber('--tpm', args.tpm, 1) } : {}),
    ...(windowMs !== undefined ? { windowMs } : {}),
    ...(latency !== undefined ? { latencyMs: latency } : {}),
    ...(errorRate !== undefined ? { errorRate } : {}),
    headers: args.headers,
    // A server left running for hours must not keep every request it answered.
    recordRequests: false,
  }
}

function wholeNumber(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new InvalidOptionError(flag, `a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}`, text)
  return n
}

/** A bare number is milliseconds (durations elsewhere need a unit; here `--latency 200` reads naturally). */
function bareMs(text: string): string | number {
  return /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text
}

/** `500`, `2s`, `200..2000`, `200ms..2s`. */
function parseLatency(text: string): number | { min: number; max: number } {
  const sides = text.split('..')
  const ms = sides.map((side) => parseDuration(bareMs(side)))
  const [min, max] = ms
  if (sides.length === 1 && min !== undefined) return min
  if (sides.length === 2 && min !== undefined && max !== undefined && min <= max) return { min, max }
  throw new InvalidOptionError('--latency', 'ms or a range MIN..MAX (e.g. 200..2000 or 200ms..2s)', text)
}

function describe(options: FakeLlmOptions): string {
  const window = `${(options.windowMs ?? 60_000) / 1000}s`
  const quotas = [options.rpm !== undefined ? `${options.rpm} request${options.rpm === 1 ? '' : 's'}` : undefined, options.tpm !== undefined ? `${options.tpm} tokens` : undefined].filter((part) => part !== undefined)
  const latency = options.latencyMs
  const latencyText = latency === undefined ? '0 ms' : typeof latency === 'number' ? `${latency} ms` : typeof latency === 'object' ? `${latency.min}–${latency.max} ms` : 'custom'
  return [
    quotas.length === 0 ? 'quota: unlimited' : `quota: ${quotas.join(' and ')} per ${window}`,
    `latency: ${latencyText}`,
    `error rate: ${(options.errorRate ?? 0) * 100}%`,
    `rate-limit headers: ${options.headers === false ? 'off' : 'on'}`,
  ].join('; ')
}

function summary(stats: FakeLlmStats): string {
  const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`
  return `fake LLM stopped: ${count(stats.requests, 'request')}, ${stats.completed} completed, ${stats.rateLimited} rate-limited (429), ${count(stats.errors, 'error')} (5xx), ${stats.disconnected} abandoned; ${count(stats.inputTokens, 'input token')}, ${count(stats.outputTokens, 'output token')}; at most ${stats.maxConcurrent} at once`
}
