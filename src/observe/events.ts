/**
 * Every event the engine emits, one payload object each, named `scope:verb`. Times are clock
 * milliseconds (monotonic; see `Clock.now`).
 * @module
 */
import type { SerializedError } from '../core/errors.js'
import type { ToolProgress } from '../core/tool.js'
import type { RunStatus, TaskStatus } from '../core/status.js'
import type { RunUsage } from '../core/report.js'

interface Base {
  readonly runId: string
  /** Clock time of the event, in ms. */
  readonly at: number
  /** Set on what a resume replays from the journal: it happened in an earlier process (count it once). */
  readonly replayed?: true
  /**
   * Set once a durable run is being suspended (the engine closes, a task parked): its tasks
   * cancelled now run again when it is resumed, and its `run:finished` does not end it: it stays
   * unfinished in the store.
   */
  readonly suspended?: true
}
/** Events of the engine as a whole (no run). */
interface EngineBase {
  readonly runId?: undefined
  /** Clock time of the event, in ms. */
  readonly at: number
}
interface TaskBase extends Base {
  readonly taskId: string
}

/** Event name → payload. */
export interface EventMap {
  'run:started': Base & { readonly workflowId: string; readonly taskCount: number }
  /**
   * The run ended in this process. With `suspended` it stopped without finishing (the engine
   * closed, a task parked) and stays unfinished in the store, to be resumed; `status` is then what
   * its result says here (`cancelled`), not how the run ends.
   */
  'run:finished': Base & { readonly workflowId: string; readonly status: RunStatus; readonly durationMs: number }
  'run:cancelling': Base & { readonly reason: string }
  'task:added': TaskBase & { readonly tool: string; readonly addedBy?: string; readonly forEachOf?: string }
  'task:ready': TaskBase
  'task:started': TaskBase & { readonly attempt: number; readonly tool: string }
  'task:progress': TaskBase & { readonly attempt: number; readonly progress: ToolProgress }
  'task:retrying': TaskBase & { readonly attempt: number; readonly delayMs: number; readonly error: SerializedError }
  'task:succeeded': TaskBase & { readonly attempt: number; readonly durationMs: number }
  'task:failed': TaskBase & { readonly attempt: number; readonly error: SerializedError }
  'task:skipped': TaskBase & { readonly reason: string }
  'task:cancelled': TaskBase & { readonly reason: string }
  /**
   * A task waits for its rate key: `reason` says which budget (`requests`, `tokens`, `attempts`,
   * `concurrency`, `paused` by an earlier 429, `queued` behind other calls) or `rate-limited` (its
   * call got a 429 and it goes back to ready without spending an attempt). `until` is the wall
   * time (epoch ms) the key is expected to allow it, when that is known.
   */
  'task:throttled': TaskBase & { readonly key: string; readonly reason: ThrottleReason; readonly until?: number; readonly bounces?: number }
  /**
   * This engine took over a durable run whose owner's lease had expired (`durability.takeOverEvery`):
   * it goes on here by replay, from what the journal holds.
   */
  'run:taken-over': Base & { readonly previousOwner: string; readonly leaseExpiredAt: number }
  /**
   * This engine could not resume a durable run (`resumeUnfinished`, `durability.resumeOnStart` or
   * `takeOverEvery`): its pinned definition names a tool the engine lacks, or its journal cannot
   * be read. The run stays unfinished in the store, its lease given back; reported once per run
   * and reason.
   */
  'run:resume-failed': Base & { readonly error: SerializedError }
  /**
   * A resumed run stopped, unfinished, because the outcome of `taskId`'s attempt `attempt` is
   * unknown and the task says `onUncertain: 'park'`: it waits for an operator to record what
   * happened (`engine.resolveParked()`, `taskweave resolve`). Its result follows, `cancelled`.
   */
  'run:parked': TaskBase & { readonly attempt: number; readonly reason: string }
  /** The run's budget (`budget.maxTokens` / `maxCostUsd`) is used up: no new LLM task starts. */
  'run:budget-exhausted': Base & { readonly reason: string; readonly usage: RunUsage }
  /**
   * The run store refuses the journal's writes past its quick retries (read-only, full,
   * unreachable): durable runs start nothing new until `store:available`, or stop after
   * `durability.storeOutageLimit`. `since` is the wall time (epoch ms) it began.
   */
  'store:unavailable': EngineBase & { readonly store: string; readonly error: string; readonly since: number }
  /** The run store takes writes again after `store:unavailable`: durable runs go on. */
  'store:available': EngineBase & { readonly store: string; readonly downMs: number }
  /** Load-aware scaling (`autoscale`) changed the engine's slot count. */
  'engine:scaled': EngineBase & {
    readonly from: number
    readonly to: number
    readonly reason: 'event-loop-lag' | 'memory' | 'healthy'
    readonly eventLoopLagMs: number
    readonly rssBytes: number
  }
}

/** Why a task waits for its rate key (see the `task:throttled` event). */
export type ThrottleReason = 'requests' | 'tokens' | 'attempts' | 'concurrency' | 'paused' | 'queued' | 'rate-limited'

/** Any event name. */
export type EventName = keyof EventMap

/** One event: its name in `type` plus its payload. */
export type TaskweaveEvent = { [K in EventName]: { readonly type: K } & EventMap[K] }[EventName]

/** The state a `task:*` event moves a task into (for views that track state from events). */
export const EVENT_TASK_STATUS: Readonly<Partial<Record<EventName, TaskStatus>>> = {
  'task:ready': 'ready',
  'task:started': 'running',
  'task:retrying': 'retrying',
  'task:succeeded': 'succeeded',
  'task:failed': 'failed',
  'task:skipped': 'skipped',
  'task:cancelled': 'cancelled',
}
