/**
 * Options of the `ConcurrentExecutor`, typed once and resolved once: durations become
 * milliseconds and bad values throw `TW_INVALID_OPTION` naming the option.
 * @module
 */
import { KeyedLimiter } from '../scheduler/keyed-limiter.js'
import { systemClock } from '../core/clock.js'
import type { Clock } from '../core/clock.js'
import type { Duration } from '../core/duration.js'
import { toLimitMs, toMs } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { optionNames, refuseUnknownOptions } from '../core/known-options.js'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import type { BackgroundEngine, BackgroundOutcome } from './types.js'
import { isStateMachine } from '../fsm/define.js'
import type { StateMachine } from '../fsm/define.js'

/** Options of `ConcurrentExecutor`. */
export interface ConcurrentExecutorOptions {
  /** The engine that runs workflow tasks; its clock becomes the default clock. @default none (workflow tasks fail with TW_INVALID_OPTION) */
  readonly engine?: BackgroundEngine
  /** Source of time for timeouts, timings and the finished TTL. @default the engine's clock, else the system clock */
  readonly clock?: Clock
  /** Time limit of tasks that set none. @default none */
  readonly defaultTimeout?: Duration
  /** How long a finished task stays readable (`result`, `peek`, inbox); `Infinity` keeps it until `maxFinished` evicts it. @default '10m' */
  readonly finishedTtl?: Duration | typeof Infinity
  /** Most finished tasks kept; the oldest finished is removed first. @default 10,000 */
  readonly maxFinished?: number
  /** Called once per task when it ends (errors it throws are logged, never rethrown). */
  readonly onComplete?: (completion: BackgroundOutcome) => void
  /** Where errors of `onComplete` are reported. @default silent */
  readonly logger?: Logger
  /**
   * Tasks running at once; more wait (still `pending`) and start by `priority`, then in submit
   * order. Their timeout starts when they start. @default Infinity
   */
  readonly maxConcurrent?: number
  /**
   * The keyed limiter the `maxConcurrent` places are taken from: an engine passes its own, so the
   * background's places show in `engine.stats()`. @default a limiter of the executor's own
   */
  readonly limiter?: KeyedLimiter
  /**
   * State machines that `recover()` restarts by name after a crash (with those it is given), so
   * that `durability.resumeOnStart` brings them back too. @default none
   */
  readonly machines?: Iterable<StateMachine<unknown, string>>
}

/** {@link ConcurrentExecutorOptions} with defaults filled and durations in ms. */
export interface ResolvedExecutorOptions {
  readonly engine: BackgroundEngine | undefined
  readonly clock: Clock
  readonly defaultTimeoutMs: number | undefined
  readonly finishedTtlMs: number
  readonly maxFinished: number
  readonly onComplete: ((completion: BackgroundOutcome) => void) | undefined
  readonly logger: Logger
  readonly maxConcurrent: number
  /** Where the places come from, when `maxConcurrent` is finite. */
  readonly limiter: KeyedLimiter | undefined
  readonly machines: readonly StateMachine<unknown, string>[]
}

/** Every option of {@link ConcurrentExecutorOptions}. */
export const EXECUTOR_OPTION_NAMES = optionNames<ConcurrentExecutorOptions>()(['engine', 'clock', 'defaultTimeout', 'finishedTtl', 'maxFinished', 'onComplete', 'logger', 'maxConcurrent', 'limiter', 'machines'])

/** Resolves the options; throws `TW_INVALID_OPTION` naming the first bad one. */
export function resolveExecutorOptions(options: ConcurrentExecutorOptions): ResolvedExecutorOptions {
  refuseUnknownOptions('new ConcurrentExecutor', options, EXECUTOR_OPTION_NAMES)
  const maxFinished = options.maxFinished ?? 10_000
  if (!Number.isInteger(maxFinished) || maxFinished < 0) throw new InvalidOptionError('maxFinished', 'an integer ≥ 0', maxFinished)
  if (options.onComplete !== undefined && typeof options.onComplete !== 'function') throw new InvalidOptionError('onComplete', 'a function', options.onComplete)
  const ttl = options.finishedTtl ?? '10m'
  const maxConcurrent = options.maxConcurrent ?? Infinity
  if (!(maxConcurrent >= 1) || (Number.isFinite(maxConcurrent) && !Number.isInteger(maxConcurrent))) {
    throw new InvalidOptionError('maxConcurrent', 'an integer ≥ 1 or Infinity', maxConcurrent)
  }
  return {
    engine: options.engine,
    clock: options.clock ?? options.engine?.clock ?? systemClock,
    defaultTimeoutMs: options.defaultTimeout === undefined ? undefined : toLimitMs('defaultTimeout', options.defaultTimeout),
    finishedTtlMs: ttl === Infinity ? Infinity : toMs('finishedTtl', ttl),
    maxFinished,
    onComplete: options.onComplete,
    logger: options.logger ?? silentLogger,
    maxConcurrent,
    limiter: maxConcurrent === Infinity ? undefined : (options.limiter ?? new KeyedLimiter()),
    machines: machinesOf(options.machines),
  }
}

function machinesOf(machines: Iterable<StateMachine<unknown, string>> | undefined): StateMachine<unknown, string>[] {
  if (machines === undefined) return []
  if (typeof (machines as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== 'function') throw new InvalidOptionError('machines', 'a list of state machines', machines)
  const list = [...machines]
  for (const [i, machine] of list.entries()) if (!isStateMachine(machine)) throw new InvalidOptionError(`machines[${i}]`, 'a state machine from defineStateMachine()', machine)
  return list
}
