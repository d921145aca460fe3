/** Options of the agent session pool, and their one-time resolution into plain numbers. @module */
import { setLongTimeout, systemClock } from '../core/clock.js'
import type { Clock } from '../core/clock.js'
import { toMs } from '../core/duration.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { optionNames, refuseUnknownOptions } from '../core/known-options.js'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import { isAgent } from './define-agent.js'
import type { AnyAgent } from './define-agent.js'
import type { KeyedLimiter } from '../scheduler/keyed-limiter.js'

/** Options of {@link AgentSessionPool}. */
export interface AgentSessionPoolOptions {
  /** The agents the pool can run; names must be unique. */
  readonly agents: Iterable<AnyAgent>
  /**
   * Source of time for idle timeouts and durations. Pass a `ManualClock` in tests.
   * @default the system clock, with idle timers unref'd so they never keep the process alive
   */
  readonly clock?: Clock
  /**
   * How long an instance may sit unused before it is disposed (the seed's `INSTANCE_TIMEOUT`).
   * Counted from the end of the session's last execution. @default '5m'
   */
  readonly idleTimeout?: Duration
  /**
   * Most instances alive (or being created) at once, over all agents. Beyond it the least
   * recently used *idle* instance is evicted; when every instance is busy, the new session waits
   * until one becomes idle (it never evicts an instance with executions running or queued).
   * @default Infinity
   */
  readonly maxInstances?: number
  /** Executions running at once, over all sessions (the seed's `TASK_MANAGER_WORKERS`). @default 10 */
  readonly maxConcurrent?: number
  /**
   * Most executions that may wait for a place, over all sessions (the seed's `MAX_QUEUE_SIZE`):
   * with `maxConcurrent` running and `maxQueued` waiting, `execute()` rejects, and `stream()`
   * throws, `TW_QUEUE_FULL` (retryable); `0` means no waiting. Executions of engine tasks are
   * admitted by the engine and never refused here. @default Infinity
   */
  readonly maxQueued?: number
  /** Where disposal failures are reported. @default silent */
  readonly logger?: Logger
  /**
   * Longest time `close()` waits for executions, creations and disposals to settle (on the pool's
   * clock). When it runs out, what is still running is aborted, its callers' promises reject with
   * `TW_AGENT_CLOSED`, and `close()` resolves with a report of what it abandoned. @default '5s'
   */
  readonly closeTimeout?: Duration
  /**
   * A keyed limiter to take the `maxConcurrent` permits from, instead of a gate of the pool's own:
   * an engine passes its limiter, so the pool's executions show in `engine.stats()` and queued
   * executions are served by `priority`. @default a gate of the pool's own (first come, first served)
   */
  readonly limiter?: KeyedLimiter
}

/** Options with every default applied and durations in ms. */
export interface ResolvedAgentSessionPoolOptions {
  readonly agents: ReadonlyMap<string, AnyAgent>
  readonly clock: Clock
  readonly idleTimeoutMs: number
  readonly maxInstances: number
  readonly maxConcurrent: number
  readonly maxQueued: number
  readonly logger: Logger
  readonly closeTimeoutMs: number
  /** The clock of the close grace period: the given clock, else the system clock (not unref'd, so a closing program waits for it). */
  readonly closeClock: Clock
  readonly limiter: KeyedLimiter | undefined
}

/**
 * The system clock, except that timers are unref'd: a pool whose only pending timers are idle
 * timeouts (hours, by the seed's defaults) must not keep a finished program running. Timers are
 * chained past 2^31 ms: a bare `setTimeout` fires a 30-day idle timeout after 1 ms.
 */
const idleFriendlyClock: Clock = {
  now: () => performance.now(),
  wallNow: Date.now,
  setTimer: (ms, fn) => setLongTimeout(ms, fn, { unref: true }),
}

/** Every option of {@link AgentSessionPoolOptions}. */
export const AGENT_POOL_OPTION_NAMES = optionNames<AgentSessionPoolOptions>()(['agents', 'clock', 'idleTimeout', 'maxInstances', 'maxConcurrent', 'maxQueued', 'logger', 'closeTimeout', 'limiter'])

/** Checks and resolves the options; bad values throw `TW_INVALID_OPTION` naming the option. */
export function resolveAgentSessionPoolOptions(options: AgentSessionPoolOptions): ResolvedAgentSessionPoolOptions {
  refuseUnknownOptions('new AgentSessionPool', options, AGENT_POOL_OPTION_NAMES)
  const agents = new Map<string, AnyAgent>()
  if (options.agents === undefined || typeof (options.agents as Partial<Iterable<AnyAgent>>)[Symbol.iterator] !== 'function') {
    throw new InvalidOptionError('agents', 'an iterable of agents made by defineAgent()', options.agents)
  }
  for (const agent of options.agents) {
    if (!isAgent(agent)) throw new InvalidOptionError('agents', 'agents made by defineAgent()', agent)
    if (agents.has(agent.name)) throw new InvalidOptionError('agents', `unique names (duplicate "${agent.name}")`, agent.name)
    agents.set(agent.name, agent)
  }
  const idleTimeoutMs = toMs('idleTimeout', options.idleTimeout ?? '5m')
  const maxInstances = options.maxInstances ?? Infinity
  if (!(maxInstances >= 1) || (Number.isFinite(maxInstances) && !Number.isInteger(maxInstances))) {
    throw new InvalidOptionError('maxInstances', 'an integer ≥ 1 or Infinity', maxInstances)
  }
  const maxConcurrent = options.maxConcurrent ?? 10
  if (!(maxConcurrent >= 1) || (Number.isFinite(maxConcurrent) && !Number.isInteger(maxConcurrent))) {
    throw new InvalidOptionError('maxConcurrent', 'an integer ≥ 1 or Infinity', maxConcurrent)
  }
  const maxQueued = options.maxQueued ?? Infinity
  if (!(maxQueued >= 0) || (Number.isFinite(maxQueued) && !Number.isInteger(maxQueued))) {
    throw new InvalidOptionError('maxQueued', 'an integer ≥ 0 or Infinity', maxQueued)
  }
  const closeTimeoutMs = toMs('closeTimeout', options.closeTimeout ?? '5s')
  return {
    maxQueued,
    agents,
    clock: options.clock ?? idleFriendlyClock,
    idleTimeoutMs,
    maxInstances,
    maxConcurrent,
    logger: options.logger ?? silentLogger,
    closeTimeoutMs,
    closeClock: options.clock ?? systemClock,
    limiter: options.limiter,
  }
}
