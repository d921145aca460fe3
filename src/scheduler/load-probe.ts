/**
 * The load probe: how busy this process is, read by the `LoadScaler` once per interval.
 *
 * A port, so the scaler's decisions can be tested with scripted readings and a manual clock, and
 * so a host can measure load its own way (a container's cgroup memory, say). The default probe
 * reads the event loop's lag from `perf_hooks.monitorEventLoopDelay` and the resident set size
 * from `process.memoryUsage.rss()`.
 *
 * What the default lag reading means: the worst delay of the loop since the previous `sample()`,
 * in ms beyond the histogram's own tick (so an idle loop reads about 0). The maximum, not a
 * percentile: the histogram gets one sample per tick, so a 150 ms stall is a single sample among
 * a hundred short ones taken while the loop was free; a p99 over a 1 s window is either that same
 * maximum (under 100 samples, ceil(0.99 × n) = n) or blind to the stall (over 100). A stall is
 * what delays every timer, lease renewal and I/O callback of the engine, so it is what to react to.
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IntervalHistogram } from 'node:perf_hooks'
import { InvalidOptionError } from '../core/errors.js'

/** One reading of the process's load. */
export interface LoadSample {
  /** Worst event-loop delay since the previous sample, in ms (0 when the loop kept up). */
  readonly eventLoopLagMs: number
  /** Resident set size now, in bytes. */
  readonly rssBytes: number
}

/** Reads the process's load; what the `LoadScaler` decides from. */
export interface LoadProbe {
  /** The load since the previous call (lag) and now (memory). Cheap: called once per scaling interval. */
  sample(): LoadSample
  /** Releases what the probe holds (the default probe's histogram). Optional; idempotent. */
  close?(): void
}

/** Options of {@link createLoadProbe}. */
export interface LoadProbeOptions {
  /**
   * Tick of the event-loop histogram, in ms: lag is measured to within about this. Smaller ticks
   * cost a timer wake-up each. @default 10
   */
  readonly resolutionMs?: number
}

/**
 * The default probe: `monitorEventLoopDelay` and `process.memoryUsage.rss()`. The histogram is
 * enabled from creation until `close()`; its timer never keeps the process alive.
 * @example
 * const probe = createLoadProbe()
 * const { eventLoopLagMs, rssBytes } = probe.sample()
 * probe.close()
 */
export function createLoadProbe(options: LoadProbeOptions = {}): LoadProbe & { close(): void } {
  const resolutionMs = options.resolutionMs ?? 10
  // The histogram takes whole milliseconds ≥ 1 and throws a RangeError otherwise; say which option.
  if (!Number.isSafeInteger(resolutionMs) || resolutionMs < 1) throw new InvalidOptionError('resolutionMs', 'a whole number of ms ≥ 1', resolutionMs)
  return new HistogramProbe(resolutionMs)
}

class HistogramProbe implements LoadProbe {
  readonly #histogram: IntervalHistogram
  readonly #resolutionMs: number
  #since: number
  #closed = false

  constructor(resolutionMs: number) {
    this.#resolutionMs = resolutionMs
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs })
    this.#histogram.enable()
    this.#since = performance.now()
  }

  sample(): LoadSample {
    const now = performance.now()
    const h = this.#histogram
    const res = this.#resolutionMs
    // Each histogram value is the whole time between two ticks (the tick itself plus the delay),
    // in ns, so the delay is the value less one tick.
    const count = h.count
    const recordedMaxMs = count > 0 ? h.max / 1e6 : 0
    // `reset()` also forgets the time of the last tick, so the first tick after a reset records
    // nothing: a stall that starts right after a sample (just when a raised capacity starts new
    // work) would never reach the histogram. The time the recorded ticks do not cover shows it:
    // the window less the sum of the recorded gaps is that first gap plus the one still open now,
    // each at most a tick when the loop kept up. The same term catches a stall that ended just
    // before this call, whose tick has not run yet.
    const recordedSumMs = count > 0 ? (h.mean * count) / 1e6 : 0
    const uncoveredMs = now - this.#since - recordedSumMs
    const eventLoopLagMs = Math.max(0, recordedMaxMs - res, uncoveredMs - res)
    h.reset()
    this.#since = now
    return { eventLoopLagMs, rssBytes: process.memoryUsage.rss() }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#histogram.disable()
  }
}
