/**
 * Load-aware scaling of the engine's slot count (DESIGN §7a): fewer attempts at once while the
 * process is overloaded, more again once it has been healthy for a while.
 *
 * Every `intervalMs` the scaler reads its {@link LoadProbe} and adjusts its target (the engine's
 * slot pool) by AIMD, the rule TCP uses for a congestion window:
 * - overloaded (event-loop lag above `maxEventLoopLagMs`, or RSS above `maxRssBytes`) →
 *   `capacity = max(min, floor(capacity × decreaseFactor))`, at once, every overloaded interval.
 *   Backing off fast matters most: a stalled loop delays every timer, lease renewal and I/O
 *   callback, and memory past its bound ends in an OOM kill;
 * - healthy for `healthyIntervalsBeforeRaise` intervals in a row → `capacity + increaseStep`, up
 *   to `max`. Probing upward slowly keeps one lucky interval from undoing a backoff.
 *
 * Modes: stopped (no timer) → running (one timer pending on the clock) → stopped. Triggers:
 * `start()`, each interval's tick, `stop()`. While running the healthy streak counts up on healthy
 * ticks and restarts at 0 after a raise or an overloaded tick; a tick whose probe throws or reads
 * a non-finite number decides nothing and leaves the streak as it was. Lowering the target's
 * capacity interrupts nothing: work already holding slots runs on, and freed slots are simply not
 * granted again until fewer are held than the new capacity (see `SlotPool.setCapacity`).
 * @module
 */
import { MAX_TIMER_MS, setLongTimeout, systemClock } from '../core/clock.js'
import type { CancelTimer, Clock } from '../core/clock.js'
import { setClockTimer } from '../core/clock-timer.js'
import { InvalidOptionError } from '../core/errors.js'
import { logFailure } from '../core/log-failure.js'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import { createLoadProbe } from './load-probe.js'
import type { LoadProbe, LoadSample } from './load-probe.js'

/** What the scaler resizes: the engine's slot pool (`SlotPool` fits as it is). */
export interface ScalingTarget {
  /** Sets the number of slots; never called with less than `min` or more than `max`. */
  setCapacity(capacity: number): void
  /** The number of slots now (read before each decision, so a change made elsewhere is respected). */
  readonly capacity: number
}

/** Why the scaler changed the capacity. */
export type LoadScaleReason = 'event-loop-lag' | 'memory' | 'healthy'

/** One change of capacity, passed to {@link LoadScalerOptions.onChange}. */
export interface LoadScaledEvent {
  readonly from: number
  readonly to: number
  /** `memory` when both bounds were exceeded. */
  readonly reason: LoadScaleReason
  /** The reading that decided it. */
  readonly eventLoopLagMs: number
  readonly rssBytes: number
}

/** Options of {@link LoadScaler}. */
export interface LoadScalerOptions {
  /** What is resized (the engine's slot pool). */
  readonly target: ScalingTarget
  /** Never fewer slots than this. @default 1 */
  readonly min?: number
  /** Never more slots than this: the engine's configured concurrency. A whole number; required. */
  readonly max: number
  /** Event-loop lag (ms) above which the process counts as overloaded. @default 100 */
  readonly maxEventLoopLagMs?: number
  /** Resident set size (bytes) above which the process counts as overloaded. @default undefined (not checked) */
  readonly maxRssBytes?: number
  /** Time between two readings, in ms. @default 1000 */
  readonly intervalMs?: number
  /** Healthy readings in a row before each raise. @default 3 */
  readonly healthyIntervalsBeforeRaise?: number
  /** Capacity is multiplied by this (and floored) on an overloaded reading; between 0 and 1. @default 0.5 */
  readonly decreaseFactor?: number
  /**
   * Slots added per raise. The default scales with `max` so that climbing from `min` back to `max`
   * takes at most ten raises (30 s at the other defaults) whatever `max` is: a fixed +1 would take
   * over three minutes to recover from one halving of 128 slots, time in which an engine that is
   * no longer overloaded runs at half speed for nothing. Ten steps still probe upward gently
   * enough that an overshoot costs one halving. @default max(1, ceil(max / 10))
   */
  readonly increaseStep?: number
  /** The clock of the interval timer. On the system clock the timer is unref'd. @default systemClock */
  readonly clock?: Clock
  /**
   * The readings. @default a {@link createLoadProbe} probe, created by `start()` and closed by
   * `stop()`; a probe passed here is never closed by the scaler.
   */
  readonly probe?: LoadProbe
  /** Called after each change of capacity (not when a reading changes nothing). */
  readonly onChange?: (event: LoadScaledEvent) => void
  /** Where a throwing probe or `onChange` is reported. @default silentLogger */
  readonly logger?: Logger
}

/** A snapshot of the scaler, for `engine.stats()`. */
export interface LoadScalerStats {
  /** The target's capacity now. */
  readonly capacity: number
  readonly min: number
  readonly max: number
  /** The latest reading; undefined before the first. */
  readonly lastLagMs: number | undefined
  readonly lastRssBytes: number | undefined
  /** Changes made since construction, each way. */
  readonly decreases: number
  readonly increases: number
}

/**
 * Resizes a slot pool by AIMD on the process's load (module header: the rule and its modes).
 * @example
 * const slots = new SlotPool(64)
 * const scaler = new LoadScaler({ target: slots, max: 64, onChange: (e) => console.log(e) })
 * scaler.start()
 * // … later
 * scaler.stop()
 */
export class LoadScaler implements Disposable {
  readonly #target: ScalingTarget
  readonly #min: number
  #max: number
  readonly #maxLagMs: number
  readonly #maxRssBytes: number | undefined
  readonly #intervalMs: number
  readonly #healthyBeforeRaise: number
  readonly #decreaseFactor: number
  readonly #increaseStep: number
  readonly #clock: Clock
  readonly #givenProbe: LoadProbe | undefined
  readonly #onChange: ((event: LoadScaledEvent) => void) | undefined
  readonly #logger: Logger

  /** The probe in use while running (the given one, or a default one this scaler owns). */
  #probe: LoadProbe | undefined
  #cancelTimer: CancelTimer | undefined
  #healthyStreak = 0
  #lastLagMs: number | undefined
  #lastRssBytes: number | undefined
  #decreases = 0
  #increases = 0

  /** Checks every option (a bad one throws `TW_INVALID_OPTION` naming it); does not start. */
  constructor(options: LoadScalerOptions) {
    const min = options.min ?? 1
    // Whole slots only, and at least one: with none, nothing would run.
    if (!Number.isSafeInteger(min) || min < 1) throw new InvalidOptionError('min', 'a whole number ≥ 1', min)
    checkMax(options.max, min)
    const maxLagMs = options.maxEventLoopLagMs ?? 100
    if (!(maxLagMs > 0 && Number.isFinite(maxLagMs))) throw new InvalidOptionError('maxEventLoopLagMs', 'a finite number of ms > 0', maxLagMs)
    const maxRss = options.maxRssBytes
    if (maxRss !== undefined && !(maxRss > 0 && Number.isFinite(maxRss))) throw new InvalidOptionError('maxRssBytes', 'a finite number of bytes > 0', maxRss)
    const intervalMs = options.intervalMs ?? 1000
    if (!(intervalMs > 0 && intervalMs <= MAX_TIMER_MS)) throw new InvalidOptionError('intervalMs', `a number of ms > 0 and ≤ ${MAX_TIMER_MS}`, intervalMs)
    const healthy = options.healthyIntervalsBeforeRaise ?? 3
    if (!Number.isSafeInteger(healthy) || healthy < 1) throw new InvalidOptionError('healthyIntervalsBeforeRaise', 'a whole number ≥ 1', healthy)
    const factor = options.decreaseFactor ?? 0.5
    if (!(factor > 0 && factor < 1)) throw new InvalidOptionError('decreaseFactor', 'a number between 0 and 1 (exclusive)', factor)
    const step = options.increaseStep ?? Math.max(1, Math.ceil(options.max / 10))
    if (!Number.isSafeInteger(step) || step < 1) throw new InvalidOptionError('increaseStep', 'a whole number ≥ 1', step)
    this.#target = options.target
    this.#min = min
    this.#max = options.max
    this.#maxLagMs = maxLagMs
    this.#maxRssBytes = maxRss
    this.#intervalMs = intervalMs
    this.#healthyBeforeRaise = healthy
    this.#decreaseFactor = factor
    this.#increaseStep = step
    this.#clock = options.clock ?? systemClock
    this.#givenProbe = options.probe
    this.#onChange = options.onChange
    this.#logger = options.logger ?? silentLogger
  }

  /** Whether the interval timer is armed. */
  get isRunning(): boolean {
    return this.#cancelTimer !== undefined
  }

  /** Starts reading every `intervalMs` (the first reading one interval from now). Idempotent. */
  start(): void {
    if (this.#cancelTimer !== undefined) return
    this.#probe = this.#givenProbe ?? createLoadProbe()
    this.#healthyStreak = 0
    this.#arm()
  }

  /**
   * Stops reading: clears the timer and closes the default probe. The capacity stays where it is
   * (the caller decides whether to restore `max`). Idempotent; `start()` may follow.
   */
  stop(): void {
    this.#cancelTimer?.()
    this.#cancelTimer = undefined
    if (this.#givenProbe === undefined) this.#probe?.close?.()
    this.#probe = undefined
  }

  /** {@link stop}, for `using scaler = new LoadScaler(…)`. */
  [Symbol.dispose](): void {
    this.stop()
  }

  /**
   * Changes the ceiling (the engine's configured concurrency changed). A capacity above the new
   * ceiling is lowered to it at once, without an `onChange` event (the caller asked for it, the
   * load did not); one below it climbs through healthy intervals as usual.
   */
  setMax(max: number): void {
    checkMax(max, this.#min)
    this.#max = max
    if (this.#target.capacity > max) this.#target.setCapacity(max)
  }

  /** The capacity, bounds, latest reading and counts of changes. */
  stats(): LoadScalerStats {
    return {
      capacity: this.#target.capacity,
      min: this.#min,
      max: this.#max,
      lastLagMs: this.#lastLagMs,
      lastRssBytes: this.#lastRssBytes,
      decreases: this.#decreases,
      increases: this.#increases,
    }
  }

  #arm(): void {
    // The scaler is housekeeping: it must never be what keeps a process alive. The Clock port
    // cannot unref, so on the system clock the timer is a Node timer unref'd directly.
    this.#cancelTimer =
      this.#clock === systemClock ? setLongTimeout(this.#intervalMs, () => this.#tick(), { unref: true }) : setClockTimer(this.#clock, this.#intervalMs, () => this.#tick())
  }

  #tick(): void {
    // Re-armed first, so the next reading comes whatever this one does: a throwing probe or
    // `onChange` must not end scaling. (Fixed delay, not fixed rate: drift does not matter here.)
    this.#arm()
    const probe = this.#probe
    if (probe === undefined) return
    let sample: LoadSample
    try {
      sample = probe.sample()
    } catch (err) {
      logFailure(this.#logger, 'load probe failed; capacity left as it is', err)
      return
    }
    const { eventLoopLagMs, rssBytes } = sample
    // A reading that is not a number is no evidence either way.
    if (!Number.isFinite(eventLoopLagMs) || !Number.isFinite(rssBytes)) return
    this.#lastLagMs = eventLoopLagMs
    this.#lastRssBytes = rssBytes
    const from = this.#target.capacity
    let to: number
    let reason: LoadScaleReason
    // Memory first when both are exceeded: it is the bound whose breach ends the process.
    const overMemory = this.#maxRssBytes !== undefined && rssBytes > this.#maxRssBytes
    if (overMemory || eventLoopLagMs > this.#maxLagMs) {
      reason = overMemory ? 'memory' : 'event-loop-lag'
      this.#healthyStreak = 0
      to = Math.min(this.#max, Math.max(this.#min, Math.floor(from * this.#decreaseFactor)))
      // Already at the floor (or a capacity set elsewhere below it): nothing to lower.
      if (to >= from) return
      this.#decreases++
    } else {
      reason = 'healthy'
      this.#healthyStreak++
      if (this.#healthyStreak < this.#healthyBeforeRaise) return
      // At the ceiling the streak keeps counting, so a raised ceiling (`setMax`) is used at once.
      if (from >= this.#max) return
      this.#healthyStreak = 0
      to = Math.max(this.#min, Math.min(this.#max, from + this.#increaseStep))
      this.#increases++
    }
    this.#target.setCapacity(to)
    if (this.#onChange === undefined) return
    try {
      this.#onChange({ from, to, reason, eventLoopLagMs, rssBytes })
    } catch (err) {
      logFailure(this.#logger, 'load scaler onChange listener failed', err, { from, to, reason })
    }
  }
}

/** `max` is a whole number of slots, at least `min`: an engine with `concurrency: Infinity` cannot autoscale. */
function checkMax(max: number, min: number): void {
  if (!Number.isSafeInteger(max) || max < min) throw new InvalidOptionError('max', `a whole number ≥ min (${min})`, max)
}
